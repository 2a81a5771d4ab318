"""Pelvis analysis against the simulator's ground truth, streaming equivalence, fusion, bad input.

Tolerances are those of issue 6: pelvic drop MAE <= 1.0 deg, vertical oscillation MAE <= 1 cm,
>= 98 % of the steps found with no false ones, stance side >= 98 % from the pelvis alone.
"""

from __future__ import annotations

import numpy as np
import pytest

from dsp.block import SampleBlock, SensorInfo
from dsp.errors import AnalysisError
from dsp.pelvis_analyzer import PelvisAnalyzer
from dsp.session import SessionAnalyzer
from firmware_bridge.simulator import simulate_session
from firmware_bridge.simulator.eval_pelvis import run_pelvis_only, score_pelvis

CASES = [
    # rate, standing_s, mounting, drops (left, right stance), cadence, packet loss
    (208.0, 5.0, "sacrum", (8.0, 4.0), 170.0, 0.0),
    (50.0, 0.0, "pelvis_front", (4.0, 8.0), 150.0, 0.0),
    (833.0, 0.0, "random", (8.0, 4.0), 190.0, 0.0),
    (104.0, 5.0, "pelvis_upside_down", (6.0, 6.0), 165.0, 0.02),
]


def _check(sc, *, side_min: float = 0.98) -> None:
    assert sc.found >= 0.98, sc
    assert sc.false == 0, sc
    assert sc.side >= side_min, sc
    assert sc.drop_mae <= 1.0, sc
    assert sc.vo_mae <= 1.0, sc
    assert sc.n_drop >= 0.95 * sc.n_truth, sc


@pytest.mark.parametrize("rate,standing,mount,drops,cadence,loss", CASES)
def test_accuracy_against_simulator(rate, standing, mount, drops, cadence, loss) -> None:
    sim = simulate_session(
        "easy",
        duration_s=60.0,
        rate_hz=rate,
        seed=11,
        sensors=("pelvis",),
        standing_s=standing,
        mounting={"pelvis": mount},
        pelvic_drop_deg=drops,
        cadence_spm=cadence,
        packet_loss=loss,
    )
    pa, rows = run_pelvis_only(sim)
    sc = score_pelvis(rows, sim.truth, t_end=sim.blocks["pelvis"].t_end)
    _check(sc)
    s = pa.summary()
    assert s["baseline"] == ("standing" if standing else "running")
    assert s["events_source"] == "pelvis"
    assert s["pelvic_drop_asymmetry"] == pytest.approx(drops[0] - drops[1], abs=1.0)
    assert s["cadence_median"] == pytest.approx(cadence, rel=0.03)
    assert all(r.events_source == "pelvis" for r in rows)


def _random_chunks(sim, rng, n_cuts: int = 30) -> list[SampleBlock]:
    pieces = {}
    for sid, b in sim.blocks.items():
        cuts = np.sort(rng.choice(np.arange(1, len(b)), n_cuts, replace=False))
        pieces[sid] = [
            b.slice(a, c) for a, c in zip(np.r_[0, cuts], np.r_[cuts, len(b)], strict=True)
        ]
    out = []
    while any(pieces.values()):
        sid = rng.choice(sorted(k for k, v in pieces.items() if v))
        out.append(pieces[sid].pop(0))
    return out


def _session_rows(sim, blocks, *, all_rows: bool = False):
    sa = SessionAnalyzer(sim.sensors)
    rows = []
    for b in blocks:
        rows += sa.feed(b).rows
    rows += sa.finish().rows
    pel = [r for r in rows if r.sensor_id == "pelvis"]
    return (sa, pel, rows) if all_rows else (sa, pel)


@pytest.mark.parametrize("rate,loss", [(208.0, 0.01), (50.0, 0.08), (416.0, 0.03)])
def test_streaming_equivalence_pelvis_only(rate: float, loss: float) -> None:
    # 8 % lost packets at 50 Hz: gaps both bridged and splitting segments; at 416 Hz the
    # analysis runs at 208 Hz (pairs of samples: a pair open at a block's end waits)
    sim = simulate_session(
        "easy", duration_s=70.0, rate_hz=rate, seed=4, sensors=("pelvis",), packet_loss=loss
    )
    _, whole = run_pelvis_only(sim)
    rng = np.random.default_rng(1)
    ref = [r.as_record() for r in whole]
    assert len(ref) > 150
    for _ in range(3):
        _, rows = _session_rows(sim, _random_chunks(sim, rng, n_cuts=int(rng.integers(5, 80))))
        assert [r.as_record() for r in rows] == ref


@pytest.fixture(scope="module")
def three_sensor_sim():
    return simulate_session("chirunning", duration_s=60.0, rate_hz=208.0, seed=5)


def test_fusion_with_foot_events(three_sensor_sim) -> None:
    sim = three_sensor_sim
    sa, rows, everything = _session_rows(sim, sim.iter_blocks(30.0), all_rows=True)
    sc = score_pelvis(rows, sim.truth, t_end=sim.blocks["pelvis"].t_end)
    _check(sc, side_min=1.0)
    fused = [r for r in rows if r.events_source == "feet"]
    assert len(fused) >= 0.95 * len(rows)
    s = sa.summary()["pelvis"]
    assert s["events_source"] == "feet"
    assert s["pelvic_drop_median"]["left"] > s["pelvic_drop_median"]["right"] + 2.0
    # fused timing is the feet's: the same IC as the foot row of that side
    foot = {(r.side, r.t_ic): r for r in everything if r.sensor_id != "pelvis"}
    for r in fused:
        f = foot[(r.side, r.t_ic)]
        assert r.t_to == f.t_to
        assert r.stride_time == f.stride_time
    # streaming equivalence with the feet interleaved in random blocks
    _, rows2 = _session_rows(sim, _random_chunks(sim, np.random.default_rng(7)))
    assert [r.as_record() for r in rows2] == [r.as_record() for r in rows]


def test_pelvis_alone_in_a_three_sensor_recording_matches_fusion_sides(three_sensor_sim) -> None:
    sim = three_sensor_sim
    _, rows = run_pelvis_only(sim)
    sc = score_pelvis(rows, sim.truth, t_end=sim.blocks["pelvis"].t_end)
    _check(sc)


def test_a_foot_sensor_labelled_pelvis_is_reported() -> None:
    sim = simulate_session("easy", duration_s=40.0, rate_hz=208.0, seed=2, sensors=("left_foot",))
    b = sim.blocks["left_foot"]
    pa = PelvisAnalyzer(SensorInfo("hip", "pelvis", "sim", 208.0))
    rows = [*pa.feed(SampleBlock("hip", b.t, b.acc, b.gyr)).rows, *pa.finish().rows]
    assert rows == []
    assert "like a shoe" in pa.summary()["problem"]
    assert "is it on a foot" in pa.diagnostics()["problem"]


def test_walking_steps_are_walking_rows_not_rejected_running_contacts() -> None:
    # walking has no flight phase: its steps come from dsp.pelvis_walk (tests/test_pelvis_walk)
    sim = simulate_session("walk", duration_s=40.0, rate_hz=208.0, seed=2, sensors=("pelvis",))
    pa, rows = run_pelvis_only(sim)
    assert len(rows) >= 0.95 * len(sim.truth["steps"])
    assert {r.activity for r in rows} == {"walk"}
    assert not [r for r in rows if "rejected" in r.flags]
    assert "problem" not in pa.summary()


def test_wrong_sample_rate_is_a_clear_error() -> None:
    sim = simulate_session("easy", duration_s=10.0, rate_hz=208.0, seed=2, sensors=("pelvis",))
    b = sim.blocks["pelvis"]
    pa = PelvisAnalyzer(SensorInfo("pelvis", "pelvis", "sim", 100.0))
    with pytest.raises(AnalysisError, match="sample_rate_hz is 100 Hz"):
        pa.feed(b)


def test_not_a_pelvis_placement() -> None:
    with pytest.raises(AnalysisError, match="not the pelvis"):
        PelvisAnalyzer(SensorInfo("lf", "left_foot", "sim", 100.0))


@pytest.mark.slow
def test_accuracy_matrix() -> None:
    from scripts.accuracy_matrix_pelvis import run_matrix

    results = run_matrix(duration_s=60.0, quick=False)
    for res in results:
        _check(res["score"])


def test_known_mounting_skips_the_estimation() -> None:
    sim = simulate_session(
        "easy",
        duration_s=40.0,
        rate_hz=104.0,
        seed=6,
        sensors=("pelvis",),
        standing_s=0.0,
        pelvic_drop_deg=(8.0, 4.0),
    )
    r = tuple(map(tuple, sim.truth["sensors"]["pelvis"]["R_body_from_sensor"]))
    pa = PelvisAnalyzer(sim.sensors[0], R_bs=r)
    rows = [*pa.feed(sim.blocks["pelvis"]).rows, *pa.finish().rows]
    assert pa.diagnostics()["alignment"]["reason"] == "given"
    assert pa.summary()["baseline"] == "running"
    _check(score_pelvis(rows, sim.truth, t_end=sim.blocks["pelvis"].t_end))


def _by_time(rec: dict) -> tuple:
    return rec["t_ic"], rec["side"]


def test_without_traces_the_rows_are_the_same() -> None:
    """``PelvisSettings.traces`` off (``runform analyze``): the same rows, early rows and
    flags, running and walking, in any chunking; only the traces are left out."""
    sim = simulate_session(
        "easy",
        duration_s=100.0,
        rate_hz=104.0,
        seed=6,
        sensors=("pelvis",),
        truth=False,
        program=(("stand", 5.0), ("run", 45.0), ("walk", 40.0), ("stand", 10.0)),
    )
    info = sim.sensors[0]
    got = {}
    for traces in (True, False):
        for chunk_s in (None, 3.7):
            pa = PelvisAnalyzer(info, traces=traces)
            res = [pa.feed(b) for b in sim.iter_blocks(chunk_s or 1e9)] + [pa.finish()]
            # (in time order: where a run turns into a walk, the walking and the last running
            # rows come out in an order that depends on the block sizes)
            rows = sorted((r.as_record() for x in res for r in x.rows), key=_by_time)
            early = sorted((r.as_record() for x in res for r in x.early_rows), key=_by_time)
            n_traces = sum(len(x.traces) for x in res)
            got[traces, chunk_s] = (rows, early, n_traces)
    rows, early, n_traces = got[True, None]
    assert {r["activity"] for r in rows} == {"run", "walk"}
    assert n_traces > 0.8 * len(rows)
    for (traces, _), (r, e, n) in got.items():
        assert r == rows and e == early
        assert n == (n_traces if traces else 0)


def test_a_fast_pelvis_sensor_is_analysed_at_about_200_hz() -> None:
    """At 400 Hz and more the pelvis is analysed at 200-300 Hz (means of consecutive samples,
    no delay): the same steps and, within the simulator's tolerances, the same values as the
    same motion at 208 Hz."""
    from dsp.pelvis_analyzer import decimation_factor

    assert [decimation_factor(r) for r in (50.0, 208.0, 399.0, 400.0, 833.0, 1666.0)] == [
        1,
        1,
        1,
        2,
        4,
        8,
    ]
    kw = dict(duration_s=40.0, seed=3, sensors=("pelvis",), standing_s=5.0)
    fast = simulate_session("easy", rate_hz=832.0, **kw)
    slow = simulate_session("easy", rate_hz=208.0, **kw)
    pa_fast, rows_fast = run_pelvis_only(fast)
    _, rows_slow = run_pelvis_only(slow)
    assert pa_fast.fs == pytest.approx(208.0)
    assert len(rows_fast) == len(rows_slow) > 60
    for a, b in zip(rows_fast, rows_slow, strict=True):
        assert a.side == b.side
        assert a.t_ic == pytest.approx(b.t_ic, abs=0.006)
        assert a.pelvic_drop == pytest.approx(b.pelvic_drop, abs=0.3)
    _check(score_pelvis(rows_fast, fast.truth, t_end=fast.blocks["pelvis"].t_end))
