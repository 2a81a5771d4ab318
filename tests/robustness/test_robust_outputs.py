"""Outputs and arguments: never write over an input, never leave a partial output, never
replace a recording without ``--force``, a full or read-only disk is one line and a valid file,
and bad numbers or addresses are refused at once (no hang, no internal error)."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
from pathlib import Path

import h5py
import numpy as np
import pytest

from .conftest import (
    assert_clean_failure,
    assert_no_crash,
    can_mount_tmpfs,
    leftovers,
    run_cli,
    sha256,
)

# --------------------------------------------------------------------- output over an input


@pytest.mark.parametrize(
    "argv",
    [
        ["analyze", "{a}", "--json", "{a}"],
        ["analyze", "{a}", "--strides", "{a}"],
        ["analyze", "{a}", "--parquet", "{a}"],
        ["analyze", "{a}", "--strides", "{link}"],
        ["analyze", "{a}", "--strides", "{hard}"],
        ["analyze", "{a}", "--strides", "{d}/s.csv", "--json", "{d}/s.csv"],
        ["report", "{a}", "--out", "{a}"],
        ["report", "{a}", "--out", "{d}/r.html", "--json", "{a}"],
        ["compare", "{a}", "{a}", "--out", "{a}"],
        ["compare", "{a}", "{a}", "--json", "{a}"],
    ],
    ids=lambda a: "-".join(x.strip("{}-/") for x in a),
)
def test_output_over_an_input_is_refused(argv: list[str], good: Path, tmp_path: Path) -> None:
    (tmp_path / "alias.h5").symlink_to(good)
    os.link(good, tmp_path / "hard.h5")
    names = {"a": str(good), "link": str(tmp_path / "alias.h5"), "hard": str(tmp_path / "hard.h5")}
    args = [x.format(d=tmp_path, **names) for x in argv]
    before = sha256(good)
    r = run_cli(args)
    assert_clean_failure(r, [good.name, "alias.h5", "hard.h5", "s.csv"])
    assert sha256(good) == before
    assert not (tmp_path / "s.csv").exists() and not (tmp_path / "r.html").exists()


# --------------------------------------------------------------------- atomic outputs


def test_failed_analyze_keeps_the_earlier_outputs(good: Path, tmp_path: Path) -> None:
    s_csv, s_json = tmp_path / "s.csv", tmp_path / "s.json"
    r = run_cli(["analyze", good, "--strides", s_csv, "--json", s_json])
    assert r.rc == 0, r.describe()
    old = (sha256(s_csv), sha256(s_json))
    bad = tmp_path / "bad.h5"
    bad.write_bytes(good.read_bytes())
    with h5py.File(bad, "r+") as f:
        f["sensors/pelvis/t"][3000] = 0.0  # not increasing: found when the analysis gets there
    r = run_cli(["analyze", bad, "--strides", s_csv, "--json", s_json])
    assert_clean_failure(r, [bad.name])
    assert (sha256(s_csv), sha256(s_json)) == old
    assert leftovers(tmp_path) == []


def test_killed_analyze_leaves_old_or_complete_outputs(good: Path, tmp_path: Path) -> None:
    s_csv = tmp_path / "s.csv"
    s_csv.write_text("OLD\n")
    complete = tmp_path / "ref.csv"
    r = run_cli(["analyze", good, "--strides", complete])
    assert r.rc == 0, r.describe()
    for after_s in (0.05, 0.3, 0.6):
        r = run_cli(["analyze", good, "--strides", s_csv], timeout_s=after_s)
        text = s_csv.read_text()
        assert text in ("OLD\n", complete.read_text()), "a partial CSV was left"
        for p in tmp_path.iterdir():  # a kill may leave a hidden temporary, never a partial
            if ".runform-tmp-" in p.name:
                p.unlink()


def test_record_and_simulate_never_replace_a_recording_without_force(
    good: Path, tmp_path: Path
) -> None:
    before = sha256(good)
    for argv in (
        ["record", "--simulate", "--duration", "1", "--out", good],
        ["simulate", "--duration", "5", "--out", good],
        ["live", "--simulate", "--out", good, "--exit-after", "1"],
    ):
        r = run_cli(argv)
        assert_clean_failure(r, [good.name])
        assert "--force" in r.stderr
        assert sha256(good) == before


def test_simulate_force_replaces_only_when_complete(good: Path, tmp_path: Path) -> None:
    r = run_cli(["simulate", "--duration", "5", "--rate", "104", "--out", good, "--force"])
    assert r.rc == 0, r.describe()
    with h5py.File(good, "r") as f:
        assert f["sensors/left_foot"].attrs["sample_rate_hz"] == 104.0
    assert leftovers(tmp_path) == []


def test_report_png_onto_an_existing_file(good: Path, tmp_path: Path) -> None:
    f = tmp_path / "figs"
    f.write_text("not a folder")
    r = run_cli(["report", good, "--out", tmp_path / "r.html", "--png", f])
    assert_clean_failure(r, ["figs"])
    assert f.read_text() == "not a folder"
    assert not (tmp_path / "r.html").exists()


# --------------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    "argv",
    [
        ["analyze", "{a}", "--json", "{d}/s.json", "--chunk-s", "inf"],
        ["analyze", "{a}", "--json", "{d}/s.json", "--chunk-s", "1e-6"],
        ["analyze", "{a}", "--json", "{d}/s.json", "--chunk-s", "nan"],
        ["record", "--simulate", "--rate", "0", "--out", "{d}/r.h5"],
        ["record", "--simulate", "--rate", "1e9", "--out", "{d}/r.h5"],
        ["record", "--simulate", "--scenario", "nope", "--out", "{d}/r.h5"],
        ["record", "--simulate", "--sim-speed", "inf", "--out", "{d}/r.h5"],
        ["record", "--simulate", "--duration", "nan", "--out", "{d}/r.h5"],
        ["live", "--simulate", "--rate", "1e9", "--no-record"],
        ["batch", "{a}", "--out", "{d}/b", "--scheduler", ""],
        ["replay", "{d}/missing.h5"],
    ],
    ids=lambda a: "-".join(x.strip("{}-/") for x in a[:1] + a[-2:]),
)
def test_bad_argument_is_one_line(argv: list[str], good: Path, tmp_path: Path) -> None:
    args = [x.format(d=tmp_path, a=good) for x in argv]
    r = run_cli(args, timeout_s=30)
    opts = [x for x in argv if x.startswith("--") and x not in ("--out", "--json", "--simulate")]
    assert_clean_failure(r, [*opts, "missing.h5"])
    assert not (tmp_path / "r.h5").exists()


def _serve(kind: str) -> tuple[int, threading.Event]:
    """A TCP server that says nothing (silent) or answers garbage."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    stop = threading.Event()
    conns = []

    def loop() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                c, _ = srv.accept()
            except OSError:
                continue
            conns.append(c)
            if kind == "garbage":
                c.sendall(b"\xff" * 64 + b"garbage" * 100)
        srv.close()
        for c in conns:
            c.close()

    threading.Thread(target=loop, daemon=True).start()
    return srv.getsockname()[1], stop


@pytest.mark.parametrize("kind", ["garbage", pytest.param("silent", marks=pytest.mark.slow)])
def test_batch_scheduler_that_is_not_one(kind: str, good: Path, tmp_path: Path) -> None:
    port, stop = _serve(kind)
    try:
        r = run_cli(
            ["batch", good, "--out", tmp_path / "b", "--scheduler", f"tcp://127.0.0.1:{port}",
             "--no-progress"],
            timeout_s=45,
        )  # fmt: skip
    finally:
        stop.set()
    assert_clean_failure(r, ["--scheduler"])


def test_replay_error_mid_file_is_one_line_not_exit_0(good: Path, tmp_path: Path) -> None:
    """A sample the reader refuses half-way through: replay says so once and fails."""
    bad = tmp_path / "bad.h5"
    good.rename(bad)
    with h5py.File(bad, "r+") as f:
        f["sensors/pelvis/acc"][2000] = np.nan
    r = run_cli(["replay", bad, "--speed", "16", "--exit-after", "4"], timeout_s=60)
    if r.rc == 0:  # NaN samples analysed as a gap (dsp, issue 16): fine, if quiet
        assert_no_crash(r)
    else:
        assert_clean_failure(r, [bad.name])


# --------------------------------------------------------------------- full and read-only disks


@pytest.fixture
def small_fs(tmp_path: Path):
    """A 3 MB tmpfs (root on Linux), else None."""
    if not can_mount_tmpfs():
        yield None
        return
    mnt = tmp_path / "fs"
    mnt.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)])
    if res.returncode != 0:
        yield None
        return
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)])


def _fill(folder: Path, leave: int) -> None:
    st = os.statvfs(folder)
    free = st.f_bavail * st.f_frsize
    with open(folder / "ballast", "wb") as fh:
        fh.write(b"\0" * max(0, free - leave))


def test_analyze_on_a_full_disk_keeps_old_outputs(good: Path, tmp_path: Path, small_fs) -> None:
    if small_fs is not None:
        out, limit = small_fs, None
        s_csv = out / "s.csv"
        s_csv.write_text("OLD\n")
        _fill(out, 4096)
    else:  # no tmpfs: the file size limit makes the same write fail (EFBIG)
        out, limit = tmp_path, 1000
        s_csv = out / "s.csv"
        s_csv.write_text("OLD\n")
    r = run_cli(["analyze", good, "--strides", s_csv, "--json", out / "s.json"], fsize_limit=limit)
    assert_clean_failure(r, ["s.csv", "s.json"])
    assert "disk full" in r.stderr or "file too large" in r.stderr
    assert s_csv.read_text() == "OLD\n" and not (out / "s.json").exists()
    assert leftovers(out) == []
    r = run_cli(["report", good, "--out", out / "r.html"], fsize_limit=limit)
    assert_clean_failure(r, ["r.html"])
    assert not (out / "r.html").exists() and leftovers(out) == []


@pytest.mark.parametrize("watch", [True, False], ids=["watch", "write-fails"])
def test_record_on_a_full_disk(watch: bool, tmp_path: Path, small_fs) -> None:
    """Stops with one line, exit 1, a valid file; no segfault, no temporary left."""
    if small_fs is not None:
        out, limit = small_fs / "r.h5", None
        _fill(small_fs, 800_000)
    elif watch:
        pytest.skip("the disk-space watch needs a small file system (tmpfs, root)")
    else:
        out, limit = tmp_path / "r.h5", 1_500_000
    r = run_cli(
        ["record", "--simulate", "--speed", "4", "--rate", "833", "--duration", "120", "--quiet",
         "--out", out, "--min-free-mb", "0.5" if watch else "0"],
        timeout_s=120,
        fsize_limit=limit,
    )  # fmt: skip
    assert r.rc == 1, r.describe()
    assert_no_crash(r)
    lines = [ln for ln in r.stderr.splitlines() if "stopped" in ln]
    assert len(lines) == 1 and out.name in lines[0], r.describe()
    assert "disk full" in lines[0] or "file size limit" in lines[0]
    with h5py.File(out, "r") as f:
        n = f["sensors/left_foot/t"].shape[0]
        assert n > 833, "less than a second recorded"
    v = run_cli(["info", "--check", out])
    assert v.rc == 0, v.describe()
    assert leftovers(out.parent) == []


@pytest.mark.parametrize("min_free_mb", ["32", "0"])
def test_record_under_a_file_size_limit(min_free_mb: str, tmp_path: Path) -> None:
    """`ulimit -f`: the recording stops below the limit with one line and a valid file (a
    write failing at the limit left HDF5 unable to close it: a truncated, unreadable file and a
    segfault); a limit too small for any recording is refused before it starts."""
    out = tmp_path / "r.h5"
    argv = ["record", "--simulate", "--speed", "4", "--rate", "833", "--duration", "120",
            "--quiet", "--out", out, "--min-free-mb", min_free_mb]  # fmt: skip
    r = run_cli(argv, timeout_s=120, fsize_limit=1_500_000)
    assert r.rc == 1, r.describe()
    assert_no_crash(r)
    lines = [ln for ln in r.stderr.splitlines() if "stopped" in ln]
    assert len(lines) == 1 and "file size limit reached" in lines[0], r.describe()
    assert os.path.getsize(out) <= 1_500_000
    with h5py.File(out, "r") as f:
        assert f["sensors/left_foot/t"].shape[0] > 5 * 833, "less than 5 s recorded"
    v = run_cli(["info", "--check", out])
    assert v.rc == 0, v.describe()
    assert leftovers(tmp_path) == []
    small = tmp_path / "small.h5"
    r = run_cli([*argv[:-3], small, *argv[-2:]], timeout_s=60, fsize_limit=300_000)
    assert_clean_failure(r, ["small.h5"])
    assert "ulimit -f" in r.stderr and not small.exists() and leftovers(tmp_path) == []


def test_simulate_under_a_file_size_limit(tmp_path: Path) -> None:
    """A written file that would pass `ulimit -f` is refused before HDF5 writes past it (it
    then could not close the file: a truncated file reported as written, and a bus error at
    exit); one that fits is written whole."""
    out = tmp_path / "sim.h5"
    argv = ["simulate", "--scenario", "easy", "--duration", "120", "--out", out]
    # (0.6 MB: the file takes about 0.9 MB however its flushes fall, so it never fits; at
    # 1 MB it fits or not depending on how the writer's flushes fell, both handled cleanly)
    r = run_cli(argv, fsize_limit=600_000)
    assert_clean_failure(r, ["sim.h5"])
    assert "file size limit" in r.stderr and not out.exists() and leftovers(tmp_path) == []
    # the writer keeps room for its pending data uncompressed (about 2.7 MB here, flushed at
    # once when the simulation is fast) plus a chunk per dataset: 6 MB leave enough
    r = run_cli(argv, fsize_limit=6_000_000)
    assert r.rc == 0, r.describe()
    assert_no_crash(r)
    v = run_cli(["info", "--check", out])
    assert v.rc == 0, v.describe()
    with h5py.File(out, "r") as f:  # written whole (not a file of 0 samples)
        assert f["sensors/left_foot/t"].shape[0] == 120 * 208


@pytest.mark.parametrize("watch", [True, False], ids=["watch", "write-fails"])
def test_live_on_a_full_disk(watch: bool, tmp_path: Path, small_fs, monkeypatch) -> None:
    """`runform live`: the recording stops with one line, the window runs on, exit 0."""
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    if small_fs is not None:
        out, limit = small_fs / "live.h5", None
        _fill(small_fs, 800_000)
    elif watch:
        pytest.skip("the disk-space watch needs a small file system (tmpfs, root)")
    else:
        out, limit = tmp_path / "live.h5", 1_500_000
    r = run_cli(
        ["live", "--simulate", "--sim-speed", "4", "--rate", "833", "--mute", "--exit-after", "12",
         "--out", out, "--min-free-mb", "0.5" if watch else "0"],
        timeout_s=180,
        fsize_limit=limit,
    )  # fmt: skip
    assert r.rc == 0, r.describe()
    assert_no_crash(r)
    lines = [ln for ln in r.stderr.splitlines() if "recording stopped at" in ln]
    assert len(lines) == 1 and lines[-1].startswith("runform live: "), r.describe()
    assert out.name in lines[-1] and "file kept" in lines[-1]
    assert "disk full" in lines[-1] or "file size limit" in lines[-1]
    stopped_at = float(lines[-1].split("recording stopped at ")[1].split(" s,")[0])
    assert 1.0 < stopped_at < 40.0, r.describe()  # stopped mid-way, the session went on
    with h5py.File(out, "r") as f:
        assert f["sensors/left_foot/t"].shape[0] > 833, "less than a second recorded"
    v = run_cli(["info", "--check", out])
    assert v.rc == 0, v.describe()
    assert leftovers(out.parent) == []


def test_output_on_a_read_only_file_system(good: Path, tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    mounted = False
    if can_mount_tmpfs():
        mounted = (
            subprocess.run(
                ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(ro)]
            ).returncode
            == 0
        )
    if not mounted:
        if os.geteuid() == 0:
            pytest.skip("cannot make a read-only folder here")
        ro.chmod(0o555)
    try:
        for argv in (
            ["analyze", good, "--json", ro / "s.json"],
            ["report", good, "--out", ro / "r.html"],
            ["compare", good, good, "--json", ro / "c.json"],
            ["simulate", "--duration", "5", "--out", ro / "x.h5"],
            ["record", "--simulate", "--duration", "1", "--quiet", "--out", ro / "x.h5"],
        ):
            r = run_cli(argv)
            assert_clean_failure(r, ["s.json", "r.html", "x.h5", "c.json"])
            assert "read-only" in r.stderr or "permission" in r.stderr.lower()
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(ro)])
        else:
            ro.chmod(0o755)
