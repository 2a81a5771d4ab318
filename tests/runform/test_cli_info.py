"""`runform info` and the CLI's one-line error contract, run as a user would (subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np

from dsp.block import SampleBlock, SensorInfo
from recordings import RecordingWriter


def _runform(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runform", *args], capture_output=True, text=True, timeout=120
    )


def _small_recording(path: Path) -> None:
    sensors = [
        SensorInfo("left_foot", "left_foot", "movesense", 208.0, 16.0, 2000.0, "2.1"),
        SensorInfo("pelvis", "pelvis", "simulated", 104.0),
    ]
    with RecordingWriter(path, sensors, notes="ChiRunning drills, week 2") as w:
        for s in sensors:
            n = int(10 * s.sample_rate_hz)
            t = np.arange(n) / s.sample_rate_hz
            seq = np.arange(n, dtype=np.uint32)
            keep = (seq < 300) | (seq >= 312)
            w.append(
                SampleBlock(
                    s.sensor_id,
                    t[keep],
                    np.zeros((keep.sum(), 3)),
                    np.zeros((keep.sum(), 3)),
                    seq=seq[keep],
                )
            )
        w.add_gap("left_foot", 300 / 208, 312 / 208)
        w.add_marker(4.25, "started midfoot drill", "user")


def test_info_lists_everything(tmp_path: Path) -> None:
    path = tmp_path / "run.h5"
    _small_recording(path)
    res = _runform("info", str(path))
    assert res.returncode == 0, res.stderr
    out = res.stdout
    for needle in (
        "left_foot",
        "pelvis",
        "movesense",
        "208",
        "104",
        "ChiRunning drills, week 2",
        "started midfoot drill",
        "4.250",
        "markers: 1",
    ):
        assert needle in out, needle
    lf_row = next(line for line in out.splitlines() if "movesense" in line)
    # 2080 samples minus 12 lost, 12 lost by the counter, 1 gap
    assert "2068" in lf_row and " 12 " in lf_row and " 1 " in lf_row


def test_bad_input_is_one_line_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "foreign.h5"
    with h5py.File(bad, "w") as f:
        f["x"] = [1.0]
    for args in (("info", str(bad)), ("info", str(tmp_path / "missing.h5"))):
        res = _runform(*args)
        assert res.returncode == 2
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
        assert args[1] in lines[0]


def test_version_is_printed():
    from runform import __version__

    res = _runform("--version")
    assert res.returncode == 0
    assert res.stdout.strip() == f"runform {__version__}"


def test_analyze_imports_only_what_it_needs(tmp_path):
    """Start-up time counts (``runform analyze`` of a short trial is mostly start-up): a plain
    analysis without a progress bar imports no rich, asyncio or importlib.metadata."""
    ex = Path(__file__).parents[2] / "recordings" / "examples" / "chirunning_example.h5"
    run = (
        f"rc = main(['analyze', {str(ex)!r}, '--strides', {str(tmp_path / 's.csv')!r}, "
        f"'--json', {str(tmp_path / 's.json')!r}, '--no-progress'])\n"
        "assert rc == 0\n"
    )
    heavy = ("rich", "asyncio", "importlib.metadata", "pandas", "scipy")
    assert _modules_imported_by(run, heavy) == []
    assert (tmp_path / "s.csv").stat().st_size > 0


def _modules_imported_by(run: str, prefixes: tuple[str, ...]) -> list[str]:
    """The modules starting with one of ``prefixes`` that a fresh interpreter has imported
    after ``from runform.cli import main`` and the code ``run``."""
    code = (
        "import contextlib, io, sys\n"
        "from runform.cli import main\n"
        f"{run}"
        f"print(sorted(m for m in sys.modules if m.startswith({prefixes!r})))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1].replace("'", '"'))


def test_version_and_help_import_no_simulator_scipy_or_h5py(monkeypatch) -> None:
    """``runform --version`` / ``--help`` took 1.2 s: building every subcommand's options
    imported the simulator (scipy.signal, 0.7 s) and ``info`` imported h5py. Only the command
    run builds its options; the listing stays the full parser's."""
    run = (
        "for argv in (['--version'], ['--help'], []):\n"
        "    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "        main(argv)\n"
    )
    assert _modules_imported_by(run, ("scipy", "h5py", "firmware_bridge.simulator")) == []
    # the same listing as the parser with every subcommand's options
    from runform.cli import build_parser

    monkeypatch.setenv("COLUMNS", "100")  # the same width here and in the subprocess
    help_text = _runform("--help")
    assert help_text.returncode == 0, help_text.stderr
    full = build_parser()
    full.prog = "runform"
    assert help_text.stdout == full.format_help()
    simulate = _runform("simulate", "--help")
    assert "easy, chirunning" in " ".join(simulate.stdout.split()), simulate.stdout


def test_info_says_when_a_recording_has_no_sensor(tmp_path: Path) -> None:
    # before: an empty 'sensors' table with its header only, no word
    path = tmp_path / "none.h5"
    _small_recording(path)
    with h5py.File(path, "r+") as f:
        for sid in list(f["sensors"]):
            del f["sensors"][sid]
    res = _runform("info", str(path))
    assert res.returncode == 0, res.stderr
    assert "sensors: none" in res.stdout, res.stdout
    assert "┃ sensor" not in res.stdout, res.stdout


def test_info_check_lists_a_damaged_counter_instead_of_failing_on_it(tmp_path: Path) -> None:
    """A damaged chunk of a sensor's ``seq`` (the device counter): ``info`` and ``info
    --check`` both stopped at it with 'the file is damaged (`runform info --check` lists every
    damaged part)', so --check sent the user to itself and listed nothing (analyze reads the
    file, the part as a gap). info now shows the table with the lost count unknown and --check
    lists the part."""
    from firmware_bridge.simulator import simulate_session

    rec = tmp_path / "r.h5"
    simulate_session("easy", duration_s=30, seed=1, truth=False).write(rec)
    with h5py.File(rec, "r") as f:
        info = f["sensors/left_foot/seq"].id.get_chunk_info(0)
        n = f["sensors/left_foot/seq"].chunks[0]
    data = bytearray(rec.read_bytes())
    for k in range(8):
        data[info.byte_offset + info.size // 3 + 7 * k] ^= 1 << k
    rec.write_bytes(bytes(data))
    res = _runform("info", str(rec))
    assert res.returncode == 0, res.stderr
    row = next(line for line in res.stdout.splitlines() if "│ left_foot" in line)
    assert "damaged" in row, res.stdout
    assert "info --check" in res.stdout and "Traceback" not in res.stderr
    res = _runform("info", "--check", str(rec))
    assert res.returncode == 1, res.stderr
    assert f"damaged: /sensors/left_foot/seq: samples 0-{n - 1} unreadable" in res.stdout, (
        res.stdout + res.stderr
    )
    assert "info --check` lists" not in res.stderr, res.stderr
    # the reader leaves out a damaged part of t as a gap: the check no longer says it stops
    check = next(line for line in res.stdout.splitlines() if line.startswith("check:"))
    assert "stops" not in check and "reads them as gaps" in check, check
