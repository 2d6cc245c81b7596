"""What every Snakemake script of the workflow calls first: ``log_to_file(snakemake)``.

From that call on, everything the job prints lands in the rule's log file: stdout, stderr,
``logging`` records, warnings, the output of child processes (file descriptors 1 and 2 are
redirected, not only Python's ``sys.stdout``) and, when the script fails, the full traceback. The
terminal gets one line naming the error and the log, so "check log" always finds the cause.

    from scsigmoid.script import log_to_file

    sm = snakemake
    log_to_file(sm)           # or: with log_to_file(sm): ...  (same effect, block-structured)
"""

from __future__ import annotations

import logging
import os
import sys
import traceback


class _Redirected:
    """Returned by :func:`log_to_file`; usable as a context manager (flushes on leaving)."""

    def __enter__(self) -> _Redirected:
        return self

    def __exit__(self, *exc) -> bool:
        sys.stdout.flush()
        sys.stderr.flush()
        return False


def _ours_or_warnings(record: logging.LogRecord) -> bool:
    """INFO records of the script and the suite; only warnings and errors of other libraries
    (fontTools alone logs hundreds of INFO lines per PDF)."""
    return (record.levelno >= logging.WARNING or record.name == "root"
            or record.name.split(".")[0] in ("scsigmoid", "sigattn", "__main__"))


def log_to_file(smk) -> _Redirected:
    """Send this process's output, logging and uncaught-exception traceback to ``smk.log[0]``
    (for the rest of the process). A rule without a log keeps the terminal."""
    if not smk.log:
        return _Redirected()
    path = str(smk.log[0])
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    terminal = os.fdopen(os.dup(2), "w", buffering=1)
    # O_APPEND: children and other handles on the same log write at its end, never over each other
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o666)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout.reconfigure(line_buffering=True)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(_ours_or_warnings)
    rule = getattr(smk, "rule", "script")

    def excepthook(etype, value, tb):
        sys.stderr.write("".join(traceback.format_exception(etype, value, tb)))
        sys.stderr.flush()
        terminal.write(f"{rule}: {etype.__name__}: {value}\n  full traceback in {path}\n")

    sys.excepthook = excepthook
    return _Redirected()
