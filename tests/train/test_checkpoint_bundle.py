"""Checkpoint bundles: what a GPU machine returns and a CPU user unpacks into train.checkpoints."""

import json

import numpy as np
import pytest
import torch

from scsigmoid.data.corpus import TokenCorpus
from scsigmoid.train.bundle import MANIFEST, main, pack, unpack
from scsigmoid.train.experiments import SAME_RUN_MIN_COSINE, check_checkpoint, embed_run
from scsigmoid.train.trainer import TrainConfig, load_checkpoint, train

RUNS = ["tiny_32_softmax_s0", "tiny_32_sigmoid_s0"]


@pytest.fixture(scope="module")
def trained(corpus_path, tmp_path_factory):
    root = tmp_path_factory.mktemp("ckpt")
    for run in RUNS:
        train(TrainConfig(corpus=str(corpus_path), out_dir=str(root / "runs" / run), checkpoint_dir=str(root / run),
                          size="tiny", context=32, attention=run.split("_")[2], steps=3, batch_size=4,
                          lr=3e-3, device="cpu"))
    return root


def _outputs(model, corpus_path):
    corpus = TokenCorpus(str(corpus_path))
    cells = [torch.as_tensor(corpus.cell(i, 32)) for i in range(4)]
    n = min(len(c) for c in cells)
    inputs = torch.stack([c[:n] for c in cells])
    with torch.no_grad():
        return model(inputs, torch.full((4,), n))[0]


def test_packed_runs_unpack_into_checkpoints_that_embed_like_the_bf16_weights(trained, corpus_path, tmp_path):
    manifest = pack(RUNS, trained, tmp_path / "bundle", part_bytes=40_000)
    for run in RUNS:
        parts = manifest["runs"][run]["parts"]
        assert len(parts) > 1 and all((tmp_path / "bundle" / p["file"]).stat().st_size <= 40_000 for p in parts)
        assert manifest["runs"][run]["xz_bytes"] < manifest["runs"][run]["bf16_bytes"]
    assert json.loads((tmp_path / "bundle" / MANIFEST).read_text())["dtype"] == "bfloat16"
    paths = unpack(tmp_path / "bundle", tmp_path / "root")
    assert sorted(paths) == sorted(tmp_path / "root" / run / "last.pt" for run in RUNS)
    for run in RUNS:
        original = load_checkpoint(trained / run / "last.pt")
        rounded = load_checkpoint(trained / run / "last.pt")
        rounded.load_state_dict({k: v.to(torch.bfloat16).float() if v.is_floating_point() else v
                                 for k, v in rounded.state_dict().items()})
        unpacked = load_checkpoint(tmp_path / "root" / run / "last.pt")
        assert unpacked.cfg == original.cfg
        out = _outputs(unpacked, corpus_path)
        assert torch.equal(out, _outputs(rounded, corpus_path))  # the bf16 weights, exactly
        assert torch.allclose(out, _outputs(original, corpus_path), rtol=0.05, atol=0.05)  # near fp32


def test_unpacked_weights_are_told_from_another_run_by_their_embeddings(trained, corpus_path, tmp_path):
    """check_checkpoint (train_check_checkpoint's check): the bf16 bundle of the run that made a
    committed embedding passes; a run of another seed, and a reference of other cells, are refused
    with what to do."""
    pack(RUNS, trained, tmp_path / "bundle")
    unpack(tmp_path / "bundle", tmp_path / "root")
    corpus = dict(corpus_dir=str(corpus_path.parent), dataset=corpus_path.name, context=32)
    ref = embed_run(checkpoint=str(trained / RUNS[0] / "last.pt"), corpus_dir=str(corpus_path.parent),
                    datasets=[corpus_path.name], context=32, out_dir=str(tmp_path / "ref"), views=["mean"])[0]
    stats = check_checkpoint(checkpoint=str(tmp_path / "root" / RUNS[0] / "last.pt"), reference_npz=str(ref),
                             n_cells=40, **corpus)
    assert stats["cells"] == 40 and stats["cosine_min"] >= SAME_RUN_MIN_COSINE
    # another seed of the same arm (the pair's two arms share seed 0 and 3 steps: too alike to tell)
    other = tmp_path / "other"
    train(TrainConfig(corpus=str(corpus_path), out_dir=str(other / "run"), checkpoint_dir=str(other), size="tiny",
                      context=32, attention="softmax", steps=3, batch_size=4, lr=3e-3, device="cpu", seed=1))
    with pytest.raises(ValueError, match=r"is not the run whose embeddings are committed .*\(branch `checkpoints`"):
        check_checkpoint(checkpoint=str(other / "last.pt"), reference_npz=str(ref), **corpus)
    with np.load(ref) as npz:
        np.savez(tmp_path / "other_cells.npz", cell_id=npz["cell_id"][::-1], mean=npz["mean"][::-1])
    with pytest.raises(ValueError, match="holds other cells .* tokenise the dataset the sheet names"):
        check_checkpoint(checkpoint=str(tmp_path / "root" / RUNS[0] / "last.pt"),
                         reference_npz=str(tmp_path / "other_cells.npz"), **corpus)


def test_a_damaged_or_missing_part_is_named_and_nothing_is_written(trained, tmp_path):
    pack(RUNS[:1], trained, tmp_path / "b", part_bytes=40_000)
    part = tmp_path / "b" / f"{RUNS[0]}.pt.xz.part-001"
    data = bytearray(part.read_bytes())
    data[100] ^= 0xFF
    part.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"part-001: sha256 or size differs .* fetch the bundle again"):
        unpack(tmp_path / "b", tmp_path / "root")
    assert not (tmp_path / "root" / RUNS[0] / "last.pt").exists()
    part.unlink()
    with pytest.raises(FileNotFoundError, match=r"part-001 is missing from the bundle"):
        unpack(tmp_path / "b", tmp_path / "root")
    with pytest.raises(KeyError, match="no run nope"):
        unpack(tmp_path / "b", tmp_path / "root", runs=["nope"])
    with pytest.raises(FileNotFoundError, match="not a checkpoint bundle"):
        unpack(tmp_path, tmp_path / "root")


def test_pack_works_from_a_process_running_openmp_threads(tmp_path):
    """Workers forked from a process whose OpenMP threads torch has started hang on their first
    parallel op (pack's did, in CI's long pytest process): pack must not fork."""
    torch.ones(2000, 2000) @ torch.ones(2000, 2000)  # starts this process's OpenMP threads
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
        torch.save({"model": {"w": torch.randn(2048, 1024)}, "model_config": {}}, tmp_path / run / "last.pt")
    manifest = pack(["a", "b"], tmp_path, tmp_path / "bundle", preset=0)
    assert manifest["runs"]["b"]["params"] == 2048 * 1024


def test_pack_names_the_runs_without_a_checkpoint(trained, tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match="no checkpoint for small_4096_softmax_s0"):
        pack(["small_4096_softmax_s0"], trained, tmp_path / "b")
    main(["pack", RUNS[0], "--checkpoint-root", str(trained), "--out", str(tmp_path / "c")])
    assert f"{RUNS[0]}: " in capsys.readouterr().out and (tmp_path / "c" / MANIFEST).exists()
