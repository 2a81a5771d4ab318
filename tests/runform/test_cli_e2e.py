"""End-to-end rough edges of the command line found by using it as a new user would."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import pytest

from firmware_bridge.simulator import simulate_session
from runform.cli import main


@pytest.fixture(scope="module")
def easy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("e2e") / "easy.h5"
    simulate_session("easy", duration_s=30, rate_hz=104, seed=3, truth=False).write(path)
    return path


def _emptied(src: Path, dst: Path, sensor_ids: list[str] | None = None) -> Path:
    """A copy of ``src`` whose sensors (all, or ``sensor_ids``) hold zero samples."""
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        for sid in sensor_ids or list(f["sensors"]):
            g = f["sensors"][sid]
            for name in ("t", "acc", "gyr", "seq"):
                if name in g:
                    g[name].resize(0, axis=0)
    return dst


@pytest.mark.parametrize("command", ["analyze", "report", "export"])
def test_a_recording_without_samples_is_one_line_not_an_empty_result(
    command: str, easy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rec = _emptied(easy, tmp_path / "empty.h5")
    out = {
        "analyze": ["--json", str(tmp_path / "s.json")],
        "report": ["--out", str(tmp_path / "r.html")],
        "export": ["--fit", str(tmp_path / "r.fit")],
    }[command]
    code = main([command, str(rec), *out])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = [ln for ln in err.splitlines() if "error" in ln]
    assert len(lines) == 1, err
    assert "empty.h5" in lines[0] and "no samples" in lines[0], lines[0]
    assert not list(tmp_path.glob("s.json")) + list(tmp_path.glob("r.*"))


def test_one_empty_sensor_is_named_as_empty(
    easy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rec = _emptied(easy, tmp_path / "no_pelvis.h5", ["pelvis"])
    code = main(["analyze", str(rec), "--json", str(tmp_path / "s.json")])
    err = capsys.readouterr().err
    assert code == 0, err
    line = next(ln for ln in err.splitlines() if ln.startswith("pelvis:"))
    assert "no samples" in line, line
    assert "foot" not in line, line  # not "could not be aligned to the foot"


def test_no_sensor_to_analyse_names_the_file(
    easy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rec = tmp_path / "none.h5"
    shutil.copy(easy, rec)
    with h5py.File(rec, "r+") as f:
        for sid in list(f["sensors"]):
            del f["sensors"][sid]
    code = main(["analyze", str(rec)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "none.h5" in err and "no sensor" in err, err


def _one_error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if "error" in ln]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.timeout(60)
def test_compare_refuses_an_absurd_number_of_resamples(
    easy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 10^8 resamples ran for hours without a word (the bootstrap is linear in them)
    argv = ["compare", str(easy), str(easy), "--json", str(tmp_path / "c.json")]
    code = main([*argv, "--resamples", "100000000"])
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2
    assert "--resamples" in line and "100000" in line, line
    assert not (tmp_path / "c.json").exists()


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--seed", "-1"], ["--seed", "-1"]),
        (["--duration", "1e9"], ["--duration", "at most"]),
    ],
)
def test_simulate_names_the_bad_option(
    argv: list[str], words: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sim.h5"
    code = main(["simulate", "--out", str(out), "--no-progress", *argv])
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2, line
    for w in words:
        assert w in line, line
    assert not out.exists()


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--show", "left_foot,nosuch"], ["--show", "nosuch", "left_foot, pelvis, right_foot"]),
        (["--at", "99999"], ["--at", "99999", "30"]),
        (["--at", "-5"], ["--at", "-5"]),
    ],
)
def test_replay_refuses_what_the_recording_does_not_have(
    argv: list[str],
    words: list[str],
    easy: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # before: the window opened on an empty plot (an unknown id) or at the end of the file
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    code = main(["replay", str(easy), "--mute", "--exit-after", "0.5", *argv])
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2, line
    for w in words:
        assert w in line, line
