"""Pelvis early rows: the pelvic drop from a causal attitude, known once the stance has ended."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dsp.orientation import quat_multiply
from dsp.pelvis_analyzer import PelvisAnalyzer
from dsp.pelvis_early import causal_stance, causal_stances
from dsp.pelvis_orientation import quat_from_rotvec, quat_rotate, stride_corrections
from firmware_bridge.simulator import simulate_session
from firmware_bridge.simulator.eval_pelvis import score_pelvis


def _run(sim, chunk_s):
    """Pelvis alone: rows and early rows, each with the data time it was released at."""
    info = next(s for s in sim.sensors if s.placement == "pelvis")
    pa = PelvisAnalyzer(info)
    rows, early = [], []
    blocks = sim.iter_blocks(chunk_s) if chunk_s else [sim.blocks[info.sensor_id]]
    for b in blocks:
        if b.sensor_id != info.sensor_id:
            continue
        res = pa.feed(b)
        t = float(b.t[-1]) if len(b) else -math.inf
        rows += [(r, t) for r in res.rows]
        early += [(r, t) for r in res.early_rows]
    res = pa.finish()
    rows += [(r, math.inf) for r in res.rows]
    early += [(r, math.inf) for r in res.early_rows]
    return pa, rows, early


@pytest.fixture(scope="module")
def lossy():
    return simulate_session(
        "easy", duration_s=50, rate_hz=104, seed=4, packet_loss=0.05, sensors=("pelvis",)
    )


def test_causal_stance_uses_no_data_after_the_toe_off():
    sim = simulate_session("easy", duration_s=40, rate_hz=208, seed=1, sensors=("pelvis",))
    info = sim.sensors[0]
    pa = PelvisAnalyzer(info)
    pa.feed(sim.blocks[info.sensor_id])  # the buffers of the open segment
    assert pa._seg is not None
    ev, smp = pa._seg.contacts, pa._seg.samples
    base = smp.base
    j = len(ev.ic) // 2
    ics = ev.ic[j - 5 : j + 1] - base
    i_to = int(ev.to[j]) - base
    args = (smp.t, smp.acc.copy(), smp.q.copy(), smp.cs.copy(), ics)
    ref = causal_stance(*args, i_to)
    assert ref is not None and ref.n_strides == 4
    for a in args[1:4]:
        a[i_to + 1 :] = 1e3 * np.random.default_rng(0).standard_normal(a[i_to + 1 :].shape)
    assert causal_stance(*args, i_to) == ref
    # a contact whose history has too few contacts has no causal attitude
    assert causal_stance(smp.t, smp.acc, smp.q, smp.cs, ics[-2:], i_to) is None


def _one_by_one(t, acc, q, cs, ics, i_to, ic):
    """The per-contact computation written out plainly (module docstring steps 1-3)."""
    ics = np.asarray(ics)
    a, b = ics[:-2], ics[2:]
    qref = q[ic] * np.array([-1.0, -1.0, -1.0, 1.0])
    sums = quat_rotate(np.broadcast_to(qref, (a.size, 4)), cs[b] - cs[a])
    centres, rv, _ = stride_corrections(t, sums, a, b)
    r = np.arange(ic, max(i_to, ic) + 1)
    if centres.size >= 2:
        x = centres - centres[-1]
        fit = np.polyfit(x, rv, 1)  # per component: slope, intercept
        erv = fit[1] + (t[r] - centres[-1])[:, None] * fit[0]
    else:
        erv = np.broadcast_to(rv[-1], (r.size, 3))
    qr = quat_multiply(np.broadcast_to(qref, (r.size, 4)), q[r])
    rw = quat_multiply(
        quat_from_rotvec(np.ascontiguousarray(erv)), qr / np.linalg.norm(qr, axis=1)[:, None]
    )
    ml = quat_rotate(rw, np.array([0.0, 1.0, 0.0]))
    obl = np.degrees(np.arcsin(ml[:, 2]))
    f = quat_rotate(rw, acc[r])
    lat = (f[:, :2] * ml[:, :2]).sum(axis=1) / np.linalg.norm(ml[:, :2], axis=1)
    return obl.max(), obl.min(), obl.mean(), lat.mean(), centres.size


def test_batched_stances_equal_one_contact_and_any_grouping():
    """All contacts in one pass: each equals its own computation (to rounding), and the values
    are bit-identical however the contacts are grouped and ordered."""
    sim = simulate_session("easy", duration_s=40, rate_hz=208, seed=3, sensors=("pelvis",))
    info = sim.sensors[0]
    pa = PelvisAnalyzer(info)
    pa._trim = lambda epoch_lo: None  # type: ignore[method-assign]  # keep every contact's data
    pa.feed(sim.blocks[info.sensor_id])
    assert pa._seg is not None
    ev, smp = pa._seg.contacts, pa._seg.samples
    base = smp.base
    assert base == 0 and len(ev.ic) > 60
    ic, to = (ev.ic - base).tolist(), (ev.to - base).tolist()
    jobs = []
    for j in range(8, min(len(ic), 60)):
        k = j % 4  # histories of 6, 5, 4 and 3 contacts
        jobs.append((ic[j - 5 + k : j + 1], to[j], ic[j]))
    # strides across a missed contact (dropped against the median, between usable ones), the
    # fallback form (the stance before the last contact) and too few contacts
    jobs.append((ic[20:24] + ic[25:28], to[27], ic[27]))
    jobs.append((ic[30:33], to[30], ic[30]))
    jobs.append((ic[40:42], to[41], ic[41]))
    buf = (smp.t, smp.acc, smp.q, smp.cs)
    got = causal_stances(*buf, jobs)
    assert got[-1] is None and all(g is not None for g in got[:-1])
    assert got[-3].n_strides == 3 and got[-2].n_strides == 1  # type: ignore[union-attr]
    for (ics, i_to, i_ic), g in zip(jobs[:-1], got[:-1], strict=True):
        ref = _one_by_one(*buf, ics, i_to, i_ic)
        assert g is not None
        np.testing.assert_allclose(
            (g.obl_max, g.obl_min, g.obl_mean, g.lat_mean), ref[:4], rtol=0, atol=1e-9
        )
        assert g.n_strides == ref[4]
        assert causal_stance(*buf, np.array(ics), i_to, i_ic=i_ic) == g
    rng = np.random.default_rng(0)
    for _ in range(3):
        order = rng.permutation(len(jobs))
        cuts = np.sort(rng.choice(np.arange(1, len(jobs)), size=5, replace=False))
        again: dict[int, object] = {}
        for part in np.split(order, cuts):
            res = causal_stances(*buf, [jobs[i] for i in part])
            again.update(zip(part.tolist(), res, strict=True))
        assert [again[i] for i in range(len(jobs))] == got


def test_early_drop_is_out_before_the_same_foots_next_contact():
    """Fed only up to 0.8 stride after a contact, the analyzer has already released that
    contact's early row, with the drop (and side) of the full analysis."""
    sim = simulate_session("easy", duration_s=45, rate_hz=104, seed=2, sensors=("pelvis",))
    _, rows, _ = _run(sim, 0.05)
    full = {r.t_ic: r for r, _ in rows}
    info = sim.sensors[0]
    for r in [r for r, _ in rows if r.t_ic > 30 and r.stride_time][:6:2]:
        pa = PelvisAnalyzer(info)
        got = []
        block = sim.blocks[info.sensor_id]
        cut = int(np.searchsorted(block.t, r.t_ic + 0.8 * r.stride_time))
        for b in (block.slice(0, cut // 2), block.slice(cut // 2, cut)):
            got += pa.feed(b).early_rows
        e = {x.t_ic: x for x in got}[r.t_ic]
        assert (e.side, e.pelvic_drop) == (full[r.t_ic].side, full[r.t_ic].pelvic_drop)
        assert e.pelvic_drop is not None


def test_lost_packets_early_equals_final_and_any_chunking(lossy):
    """5 % packet loss: steps after a lost burst wait for a stride after it, yet every row has
    its early row with the same values, and the block sizes change nothing."""
    pa, rows, early = _run(lossy, 0.05)
    assert [r.t_ic for r, _ in early] == [r.t_ic for r, _ in rows]
    for (e, te), (r, tr) in zip(early, rows, strict=True):
        assert (e.side, e.pelvic_drop) == (r.side, r.pelvic_drop)
        assert te <= tr
    assert pa._early.counts.orphans == 0
    assert pa._early.counts.waiting > 5  # the lost bursts do make some wait
    ref = [(r.t_ic, r.side, r.pelvic_drop) for r, _ in early]
    for chunk in (1.7, None):
        _, _, got = _run(lossy, chunk)
        assert [(r.t_ic, r.side, r.pelvic_drop) for r, _ in got] == ref
    sc = score_pelvis([r for r, _ in rows], lossy.truth, t_end=lossy.truth["duration_s"])
    assert sc.side == 1.0 and sc.drop_mae < 0.4


def test_early_latency_after_lost_packets(lossy):
    """5 % packet loss (a lost burst every 1.5 s or so): most steps still come within a stride
    (pelvis alone: about half a stride); a step waiting for a stride after a burst within about
    one and a half, and the steps after it with it (the early rows go out in order)."""
    _, rows, early = _run(lossy, 0.05)
    t_e = {r.t_ic: t for r, t in early}
    lat = np.array(
        [(t_e[r.t_ic] - r.t_ic) / r.stride_time for r, _ in rows if r.t_ic > 25 and r.stride_time]
    )
    assert lat.size > 50
    assert np.median(lat) < 0.7
    assert np.percentile(lat, 75) < 1.6


def test_alert_engine_routes_only_the_pelvic_drop_to_pelvis_early_rows():
    """Pelvis rules on other metrics (vertical oscillation) still read the rows."""
    from dsp.alerts import PELVIS_EARLY_KEYS, AlertEngine, load_profile
    from dsp.block import SensorInfo
    from dsp.contact import ContactRow

    assert PELVIS_EARLY_KEYS == ("pelvic_drop",)
    prof = load_profile(
        {
            "rule": [
                {"name": "drop", "metric": "pelvic_drop", "side": "each", "above": 6.0},
                {"name": "bounce", "metric": "vertical_oscillation", "above": 9.0},
            ]
        }
    )
    sensors = [
        SensorInfo(sensor_id="p", placement="pelvis", device_model="sim", sample_rate_hz=100.0)
    ]
    rows = []
    for k in range(6):
        r = ContactRow(sensor_id="p", side="left" if k % 2 == 0 else "right", t_ic=0.35 * k)
        r.pelvic_drop, r.vertical_oscillation = 8.0, 10.0
        rows.append(r)
    eng = AlertEngine(prof, sensors=sensors, early=True)
    got = eng.feed(rows) + eng.finish()
    assert [a.rule for a in got] == ["bounce"]
    eng = AlertEngine(prof, sensors=sensors, early=True)
    got = eng.feed([], early=rows) + eng.finish()
    assert sorted((a.rule, a.side) for a in got) == [("drop", "left"), ("drop", "right")]
    eng = AlertEngine(prof, sensors=sensors)  # without early rows: from the rows, as before
    got = eng.feed(rows) + eng.finish()
    assert sorted(a.rule for a in got) == ["bounce", "drop", "drop"]
