"""Pelvis sign conventions pinned with hand-made poses and signals (no simulator).

See ``docs/coordinate_systems.md``: obliquity = elevation of the right-to-left axis (``ml``),
positive when the left hip is higher; the drop of a ``left`` row is the rise of that axis during
the left stance, mirrored for ``right``.
"""

from __future__ import annotations

import numpy as np
import pytest

from dsp.block import SampleBlock, SensorInfo
from dsp.pelvis_alignment import estimate_pelvis_alignment
from dsp.pelvis_analyzer import PelvisAnalyzer
from dsp.pelvis_metrics import obliquity_at_rest_deg
from dsp.pelvis_orientation import stride_gravity_attitude
from tests.dsp.pelvis_synth import FACING_BACK, FACING_FRONT, pelvis_pose_acc, synth_pelvis_run

MOUNTS = {"facing_back": FACING_BACK, "facing_front": FACING_FRONT}


@pytest.mark.parametrize("mount", list(MOUNTS))
@pytest.mark.parametrize("obliquity", [4.0, -4.0, 0.0])
def test_static_pose_obliquity(mount: str, obliquity: float) -> None:
    # right hip 4 deg lower = rotation of +4 deg about ap = obliquity +4 (and mirrored)
    r_bs = MOUNTS[mount]
    acc_s = pelvis_pose_acc(obliquity, r_bs)
    assert obliquity_at_rest_deg(r_bs @ acc_s) == pytest.approx(obliquity, abs=1e-9)


def test_worked_example_from_the_docs() -> None:
    # "Pelvis with the right hip 4 deg lower than the left (rotation of +4 deg about ap):
    # obliquity +4 deg"; a sensor with R_bs = I reads 9.81 * (0, sin 4, cos 4)
    acc = pelvis_pose_acc(4.0, np.eye(3))
    assert acc == pytest.approx(
        9.80665 * np.array([0.0, np.sin(np.radians(4)), np.cos(np.radians(4))])
    )
    assert obliquity_at_rest_deg(acc) == pytest.approx(4.0)


@pytest.mark.parametrize("mount", list(MOUNTS))
def test_attitude_of_a_still_tilted_pelvis(mount: str) -> None:
    r_bs = MOUNTS[mount]
    fs = 100.0
    n = 600
    t = np.arange(n) / fs
    acc_b = np.tile(r_bs @ pelvis_pose_acc(-3.0, r_bs), (n, 1))
    gyr_b = np.zeros((n, 3))
    att = stride_gravity_attitude(t, acc_b, gyr_b, np.arange(0, n, 35))
    assert att is not None
    ml_w = att.apply(np.array([0.0, 1.0, 0.0]))
    obl = np.degrees(np.arcsin(ml_w[:, 2]))
    assert np.allclose(obl, -3.0, atol=1e-6)


@pytest.mark.parametrize("mount", list(MOUNTS))
def test_alignment_finds_the_mounting(mount: str) -> None:
    run = synth_pelvis_run(R_bs=MOUNTS[mount], n_steps=80)
    al = estimate_pelvis_alignment([(run.t, run.acc, run.gyr)], sampling_rate_hz=208.0)
    assert al.ok and al.standing and al.confidence > 0.9
    # R_bs estimated = the true body_from_sensor rotation
    err = al.R_bs @ run.R_bs.T
    ang = np.degrees(np.arccos(np.clip((np.trace(err) - 1) / 2, -1, 1)))
    assert ang < 1.0
    # rows are ap, ml, vt with ap x ml = vt
    assert np.cross(al.R_bs[0], al.R_bs[1]) == pytest.approx(al.R_bs[2], abs=1e-9)


def _analyse(run, fs: float = 208.0):
    info = SensorInfo("hip", "pelvis", "test", fs)
    pa = PelvisAnalyzer(info)
    rows = pa.feed(SampleBlock("hip", run.t, run.acc, run.gyr)).rows
    rows += pa.finish().rows
    return pa, rows


@pytest.mark.parametrize("mount", list(MOUNTS))
@pytest.mark.parametrize("drops", [(6.0, 3.0), (2.0, 7.0)])
@pytest.mark.parametrize("standing_s", [3.0, 0.0])
def test_drop_is_keyed_by_the_stance_foot(mount: str, drops, standing_s: float) -> None:
    run = synth_pelvis_run(
        R_bs=MOUNTS[mount],
        drop_left_deg=drops[0],
        drop_right_deg=drops[1],
        standing_s=standing_s,
    )
    pa, rows = _analyse(run)
    assert pa.summary()["baseline"] == ("standing" if standing_s else "running")
    assert len(rows) == run.t_ic.size
    for r, t_ic, side in zip(rows, run.t_ic, run.side, strict=True):
        assert r.t_ic == pytest.approx(t_ic, abs=0.006)
        assert r.side == side
        assert r.events_source == "pelvis"
    good = [r for r in rows if "rejected" not in r.flags and r.pelvic_drop is not None]
    left = np.median([r.pelvic_drop for r in good if r.side == "left"])
    right = np.median([r.pelvic_drop for r in good if r.side == "right"])
    assert left == pytest.approx(drops[0], abs=0.3)
    assert right == pytest.approx(drops[1], abs=0.3)
    s = pa.summary()
    assert s["pelvic_drop_asymmetry"] == pytest.approx(left - right, abs=1e-6)
    assert s["pelvic_drop_median"]["left"] == pytest.approx(left, abs=1e-6)


def test_bent_over_still_stretch_is_not_a_standing_reference() -> None:
    # standing bent forward by 45 deg (tying a shoe) before running: not the standing level
    run = synth_pelvis_run(standing_s=4.0, drop_left_deg=6.0, drop_right_deg=3.0)
    still = run.t < 3.5
    f_body = np.array([-np.sin(np.radians(45.0)), 0.0, np.cos(np.radians(45.0))]) * 9.80665
    run.acc[still] = run.R_bs.T @ f_body
    pa, _rows = _analyse(run)
    s = pa.summary()
    assert s["baseline"] == "running"
    assert "not used as standing reference" in pa.diagnostics()["alignment"]["reason"]
    assert s["pelvic_drop_median"]["left"] == pytest.approx(6.0, abs=0.3)
    assert s["pelvic_drop_median"]["right"] == pytest.approx(3.0, abs=0.3)
