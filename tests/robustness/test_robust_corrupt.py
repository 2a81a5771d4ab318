"""Damaged files: truncation, bit flips and zeroed blocks, through every reading command.

Each damaged copy goes through ``info``, ``info --check`` and ``analyze`` (and, in the full
run, ``report`` and ``compare``): each either succeeds with correct output or fails with one
line naming the file; nothing hangs, crashes or prints a traceback, and the damaged file itself
is never changed. A fast sample runs by default; ``-m slow`` runs the whole family.
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest

from .conftest import assert_clean_failure, assert_no_crash, leftovers, run_cli, sha256

FAST_TRUNCATE = (0.05, 0.5, 0.97)
SLOW_TRUNCATE = tuple(round(0.03 * k, 2) for k in range(1, 34))
FAST_FLIPS = (1, 7)
SLOW_FLIPS = tuple(range(100, 160))
FAST_ZERO = (3,)
SLOW_ZERO = tuple(range(200, 230))


def _cases() -> list:
    out = []
    for frac in SLOW_TRUNCATE:
        marks = () if frac in FAST_TRUNCATE else (pytest.mark.slow,)
        out.append(pytest.param("truncate", frac, marks=marks, id=f"truncate-{frac}"))
    for f in FAST_TRUNCATE:
        if f not in SLOW_TRUNCATE:
            out.append(pytest.param("truncate", f, id=f"truncate-{f}"))
    for seed in FAST_FLIPS + SLOW_FLIPS:
        marks = () if seed in FAST_FLIPS else (pytest.mark.slow,)
        out.append(pytest.param("flip", seed, marks=marks, id=f"flip-{seed}"))
    for seed in FAST_ZERO + SLOW_ZERO:
        marks = () if seed in FAST_ZERO else (pytest.mark.slow,)
        out.append(pytest.param("zero", seed, marks=marks, id=f"zero-{seed}"))
    return out


def damage(src: Path, dst: Path, kind: str, arg: float) -> None:
    data = bytearray(src.read_bytes())
    if kind == "truncate":
        data = data[: int(len(data) * arg)]
    elif kind == "flip":  # 8 bits flipped at random places
        rng = random.Random(int(arg))
        for _ in range(8):
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
    elif kind == "zero":  # one 4 KiB block zeroed
        rng = random.Random(int(arg))
        i = rng.randrange(0, max(1, len(data) - 4096))
        data[i : i + 4096] = bytes(4096)
    dst.write_bytes(bytes(data))


def check_analyze_outputs(folder: Path) -> None:
    with open(folder / "s.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows and rows[0][:2] == ["sensor_id", "side"], rows[:1]
    json.loads((folder / "s.json").read_text(encoding="utf-8"))


def run_commands(path: Path, good: Path, *, full: bool) -> int:
    """Every reading command on ``path``; returns how many runs were checked."""
    folder = path.parent
    before = sha256(path)
    runs = 0
    r = run_cli(["info", path])
    runs += 1
    if r.rc == 0:
        assert_no_crash(r)
        assert "sensors" in r.stdout, r.describe()
    else:
        assert_clean_failure(r, [path.name])
    r = run_cli(["info", "--check", path])
    runs += 1
    if r.rc == 1 and "damaged" in r.stdout:  # found and listed the damaged parts
        assert_no_crash(r)
        assert path.name in r.stdout
    elif r.rc != 0:
        assert_clean_failure(r, [path.name])
    r = run_cli(["analyze", path, "--strides", folder / "s.csv", "--json", folder / "s.json"])
    runs += 1
    if r.rc == 0:
        assert_no_crash(r)
        check_analyze_outputs(folder)
    else:
        assert_clean_failure(r, [path.name])
        assert not (folder / "s.csv").exists() and not (folder / "s.json").exists()
    if full:
        r = run_cli(["report", path, "--out", folder / "r.html"])
        runs += 1
        if r.rc == 0:
            assert_no_crash(r)
            assert (folder / "r.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
        else:
            assert_clean_failure(r, [path.name])
        r = run_cli(["compare", path, good, "--json", folder / "c.json"])
        runs += 1
        if r.rc != 0:
            assert_clean_failure(r, [path.name])
        else:
            assert_no_crash(r)
    assert sha256(path) == before, "the input file changed"
    assert leftovers(folder) == []
    return runs


@pytest.mark.parametrize(("kind", "arg"), _cases())
def test_damaged_file_through_every_command(
    kind: str, arg: float, good: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    bad = tmp_path / f"{kind}-{arg}.h5"
    damage(good, bad, kind, arg)
    full = request.node.get_closest_marker("slow") is not None
    run_commands(bad, good, full=full)
