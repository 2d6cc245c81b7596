"""Resumable, checksummed downloads against a loopback HTTP server."""

import hashlib
import http.server
import threading

import pytest

from scsigmoid.data.download import DownloadError, cellxgene_h5ad_url, download, resolve_source

PAYLOAD = bytes(range(256)) * 400  # 100 KiB stand-in for an .h5ad


class Handler(http.server.BaseHTTPRequestHandler):
    requests_seen: list = []
    break_first = False  # first full response: send half the body, then drop the connection

    def log_message(self, *args):
        pass

    def do_GET(self):
        cls = type(self)
        cls.requests_seen.append((self.path, self.headers.get("Range")))
        if self.path.startswith("/curation/v1/datasets/"):
            body = (b'{"assets": [{"filetype": "RDS", "url": "x"}, {"filetype": "H5AD", '
                    b'"url": "http://example.org/d.h5ad"}]}')
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        start = 0
        rng = self.headers.get("Range")
        if rng:
            start = int(rng.split("=")[1].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
        else:
            self.send_response(200)
        body = PAYLOAD[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if cls.break_first:
            cls.break_first = False
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


@pytest.fixture
def server():
    Handler.requests_seen = []
    Handler.break_first = False
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


SHA = hashlib.sha256(PAYLOAD).hexdigest()


def test_normal_download_records_checksum(server, tmp_path):
    dest = download(f"{server}/d.h5ad", tmp_path / "d.h5ad")
    assert dest.read_bytes() == PAYLOAD
    assert (tmp_path / "d.h5ad.sha256").read_text().strip() == SHA
    assert not (tmp_path / "d.h5ad.part").exists()


def test_broken_transfer_resumes_with_range(server, tmp_path):
    Handler.break_first = True
    dest = download(f"{server}/d.h5ad", tmp_path / "d.h5ad", sha256=SHA)
    assert dest.read_bytes() == PAYLOAD
    ranges = [r for _, r in Handler.requests_seen]
    assert len(ranges) == 2 and ranges[0] is None
    resumed_at = int(ranges[1].removeprefix("bytes=").rstrip("-"))
    assert 0 < resumed_at <= len(PAYLOAD) // 2  # what arrived before the drop was kept


def test_partial_file_from_earlier_run_is_resumed(server, tmp_path):
    (tmp_path / "d.h5ad.part").write_bytes(PAYLOAD[:1000])
    download(f"{server}/d.h5ad", tmp_path / "d.h5ad", sha256=SHA)
    assert Handler.requests_seen == [("/d.h5ad", "bytes=1000-")]


def test_checksum_mismatch_leaves_no_file(server, tmp_path):
    with pytest.raises(DownloadError, match="does not match the expected"):
        download(f"{server}/d.h5ad", tmp_path / "d.h5ad", sha256="0" * 64)
    assert list(tmp_path.iterdir()) == []


def test_cached_rerun_makes_no_request(server, tmp_path):
    download(f"{server}/d.h5ad", tmp_path / "d.h5ad")
    n = len(Handler.requests_seen)
    download(f"{server}/d.h5ad", tmp_path / "d.h5ad")
    download(f"{server}/d.h5ad", tmp_path / "d.h5ad", sha256=SHA)
    assert len(Handler.requests_seen) == n


def test_corrupted_cache_is_reported(server, tmp_path):
    download(f"{server}/d.h5ad", tmp_path / "d.h5ad")
    (tmp_path / "d.h5ad").write_bytes(b"tampered")
    with pytest.raises(DownloadError, match="delete it"):
        download(f"{server}/d.h5ad", tmp_path / "d.h5ad")


def test_http_error_names_url(server, tmp_path):
    Handler_do = Handler.do_GET

    def not_found(self):
        self.send_response(404)
        self.end_headers()

    Handler.do_GET = not_found
    try:
        with pytest.raises(DownloadError, match="HTTP 404"):
            download(f"{server}/missing.h5ad", tmp_path / "m.h5ad")
    finally:
        Handler.do_GET = Handler_do


def test_cellxgene_url_from_curation_api(server):
    url = cellxgene_h5ad_url("09971952-46c4-410c-8fb1-0afa7b0b225f", api=f"{server}/curation/v1")
    assert url == "http://example.org/d.h5ad"


def test_resolve_https_source_caches(server, tmp_path):
    path = resolve_source(f"{server}/d.h5ad", data_dir=tmp_path, name="toy")
    assert path == tmp_path / "cache" / "toy.h5ad" and path.read_bytes() == PAYLOAD
