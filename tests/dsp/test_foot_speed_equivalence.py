"""The vectorised foot kinematics and metrics: same results as one window at a time.

The foot analyzer computes the metrics of all the contacts finished by a block in one
vectorised pass (:func:`dsp.foot_metrics.contact_metrics_batch` over
:func:`dsp.orientation.integrate_windows`). Rows must not depend on which contacts share a
pass (streaming = batch, bit for bit), and the integration must still be the strapdown method of
:class:`dsp.orientation.StrideKinematics` (checked here against a plain per-sample loop).
"""

from __future__ import annotations

import itertools
import statistics

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

import dsp.foot_analyzer as foot_analyzer_mod
from dsp.block import SampleBlock
from dsp.contact import CONTACT_KEYS
from dsp.foot_analyzer import FootAnalyzer
from dsp.foot_events import ContactEvents
from dsp.foot_metrics import MetricSettings, contact_metrics, contact_metrics_batch
from dsp.orientation import StrideKinematics, integrate_windows, pack_windows, tilt_matrix

G = 9.80665


def _random_windows(rng: np.random.Generator, k: int):
    wins, a, b = [], [], []
    for i in range(k):
        n = int(rng.integers(60, 420))
        t = np.cumsum(rng.uniform(0.0023, 0.0027, n))
        acc = rng.normal(0.0, 15.0, (n, 3)) + np.array([0.0, 0.0, G])
        gyr = rng.normal(0.0, 250.0, (n, 3))
        ai = int(rng.integers(0, 30))
        wins.append((t, acc, gyr))
        a.append(ai)
        b.append(int(rng.integers(ai + 20, n)) if i % 3 else -1)
    return wins, np.array(a), np.array(b)


@pytest.mark.parametrize("work_efficient", [False, True])
@pytest.mark.parametrize("half_window", [0, 2, 5])
def test_integrate_windows_does_not_depend_on_the_other_windows(half_window, work_efficient):
    rng = np.random.default_rng(half_window)
    wins, a, b = _random_windows(rng, 24)
    kw = {"still_half_window": half_window, "work_efficient": work_efficient}
    together = integrate_windows(*pack_windows(wins), a, b, **kw)
    for i, w in enumerate(wins):
        alone = integrate_windows(*pack_windows([w]), a[i : i + 1], b[i : i + 1], **kw)
        n = w[0].shape[0]
        for name in ("rot", "vel", "pos"):
            x = getattr(together, name)[..., i, :n]
            y = getattr(alone, name)[..., 0, :n]
            assert np.array_equal(x, y, equal_nan=True), (i, name)
        assert np.array_equal(together.tilt_error_deg[i : i + 1], alone.tilt_error_deg, True)


def _reference_fit(t, acc, gyr, a, b, h):
    """Per-sample loop with scipy rotations: the method of StrideKinematics, written plainly."""
    n = t.shape[0]
    q = [Rotation.identity()]
    for k in range(1, n):
        rv = np.radians(0.5 * (gyr[k] + gyr[k - 1])) * (t[k] - t[k - 1])
        q.append(q[-1] * Rotation.from_rotvec(rv))  # body-frame increment
    r0 = Rotation.from_matrix(tilt_matrix(acc[max(0, a - h) : a + h + 1].mean(axis=0)))
    rot = [r0 * q[a].inv() * qk for qk in q]
    if b is None:
        return np.stack([r.as_matrix() for r in rot]), None, None
    up = rot[b].apply(acc[max(0, b - h) : b + h + 1].mean(axis=0))
    up /= np.linalg.norm(up)
    axis = np.cross(up, [0.0, 0.0, 1.0])
    angle = np.arctan2(np.linalg.norm(axis), up[2])
    axis /= np.linalg.norm(axis)
    frac = np.clip((t - t[a]) / (t[b] - t[a]), 0.0, None)
    rot = [Rotation.from_rotvec(f * angle * axis) * r for f, r in zip(frac, rot, strict=True)]
    # velocity by the trapezoid rule from zero at a, drift removed linearly to zero at b
    aw = np.stack([rot[k].apply(acc[k]) for k in range(a, b + 1)]) - [0.0, 0.0, G]
    v = np.zeros_like(aw)
    for k in range(1, aw.shape[0]):
        v[k] = v[k - 1] + 0.5 * (aw[k] + aw[k - 1]) * (t[a + k] - t[a + k - 1])
    v -= ((t[a : b + 1] - t[a]) / (t[b] - t[a]))[:, None] * v[-1]
    p = np.zeros(3)
    for k in range(1, v.shape[0]):
        p = p + 0.5 * (v[k] + v[k - 1]) * (t[a + k] - t[a + k - 1])
    return np.stack([r.as_matrix() for r in rot]), p, np.degrees(angle)


@pytest.mark.parametrize("with_b", [False, True])
def test_stride_kinematics_matches_a_per_sample_loop(with_b):
    rng = np.random.default_rng(7)
    fs = 400.0
    n = 300
    t = np.arange(n) / fs + 0.0001 * rng.random(n)
    acc = rng.normal(0.0, 8.0, (n, 3)) + np.array([1.0, -0.5, G])
    gyr = np.cumsum(rng.normal(0.0, 40.0, (n, 3)), axis=0)
    a, b = 40, (260 if with_b else None)
    kin = StrideKinematics(sampling_rate_hz=fs).fit(t, acc, gyr, a, b)
    rot, p, tilt = _reference_fit(t, acc, gyr, a, b, round(0.005 * fs))
    assert np.abs(kin.rot_ - rot).max() < 1e-9
    if with_b:
        assert kin.pos_[b] == pytest.approx(p, abs=1e-9)
        assert kin.tilt_error_deg_ == pytest.approx(tilt, abs=1e-9)
        assert np.abs(kin.vel_[[a, b]]).max() < 1e-12
    else:
        assert np.isnan(kin.pos_).all() and np.isnan(kin.tilt_error_deg_)
    # the blocked scan used for the per-contact metrics: the same up to rounding
    blocked = integrate_windows(
        *pack_windows([(t, acc, gyr)]),
        np.array([a]),
        np.array([-1 if b is None else b]),
        still_half_window=round(0.005 * fs),
        work_efficient=True,
    )
    assert np.abs(np.moveaxis(blocked.rot[:, :, 0], -1, 0) - kin.rot_).max() < 1e-12
    assert np.allclose(blocked.pos[:, 0].T, kin.pos_, atol=1e-12, equal_nan=True)


@pytest.fixture(scope="module")
def run(chirunning_lossy):
    return chirunning_lossy


def _same_metrics(m, m1):
    assert m.keys() == m1.keys()
    for key, v in m.items():
        assert v == m1[key] or (v != v and m1[key] != m1[key]), key  # NaN == NaN


def test_batched_metrics_equal_one_contact_at_a_time(run, monkeypatch):
    """The analyzer's passes (early windows, rows' windows with their stride metrics only and
    the contact-only metrics of the early windows from the same integration) give the values
    of :func:`contact_metrics` on each window alone."""
    batches = []
    real = foot_analyzer_mod.contact_metrics_batch

    def spy(items, **kw):
        batches.append((items, kw))
        return real(items, **kw)

    monkeypatch.setattr(foot_analyzer_mod, "contact_metrics_batch", spy)
    info = next(s for s in run.sensors if s.sensor_id == "right_foot")
    fa = FootAnalyzer(info)
    fa.feed(run.blocks["right_foot"])
    fa.finish()
    assert sum(len(items) for items, _ in batches) > 40
    assert max(len(items) for items, _ in batches) > 20
    stride_keys = ("tilt_error_deg", "stride_time", "cadence", "stride_length", "speed")
    shared = 0
    for items, kw in batches:
        together = real(items, **kw)
        one = {k: v for k, v in kw.items() if k not in ("stride_only", "contact_items")}
        contact_items = kw.get("contact_items") or [None] * len(items)
        for item, c, (m, trace) in zip(items, contact_items, together, strict=True):
            m1, trace1 = contact_metrics(*item, **one)
            if kw.get("stride_only"):
                m1 = {k: m1[k] for k in stride_keys if k in m1 and item[4] is not None}
                if item[4] is None:
                    trace1 = None
                if c is not None:
                    shared += 1
                    mc, _ = contact_metrics(*c, **one)
                    m1.update({k: mc[k] for k in CONTACT_KEYS})
                    m = dict(m)
            _same_metrics(m, m1)
            assert (trace is None and trace1 is None) or np.array_equal(trace, trace1)
    assert shared > 20


@pytest.mark.parametrize("flat_anchor", [True, False])
def test_contact_metrics_from_the_rows_integration(run, flat_anchor, monkeypatch):
    """``contact_items``: the contact-only metrics of an early window equal those of its own
    pass, whether it is the start of the row's window (one integration) or not (its own)."""
    items = []
    real = foot_analyzer_mod.contact_metrics_batch

    def spy(its, **kw):
        if kw.get("stride_only"):
            items.extend(it for it in its if it[4] is not None)
        return real(its, **kw)

    monkeypatch.setattr(foot_analyzer_mod, "contact_metrics_batch", spy)
    info = next(s for s in run.sensors if s.sensor_id == "left_foot")
    fa = FootAnalyzer(info)
    fa.feed(run.blocks["left_foot"])
    fa.finish()
    assert len(items) > 20
    kw = {
        "side": "left",
        "sampling_rate_hz": info.sample_rate_hz,
        "settings": MetricSettings(flat_anchor=flat_anchor),
    }
    contacts = []
    for i, (t, a, g, ev, _) in enumerate(items):
        e = ev.to + 25
        if i % 3 == 1:  # a window starting a sample later: not the start of the row's window
            sh = ContactEvents(ev.ic - 1, ev.ms - 1, ev.to - 1, ev.ok, ev.reason, ev.t_ic, ev.t_to)
            contacts.append((t[1:e], a[1:e], g[1:e], sh, None))
        elif i % 3 == 2:
            contacts.append(None)
        else:
            contacts.append((t[:e], a[:e], g[:e], ev, None))
    got = contact_metrics_batch(items, stride_only=True, contact_items=contacts, **kw)
    full = contact_metrics_batch(items, **kw)
    for c, (m, trace), (mf, tf) in zip(contacts, got, full, strict=True):
        assert np.array_equal(trace, tf)
        expected = {k: mf[k] for k in ("tilt_error_deg", "stride_time", "cadence")}
        expected.update(stride_length=mf["stride_length"], speed=mf["speed"])
        if c is not None:
            ((mc, _),) = contact_metrics_batch([c], **kw)
            expected.update({k: mc[k] for k in CONTACT_KEYS})
        _same_metrics(m, expected)


def test_uncorrected_orientation_is_that_of_the_shorter_window():
    """``uncorrected_up``: the world-up row before the drift correction is the orientation of
    the same window without its second still instant, cut after those samples."""
    rng = np.random.default_rng(11)
    wins, a, b = _random_windows(rng, 12)
    b = np.where(b < 0, a + 20, b)
    m = 50
    for anchor_up in (None, np.array([0.0, 0.0, 1.0])):
        kw = {"still_half_window": 2, "work_efficient": True, "anchor_up": anchor_up}
        got = integrate_windows(*pack_windows(wins), a, b, uncorrected_up=m, **kw)
        assert got.up_uncorrected is not None and got.up_uncorrected.shape == (2, len(wins), m)
        for i, (t, acc, gyr) in enumerate(wins):
            n = min(m, t.shape[0])
            cut = [(t[:n], acc[:n], gyr[:n])]
            alone = integrate_windows(*pack_windows(cut), a[i : i + 1], np.array([-1]), **kw)
            if a[i] + 2 < n or anchor_up is not None:
                assert np.array_equal(got.up_uncorrected[:, i, :n], alone.rot[2, :2, 0])


def _feet_rows(run, sid, cuts):
    info = next(s for s in run.sensors if s.sensor_id == sid)
    fa = FootAnalyzer(info)
    blk = run.blocks[sid]
    g = blk.gaps
    rows = []
    for a, z in itertools.pairwise(cuts):
        lo = blk.t[a - 1] if a > 0 else -np.inf
        sel = (g[:, 1] > lo) & (g[:, 1] <= blk.t[z - 1]) if g.size else np.zeros(0, bool)
        rows += fa.feed(
            SampleBlock(sid, blk.t[a:z], blk.acc[a:z], blk.gyr[a:z], None, g[sel].reshape(-1, 2))
        ).rows
    rows += fa.finish().rows
    return [r.as_record() for r in rows]


@pytest.mark.parametrize("max_block", [7, 300, 3000])
def test_foot_rows_do_not_depend_on_block_sizes(run, max_block):
    rng = np.random.default_rng(max_block)
    for sid in ("left_foot", "right_foot"):
        n = len(run.blocks[sid])
        ref = _feet_rows(run, sid, [0, n])
        cuts = [0]
        while cuts[-1] < n:
            cuts.append(min(n, cuts[-1] + int(rng.integers(1, max_block))))
        assert len(ref) > 40
        assert _feet_rows(run, sid, cuts) == ref


def test_empty_batch():
    assert (
        contact_metrics_batch([], side="left", sampling_rate_hz=100.0, settings=MetricSettings())
        == []
    )


def test_csv_cells_of_numpy_scalars(tmp_path):
    """Analyzers may hand numpy scalars: the CSV holds plain numbers, never 'np.float64(...)'."""
    from dsp.contact import ContactRow
    from runform.analysis_io import StridesCsvWriter

    row = ContactRow("a", "left", np.float64(1.123456789), t_to=np.float64(np.nan))
    row.flight_time = np.float32(0.25)
    row.add_flag("gap")
    with StridesCsvWriter(tmp_path / "s.csv") as w:
        w.write([row])
    import csv

    with open(tmp_path / "s.csv", newline="") as fh:
        (got,) = list(csv.DictReader(fh))
    assert (got["t_ic"], got["t_to"], got["flight_time"], got["flags"]) == (
        "1.123457",
        "",
        "0.25",
        "gap",
    )


def test_rotate_rows_is_the_plain_product_whatever_the_chunks():
    """rotate_rows (column by column) gives the values of the broadcast expression it replaced,
    and a row's value does not depend on the other rows of the call."""
    from dsp.orientation import rotate_rows

    rng = np.random.default_rng(3)
    v = rng.normal(0.0, 50.0, (1000, 3))
    v[::97] = [np.inf, -0.0, np.nan]
    r = Rotation.random(random_state=4).as_matrix()
    plain = v[:, 0:1] * r[:, 0] + v[:, 1:2] * r[:, 1] + v[:, 2:3] * r[:, 2]
    assert np.array_equal(rotate_rows(v, r), plain, equal_nan=True)
    parts = np.concatenate([rotate_rows(v[i : i + 7], r) for i in range(0, 1000, 7)])
    assert np.array_equal(parts, plain, equal_nan=True)
    v32 = v.astype(np.float32)
    plain32 = v32[:, 0:1] * r[:, 0] + v32[:, 1:2] * r[:, 1] + v32[:, 2:3] * r[:, 2]
    assert np.array_equal(rotate_rows(v32, r), plain32, equal_nan=True)
    assert rotate_rows(v32, r).dtype == np.float64


def test_stride_history_median_is_numpys():
    # FootAnalyzer's median of the recent strides (statistics.median: no numpy call per
    # stride) is np.median's to the bit, so the odd-stride decisions do not depend on it
    rng = np.random.default_rng(3)
    for n in range(1, 14):
        for _ in range(200):
            x = list(rng.uniform(0.3, 2.5, n))
            assert statistics.median(x) == float(np.median(x))
