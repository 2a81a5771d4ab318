"""Shared machinery of the robustness suite: run ``runform`` as a user would, on bad inputs.

Every case runs one command in its own process (forked by a fork server that has the heavy
imports loaded and no test-runner threads; a crash, a hang or a stray traceback affects that
one process only),
with a time limit, a limit on its memory (an attempt to allocate without bound fails fast), and
stdout/stderr captured at the file-descriptor level (C libraries' messages included). A case
passes if the command either succeeds with correct output, or fails with exactly one error line
that names the file, and in both cases no input file changed (hashes before and after), no
traceback was printed, and no temporary file was left behind.

Self-contained on purpose (imports only numpy, h5py and the ``runform`` command line), so the
same files can be run against an older checkout to show what failed there.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import multiprocessing
import multiprocessing.context
import os
import resource
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

#: Most seconds one command may take on these small files before it counts as a hang.
TIMEOUT_S = 60.0
#: Address-space limit of each command, bytes (an unbounded allocation fails, not swaps).
MEMORY_LIMIT = 6 << 30


@dataclass
class Run:
    argv: list[str]
    rc: int | None  # exit status; None if killed by a signal or the time limit
    signal: int | None
    timed_out: bool
    stdout: str
    stderr: str
    seconds: float

    def describe(self) -> str:
        return (
            f"runform {' '.join(self.argv)} -> rc={self.rc} signal={self.signal} "
            f"timed_out={self.timed_out} ({self.seconds:.1f} s)\n--- stdout:\n{self.stdout[-3000:]}"
            f"\n--- stderr:\n{self.stderr[-3000:]}"
        )


#: Modules the fork server imports once, so that each run starts warm.
PRELOAD = ["runform.cli", "runform.analysis_run", "runform.report", "runform.commands.analyze"]
_CTX: multiprocessing.context.ForkServerContext | None = None


def _context() -> multiprocessing.context.ForkServerContext:
    """A fork server: a clean process (no test-runner threads or locks) that forks each run."""
    global _CTX
    if _CTX is None:
        os.environ.setdefault("MPLBACKEND", "Agg")
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)
        _CTX = ctx
    return _CTX


def _child(
    argv: list[str], cwd: str | None, fsize_limit: int | None, out_path: str, err_path: str
) -> None:
    """Body of one run: behave like a fresh ``runform`` process, then exit with its status."""
    code = 1
    try:
        out_fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        err_fd = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        os.close(out_fd)
        os.close(err_fd)
        sys.stdout = open(1, "w", closefd=False)
        sys.stderr = open(2, "w", closefd=False)
        sys.unraisablehook = sys.__unraisablehook__
        threading.excepthook = threading.__excepthook__
        root = logging.getLogger()
        for h in list(root.handlers):
            root.removeHandler(h)
        root.setLevel(logging.WARNING)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
        if fsize_limit is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize_limit, fsize_limit))
        os.environ["RUNFORM_WORKERS"] = "1"
        if cwd is not None:
            os.chdir(cwd)
        from runform.cli import main

        code = main(argv)
    except SystemExit as exc:  # argparse
        code = exc.code if isinstance(exc.code, int) else 2
    except BaseException:  # a real process would print it and exit 1
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        try:
            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def run_cli(
    argv: Sequence[str],
    *,
    cwd: str | os.PathLike[str] | None = None,
    timeout_s: float = TIMEOUT_S,
    fsize_limit: int | None = None,
) -> Run:
    """Run ``runform ARGV`` in its own process; see the module doc."""
    args = [str(a) for a in argv]
    with tempfile.TemporaryDirectory(prefix="runform-robust-") as d:
        out_path, err_path = os.path.join(d, "out"), os.path.join(d, "err")
        Path(out_path).touch()
        Path(err_path).touch()
        t0 = time.monotonic()
        proc = _context().Process(
            target=_child,
            args=(args, None if cwd is None else os.fspath(cwd), fsize_limit, out_path, err_path),
        )
        proc.start()
        proc.join(timeout_s)
        timed_out = proc.is_alive()
        if timed_out:
            proc.kill()
            proc.join()
        seconds = time.monotonic() - t0
        code = proc.exitcode
        proc.close()
        stdout = Path(out_path).read_bytes().decode("utf-8", "replace")
        stderr = Path(err_path).read_bytes().decode("utf-8", "replace")
    sig = -code if code is not None and code < 0 else None
    rc = code if code is not None and code >= 0 else None
    if timed_out:
        sig, rc = None, None
    log = os.environ.get("RUNFORM_ROBUST_LOG")
    if log:  # one line per run, for the counts in docs/reliability.md
        import json

        rec = {"command": args[0], "rc": rc, "signal": sig, "timed_out": timed_out}
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(rec) + "\n")
    return Run(args, rc, sig, timed_out, stdout, stderr, seconds)


def sha256(path: str | os.PathLike[str]) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def hashes(paths: Iterable[str | os.PathLike[str]]) -> dict[str, str]:
    return {str(p): sha256(p) for p in paths if Path(p).is_file()}


#: What Qt's headless ("offscreen") platform plugin prints for every window; not runform's
#: output, and absent on a real display.
QT_OFFSCREEN_NOISE = "This plugin does not support propagateSizeHints()"


def error_lines(stderr: str) -> list[str]:
    """stderr lines that are not log warnings (which may precede an error)."""
    return [
        ln
        for ln in stderr.splitlines()
        if ln.strip() and not ln.startswith(("WARNING ", "INFO ")) and ln != QT_OFFSCREEN_NOISE
    ]


def assert_clean_failure(run: Run, names: Sequence[str]) -> None:
    """Non-zero exit, exactly one error line, naming one of ``names``; no traceback."""
    assert not run.timed_out, "hang: " + run.describe()
    assert run.signal is None, "crash: " + run.describe()
    assert run.rc not in (None, 0), run.describe()
    assert "Traceback" not in run.stderr and "Exception ignored" not in run.stderr, run.describe()
    lines = error_lines(run.stderr)
    assert len(lines) == 1, "expected one error line: " + run.describe()
    assert "internal error" not in lines[0], run.describe()
    assert any(n in lines[0] for n in names), f"the line names none of {names}: " + run.describe()
    assert "\x1b" not in run.stderr and "\x1b" not in run.stdout, run.describe()


def assert_no_crash(run: Run) -> None:
    assert not run.timed_out, "hang: " + run.describe()
    assert run.signal is None, "crash: " + run.describe()
    assert "Traceback" not in run.stderr and "Exception ignored" not in run.stderr, run.describe()
    assert "internal error" not in run.stderr, run.describe()


def leftovers(folder: str | os.PathLike[str]) -> list[str]:
    """Temporary files a command left behind in ``folder``."""
    return sorted(
        p.name
        for p in Path(folder).iterdir()
        if ".runform-tmp-" in p.name or p.name.endswith((".compact.tmp", ".runform-reserve"))
    )


@pytest.fixture(scope="session")
def base_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 30 s simulated run at 208 Hz (two HDF5 chunks per dataset) and its analysis."""
    d = tmp_path_factory.mktemp("robust-base")
    run = run_cli(
        ["simulate", "--scenario", "easy", "--duration", "30", "--rate", "208", "--out",
         d / "good.h5"]
    )  # fmt: skip
    assert run.rc == 0, run.describe()
    return d


@pytest.fixture
def good(base_dir: Path, tmp_path: Path) -> Path:
    """A fresh copy of the good recording in this test's folder."""
    p = tmp_path / "good.h5"
    p.write_bytes((base_dir / "good.h5").read_bytes())
    return p


def can_mount_tmpfs() -> bool:
    return sys.platform.startswith("linux") and os.geteuid() == 0 and Path("/proc/mounts").exists()
