"""The pelvis sensor on walking (issue 17): steps, sides, pelvic drop, alignment from walking,
streaming = batch, and the real lower-back walks with their instrumented reference."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from dsp.block import SampleBlock
from dsp.pelvis_alignment import estimate_pelvis_alignment
from dsp.pelvis_analyzer import PelvisAnalyzer
from dsp.pelvis_events import detect_walk_steps, may_hold_walk, walk_flight_level
from firmware_bridge.simulator.eval_pelvis import run_pelvis_only, score_pelvis
from firmware_bridge.simulator.session import simulate_session
from runform.evaluation import analyse_pelvis_alone

REALDATA = Path(__file__).resolve().parents[3] / "shared" / "realdata"


@pytest.fixture(scope="module")
def walk_sim():
    return simulate_session("walk", duration_s=45.0, rate_hz=208.0, seed=3, sensors=("pelvis",))


def test_walking_accuracy_pelvis_alone(walk_sim) -> None:
    pa, rows = run_pelvis_only(walk_sim)
    sc = score_pelvis(rows, walk_sim.truth, t_end=walk_sim.blocks["pelvis"].t_end)
    # the first step of the simulated gait initiation is not a steady step (about 2 %)
    assert sc.found >= 0.97, sc
    assert sc.false <= 1, sc
    assert sc.side >= 0.97, sc
    assert sc.drop_mae <= 1.0, sc
    assert sc.ic_mae_ms <= 20.0, sc
    assert sc.vo_mae <= 0.5, sc
    assert {r.activity for r in rows} == {"walk"}
    # pelvis alone: no toe-off from a walking pelvis (left empty, not guessed)
    assert all(r.t_to is None and r.contact_time is None for r in rows)
    assert pa.alignment_.gait == "walk"


def test_walking_alignment_without_standing() -> None:
    sim = simulate_session(
        "walk", duration_s=35.0, rate_hz=104.0, seed=5, sensors=("pelvis",), standing_s=0.0
    )
    b = sim.blocks["pelvis"]
    res = estimate_pelvis_alignment([(b.t, b.acc, b.gyr)], sampling_rate_hz=104.0)
    assert res.ok and res.gait == "walk" and not res.standing
    true_r = np.asarray(sim.truth["sensors"]["pelvis"]["R_body_from_sensor"])
    # forward and left axes within 10 deg of the mounting's
    for k in (0, 1):
        assert float(res.R_bs[k] @ true_r[k]) > np.cos(np.radians(10.0))
    pa, rows = run_pelvis_only(sim)
    sc = score_pelvis(rows, sim.truth, t_end=b.t_end)
    assert sc.found >= 0.95 and sc.side >= 0.97, sc
    assert pa.baseline_kind_ == "running"  # the level from the steps' shape (no standing)


def test_walking_rows_do_not_depend_on_the_chunking(walk_sim) -> None:
    _, whole = run_pelvis_only(walk_sim)
    info = walk_sim.sensors[0]
    b = walk_sim.blocks["pelvis"]
    rng = np.random.default_rng(7)
    cuts = np.sort(rng.choice(np.arange(1, len(b) - 1), size=60, replace=False))
    pa = PelvisAnalyzer(info)
    rows = []
    for i0, i1 in zip([0, *cuts.tolist()], [*cuts.tolist(), len(b)], strict=True):
        rows += pa.feed(b.slice(i0, i1)).rows
    rows += pa.finish().rows
    assert [r.as_record() for r in rows] == [r.as_record() for r in whole]


def test_dropouts_written_as_zeros_are_gaps_not_flight(walk_sim) -> None:
    """A radio dropout some devices log as zeros on all six axes (80 ms every 3 s here) is a
    gap, bridged and flagged: read as data it was a free fall, a flight phase, and the walking
    steps around it were taken for running and lost (real lower-back walk test11 with 1 % of
    its samples so: 59 -> 54 of 63 steps; ``scripts/robustness_check.py --check dropouts``)."""
    info = walk_sim.sensors[0]
    b = walk_sim.blocks["pelvis"]
    _, clean = run_pelvis_only(walk_sim)
    acc, gyr = b.acc.copy(), b.gyr.copy()
    burst = int(0.08 * info.sample_rate_hz)
    starts = np.arange(int(5 * info.sample_rate_hz), len(b) - burst, int(3 * info.sample_rate_hz))
    for i in starts:
        acc[i : i + burst] = 0.0
        gyr[i : i + burst] = 0.0
    pa = PelvisAnalyzer(info)
    rows = pa.feed(SampleBlock(info.sensor_id, b.t, acc, gyr)).rows + pa.finish().rows
    t_clean = np.array([r.t_ic for r in clean])
    t_rows = np.array([r.t_ic for r in rows])
    found = sum(np.min(np.abs(t_rows - t)) < 0.05 for t in t_clean)
    assert found >= len(clean) - 1
    for r in rows:  # a row the clean data do not have came through a gap and says so
        assert np.min(np.abs(t_clean - r.t_ic)) < 0.05 or "gap" in r.flags, r
    assert sum("gap" in r.flags for r in rows) >= len(starts) // 2


def test_running_contacts_are_not_walking_steps() -> None:
    sim = simulate_session("easy", duration_s=30.0, rate_hz=208.0, seed=4, sensors=("pelvis",))
    b = sim.blocks["pelvis"]
    w = detect_walk_steps(b.t, np.linalg.norm(b.acc, axis=1), sampling_rate_hz=208.0)
    assert len(w) == 0
    _, rows = run_pelvis_only(sim)
    assert {r.activity for r in rows} == {"run"}


@pytest.mark.parametrize("scenario", ["easy", "walk", "intervals"])
def test_the_cheap_running_test_never_hides_a_walking_step(scenario: str) -> None:
    """may_hold_walk (which lets long runs skip the walking detection) is a bound: wherever it
    says no walk, the detection finds none; on walking it lets the detection run."""
    sim = simulate_session(scenario, duration_s=120.0, rate_hz=208.0, seed=5, sensors=("pelvis",))
    b = sim.blocks["pelvis"]
    nrm = np.linalg.norm(b.acc, axis=1)
    fl = nrm < walk_flight_level()
    rng = np.random.default_rng(0)
    skipped = walking = 0
    for _ in range(60):
        n = int(rng.integers(100, 2500))
        lo = int(rng.integers(0, nrm.size - n))
        found = len(detect_walk_steps(b.t[lo : lo + n], nrm[lo : lo + n], sampling_rate_hz=208.0))
        if not may_hold_walk(fl[lo : lo + n], sampling_rate_hz=208.0):
            assert found == 0, (scenario, lo, n)
            skipped += 1
        walking += found > 0
    if scenario == "easy":
        assert skipped >= 40  # running windows are skipped
    if scenario == "walk":
        assert walking >= 30


def test_a_still_sensor_has_no_steps() -> None:
    n = 3000
    t = np.arange(n) / 100.0
    acc = np.tile([0.3, -0.2, 9.79], (n, 1)) + 0.01 * np.random.default_rng(1).standard_normal(
        (n, 3)
    )
    gyr = 0.2 * np.random.default_rng(2).standard_normal((n, 3))
    w = detect_walk_steps(t, np.linalg.norm(acc, axis=1), sampling_rate_hz=100.0)
    assert len(w) == 0
    pa = PelvisAnalyzer(
        __import__("dsp.block", fromlist=["SensorInfo"]).SensorInfo("p", "pelvis", "x", 100.0)
    )
    rows = [*pa.feed(SampleBlock("p", t, acc, gyr)).rows, *pa.finish().rows]
    assert rows == []
    assert "problem" in pa.summary()


def _step_wave(peaks: list[float], amps: list[float], fs: float = 100.0) -> tuple:
    """A hand-made vertical specific force: one cosine cycle (0.6 s) per step around each peak,
    amplitude in g, on 1 g."""
    t = np.arange(int(12.0 * fs)) / fs
    x = np.zeros_like(t)
    for tk, a in zip(peaks, amps, strict=True):
        m = np.abs(t - tk) <= 0.3
        x[m] += a * np.cos(2 * np.pi * (t[m] - tk) / 0.6)
    return t, 9.80665 * (1.0 + x)


@pytest.mark.parametrize(
    ("offset_step", "found"),
    [(1.0, True), (1.4, False), (-1.0, False)],
)
def test_the_weak_last_step_of_a_walk(offset_step: float, found: bool) -> None:
    """A walk's last step before standing still is weak (0.02 g against 0.15 g: the body
    stops on it). It is a step when it comes at the walk's pace (0.8-1.2 of its last step
    after the last peak); a bump later, or a sway before the first step, is none."""
    peaks = [3.0 + 0.6 * k for k in range(6)]
    extra = (peaks[-1] if offset_step > 0 else peaks[0]) + 0.6 * offset_step
    t, f = _step_wave([*peaks, extra], [0.15] * 6 + [0.02])
    w = detect_walk_steps(t, f, sampling_rate_hz=100.0)
    tp = t[w.i_peak]
    assert np.all(np.min(np.abs(tp[:, None] - np.array(peaks)[None, :]), axis=0) < 0.05)
    if found:
        assert len(w) == 7 and abs(tp[-1] - extra) < 0.08, tp
        assert w.edge.tolist() == [0] * 6 + [1]
        assert 0.0 < extra - w.t_ic[-1] < 0.3  # its contact on the ascent to its peak
    else:
        assert len(w) == 6, tp
        assert not w.edge.any()
    # the strong steps alone are a walk of six steps either way
    t, f = _step_wave(peaks, [0.15] * 6)
    assert len(detect_walk_steps(t, f, sampling_rate_hz=100.0)) == 6


def test_a_weak_last_step_ends_its_walk_in_the_side_vote() -> None:
    """A weak last step is no next contact of the walk after it: the two walks keep their own
    alternation (a false weak step between two walks would otherwise flip the later one)."""
    from dsp.pelvis_walk import PelvisWalk, WalkStep

    pw = PelvisWalk(100.0)
    nan = float("nan")
    times = [0.0, 0.5, 1.0, 1.5, 2.0, 2.7, 3.2]
    edges = [0, 0, 0, 0, 1, 0, 0]
    for k, (t, e) in enumerate(zip(times, edges, strict=True)):
        nxt = nan if e or k + 1 == len(times) else times[k + 1]
        st = WalkStep(t, nxt, nan, nan, nan, nan, nan, nan, nan, segment=1, edge=e)
        pw._link(st)
        pw._steps.append(st)
    runs = [s.run for s in pw._steps]
    assert runs[:5] == [runs[0]] * 5 and runs[5] == runs[6] != runs[0]


def _match(rows, ref: dict, tol: float = 0.25) -> tuple[float, float, float, float]:
    steps = ref["pelvis_steps"]
    c0, c1 = ref["cover"]["pelvis"]
    tic = np.array([s["t_ic"] for s in steps])
    rt = np.array([r.t_ic for r in rows])
    d = np.abs(tic[:, None] - rt[None, :])
    j = d.argmin(axis=1)
    ok = d[np.arange(tic.size), j] <= tol
    found = float(ok.mean())
    inside = rt[(rt >= c0) & (rt <= c1)]
    prec = float(np.mean(np.abs(tic[:, None] - inside[None, :]).min(axis=0) <= tol))
    side = float(np.mean([rows[j[i]].side == steps[i]["side"] for i in np.flatnonzero(ok)]))
    ic = float(np.median(d[np.arange(tic.size), j][ok]))
    return found, prec, side, ic


@pytest.mark.parametrize("name", ["mobgap_ha001_test5_trial1", "mobgap_ha001_test5_trial2"])
def test_real_lower_back_walks(name: str) -> None:
    """Real lower-back walks (Mobilise-D, INDIP reference): the issue-17 targets."""
    h5 = REALDATA / f"{name}.h5"
    if not h5.exists():
        pytest.skip(f"{h5} not available")
    ref = json.loads(h5.with_suffix(".json").read_text())
    _, _, rows = analyse_pelvis_alone(h5)
    found, prec, side, ic = _match(rows, ref)
    assert found >= 0.95 and prec >= 0.95, (found, prec)
    assert side >= 0.95, side
    assert ic <= 0.040, ic


def test_real_daily_life_walk_sides_from_the_sway() -> None:
    """The real daily-life course (short walks, turns, sitting down): stance sides from the
    sideways sway hold through turns (96.6 % by the nearest contact; the misses are the
    reference's two quirks); with the obliquity cue in the vote they fell to 93 %. Steps
    found and precision (over the whole reference span) are guarded at today's values."""
    h5 = REALDATA / "mobgap_ha001_test11_trial1.h5"
    if not h5.exists():
        pytest.skip(f"{h5} not available")
    ref = json.loads(h5.with_suffix(".json").read_text())
    _, _, rows = analyse_pelvis_alone(h5)
    found, prec, side, ic = _match(rows, ref)
    assert side >= 0.95, side
    # 59/63 with the weak last steps of walks (31.3 s, 79.0 s), was 57/63
    assert found >= 0.93 and prec >= 0.7, (found, prec)
    assert ic <= 0.025, ic
    # precision over the reference's walking bouts (as scripts/real_data_check.py): 59/62
    import pandas as pd

    from runform.evaluation import score_pelvis_steps

    df = pd.DataFrame({"sensor_id": [r.sensor_id for r in rows], "t_ic": [r.t_ic for r in rows]})
    df["side"] = [r.side for r in rows]
    sc = score_pelvis_steps(df, ref["pelvis_steps"], sensor_id="pelvis", bouts=ref["bouts"])
    assert sc.found >= 59 and sc.found / (sc.found + sc.false) >= 0.95, sc


def test_a_missed_step_keeps_the_parity_of_the_run() -> None:
    """A detected step twice the step time after the previous one (a weak step of a turn was
    missed between them) continues the run two step numbers on, so the sides keep alternating."""
    from dsp.pelvis_walk import PelvisWalk, WalkStep

    pw = PelvisWalk(100.0)
    times = [0.0, 0.5, 1.0, 1.5, 2.5, 3.0]  # the contact at 2.0 s was missed
    nan = float("nan")
    for k, t in enumerate(times):
        nxt = times[k + 1] if k + 1 < len(times) else nan
        st = WalkStep(t, nxt, nan, nan, nan, nan, nan, nan, nan, segment=1)
        pw._link(st)
        pw._steps.append(st)
    assert [s.step_no for s in pw._steps] == [0, 1, 2, 3, 5, 6]
    assert len({s.run for s in pw._steps}) == 1
    # a slow step (1.5 step times) is just the next step
    pw2 = PelvisWalk(100.0)
    for k, t in enumerate([0.0, 0.5, 1.0, 1.75, 2.25]):
        st = WalkStep(t, [0.5, 1.0, 1.75, 2.25, nan][k], nan, nan, nan, nan, nan, nan, nan, 1)
        pw2._link(st)
        pw2._steps.append(st)
    assert [s.step_no for s in pw2._steps] == [0, 1, 2, 3, 4]


def _walk_steps(
    fs: float, t: np.ndarray, acc: np.ndarray, gyr: np.ndarray, block: int, settings=None
) -> list:
    """``(t_ic, left, edge)`` of every step of :class:`dsp.pelvis_walk.PelvisWalk` fed in
    blocks of ``block`` samples."""
    from dsp.pelvis_walk import PelvisWalk

    no = np.zeros(t.shape[0], dtype=bool)
    pw = PelvisWalk(fs) if settings is None else PelvisWalk(fs, settings=settings)
    steps = []
    for i in range(0, t.shape[0], block):
        s = slice(i, i + block)
        pw.feed(t[s], acc[s], gyr[s], no[s], no[s], new_segment=i == 0)
        steps += pw.take()
    steps += pw.take(final=True)
    return [(round(s.t_ic, 9), s.left, s.edge) for s in steps]


def _closed(steps: list) -> list:
    """The steps of a hand-made walk before its closing contact: the walk stops dead, the
    body at rest, so its last step is the closing contact by timing (``edge`` 2)."""
    assert steps and steps[-1][2] == 2, steps
    assert all(e != 2 for _, _, e in steps[:-1]), steps
    return steps[:-1]


@pytest.mark.parametrize("offset_s", [0.0, 0.55, 1.1, 1.65])
def test_the_weak_last_step_is_found_once_whatever_the_epochs(offset_s: float) -> None:
    """Fed through the streaming walking analysis, a walk's weak last step comes out exactly
    once, at the walk's pace and the next side, wherever the 2 s epochs fall (its run lies in
    the epoch's context before it) and whatever the block sizes."""

    fs = 100.0
    t0 = 8.0 + offset_s
    peaks = [t0 + 0.6 * k for k in range(10)]
    last = peaks[-1] + 0.6
    t = np.arange(int((last + 8.0) * fs)) / fs
    x = np.zeros_like(t)
    ml = np.zeros_like(t)
    for k, (tk, a) in enumerate(zip([*peaks, last], [0.15] * 10 + [0.02], strict=True)):
        m = np.abs(t - tk) <= 0.3
        x[m] += a * np.cos(2 * np.pi * (t[m] - tk) / 0.6)
        # the ground pushes the pelvis toward the midline: to the right (-ml) in a left stance
        m2 = (t >= tk - 0.1) & (t < tk + 0.5)
        ml[m2] += (-0.8 if k % 2 == 0 else 0.8) * np.sin(np.pi * (t[m2] - tk + 0.1) / 0.6)
    acc = np.column_stack((np.zeros_like(t), ml, 9.80665 * (1.0 + x)))
    gyr = np.zeros_like(acc)
    got = [_walk_steps(fs, t, acc, gyr, block) for block in (10**9, 37)]
    assert got[0] == got[1]
    steps = got[0]
    assert len(steps) == 11, steps
    assert [e for _, _, e in steps] == [0] * 10 + [1]
    assert last - 0.35 < steps[-1][0] < last  # on the ascent to its peak
    sides = [left for _, left, _ in steps]
    assert sides == [k % 2 == 0 for k in range(11)], sides


def test_uneven_left_and_right_steps_are_no_missed_contacts() -> None:
    """Left and right steps of a real walk can differ by half (0.34 and 0.67 s in turn, a
    Voisard walk): a long step is not two short ones with a contact missed between them, so
    the step numbers go on one by one (the step time is half the last stride)."""
    from dsp.pelvis_walk import PelvisWalk, WalkStep

    pw = PelvisWalk(100.0)
    nan = float("nan")
    times = np.cumsum([0.0] + [0.34, 0.67] * 5).tolist()
    for k, t in enumerate(times):
        nxt = times[k + 1] if k + 1 < len(times) else nan
        st = WalkStep(t, nxt, nan, nan, nan, nan, nan, nan, nan, segment=1)
        pw._link(st)
        pw._steps.append(st)
    assert [s.step_no for s in pw._steps] == list(range(len(times)))
    assert len({s.run for s in pw._steps}) == 1
    # a contact truly missed in such a walk (a whole stride between two contacts) still is
    pw2 = PelvisWalk(100.0)
    times2 = [0.0, 0.34, 1.01, 1.35, 2.02, 3.03, 3.37]  # 2.36 (0.34 after 2.02) missed
    for k, t in enumerate(times2):
        nxt = times2[k + 1] if k + 1 < len(times2) else nan
        st = WalkStep(t, nxt, nan, nan, nan, nan, nan, nan, nan, segment=1)
        pw2._link(st)
        pw2._steps.append(st)
    assert [s.step_no for s in pw2._steps] == [0, 1, 2, 3, 4, 6, 7]


def _turning_walk(
    *,
    missed: int | None,
    yaw_dps: float,
    step_s: float = 0.55,
    long_step: int | None = None,
    late: float = 0.6,
    t0: float = 8.0,
    n: int = 16,
) -> tuple:
    """Aligned pelvis samples (``ap, ml, vt``) of a hand-made walk: ``n`` steps ``step_s``
    apart (0.15 g bounces, the sideways sway of each stance), a turn at ``yaw_dps`` over the
    middle three steps; step ``missed`` without its bounce (its sway stays), the step after
    ``long_step`` ``late`` step times late (a hesitation). Returns the peaks and the samples."""
    fs = 100.0
    peaks = [t0 + step_s * k for k in range(n)]
    if long_step is not None:
        peaks = [p + (late * step_s if k > long_step else 0.0) for k, p in enumerate(peaks)]
    t = np.arange(int((peaks[-1] + 8.0) * fs)) / fs
    x = np.zeros_like(t)
    ml = np.zeros_like(t)
    for k, tk in enumerate(peaks):
        if k != missed:
            m = np.abs(t - tk) <= 0.3
            x[m] += 0.15 * np.cos(2 * np.pi * (t[m] - tk) / 0.6)
        m2 = (t >= tk - 0.1) & (t < tk + step_s - 0.1)
        ml[m2] += (-0.8 if k % 2 == 0 else 0.8) * np.sin(np.pi * (t[m2] - tk + 0.1) / step_s)
    mid = peaks[n // 2]
    yaw = np.where(np.abs(t - mid) <= 1.5 * step_s, yaw_dps, 0.0)
    acc = np.column_stack((np.zeros_like(t), ml, 9.80665 * (1.0 + x)))
    gyr = np.column_stack((np.zeros_like(t), np.zeros_like(t), yaw))
    return peaks, fs, t, acc, gyr


@pytest.mark.parametrize("t0", [8.0, 8.7, 9.4])
def test_a_contact_missed_in_a_turn_is_filled(t0: float) -> None:
    """A turning step whose vertical bounce faded (real U-turns, Voisard et al.) leaves two
    step times between two found contacts while the pelvis turns (90 deg/s): a contact is put
    half-way, with the next side, exactly once whatever the epochs and block sizes."""
    peaks, fs, t, acc, gyr = _turning_walk(missed=8, yaw_dps=90.0, t0=t0)
    got = [_walk_steps(fs, t, acc, gyr, block) for block in (10**9, 37)]
    assert got[0] == got[1]
    steps = _closed(got[0])
    assert len(steps) == 16, steps
    tic = np.array([s[0] for s in steps])
    # every contact on the ascent to its bounce; the filled one half-way between its
    # neighbours' contacts
    assert np.all((np.array(peaks) - tic > 0.0) & (np.array(peaks) - tic < 0.3)), tic - peaks
    assert abs(tic[8] - 0.5 * (tic[7] + tic[9])) < 1e-9
    assert [left for _, left, _ in steps] == [k % 2 == 0 for k in range(16)]


@pytest.mark.parametrize(
    ("missed", "yaw_dps", "long_step", "n_steps"),
    [
        (8, 0.0, None, 15),  # straight: a missed contact is not invented (the parity still
        # carries over it)
        (8, 40.0, None, 15),  # turning slowly: straight walking's sway of the heading
        (None, 90.0, None, 16),  # a turn whose steps are all found: nothing added
        (None, 0.0, 7, 16),  # a hesitation (1.6 steps) on a straight walk: no contact added
    ],
)
def test_no_contact_is_filled_without_a_turn_and_a_gap(
    missed: int | None, yaw_dps: float, long_step: int | None, n_steps: int
) -> None:
    _, fs, t, acc, gyr = _turning_walk(missed=missed, yaw_dps=yaw_dps, long_step=long_step)
    steps = _closed(_walk_steps(fs, t, acc, gyr, 10**9))
    assert len(steps) == n_steps, steps
    sides = [left for _, left, _ in steps]
    want = [k % 2 == 0 for k in range(16) if k != missed]
    assert sides == want, sides


def test_a_slow_step_of_a_turn_gets_no_contact() -> None:
    """A turning step 1.2 times the walk's step (slower, not two steps) gets none."""
    _, fs, t, acc, gyr = _turning_walk(missed=None, yaw_dps=90.0, long_step=7, late=0.2)
    steps = _closed(_walk_steps(fs, t, acc, gyr, 10**9))
    assert len(steps) == 16, steps
    assert [left for _, left, _ in steps] == [k % 2 == 0 for k in range(16)]


def test_turning_on_the_spot_makes_no_steps() -> None:
    """Standing and turning (no bounce, no sway, 90 deg/s) makes no walking step."""
    fs = 100.0
    t = np.arange(int(20 * fs)) / fs
    acc = np.column_stack((np.zeros_like(t), np.zeros_like(t), np.full_like(t, 9.80665)))
    gyr = np.column_stack((np.zeros_like(t), np.zeros_like(t), np.full_like(t, 90.0)))
    assert _walk_steps(fs, t, acc, gyr, 10**9) == []


@pytest.mark.parametrize(
    ("rest_s", "tail", "want"),
    [
        (1.0, None, "timing"),  # stops dead: the closing contact by timing
        (0.0, None, None),  # the setting off
        (1.0, (1.0, 0.02), "weak"),  # a weak closing bounce at the walk's pace: that one
        (1.0, (2.1, 0.06), None),  # a bounce follows (no step of the walk): not at rest
    ],
)
def test_the_closing_contact_of_a_walk_by_timing(
    rest_s: float, tail: tuple[float, float] | None, want: str | None
) -> None:
    """Whoever stops walking sets the trailing foot down beside the other, a contact that
    lifts the pelvis little or not at all (real Voisard walks). When no weak bump marks it
    and the body comes to rest, it is put ``WALK_CLOSING_AT_STEP`` of the last step after the
    last contact (``closing_rest_s``), and it ends its walk like a weak last step."""
    from dsp.pelvis_events import WALK_CLOSING_AT_STEP

    peaks = [3.0 + 0.6 * k for k in range(6)]
    extra = [] if tail is None else [peaks[-1] + 0.6 * tail[0]]
    amps = [0.15] * 6 + ([] if tail is None else [tail[1]])
    t, f = _step_wave([*peaks, *extra], amps)
    w = detect_walk_steps(t, f, sampling_rate_hz=100.0, closing_rest_s=rest_s)
    if want is None:
        assert len(w) == 6 and not w.edge.any(), w
        return
    assert len(w) == 7 and w.edge.tolist() == [0] * 6 + [2 if want == "timing" else 1]
    if want == "timing":
        step = w.t_ic[5] - w.t_ic[4]
        assert abs(w.t_ic[6] - (w.t_ic[5] + WALK_CLOSING_AT_STEP * step)) < 1e-9
    else:
        assert 0.0 < extra[0] - w.t_ic[6] < 0.3  # on the ascent to the weak bump


def test_the_closing_contact_is_found_once_whatever_the_epochs() -> None:
    """Streaming: the closing contact by timing comes out once, with the next side, wherever
    the epochs fall and whatever the block sizes."""
    from dsp.pelvis_walk import WalkSettings

    fs = 100.0
    for t0 in (8.0, 8.55, 9.1, 9.65):
        peaks = [t0 + 0.6 * k for k in range(10)]
        t = np.arange(int((peaks[-1] + 8.0) * fs)) / fs
        x = np.zeros_like(t)
        ml = np.zeros_like(t)
        for k, tk in enumerate([*peaks, peaks[-1] + 0.6]):
            if k < 10:
                m = np.abs(t - tk) <= 0.3
                x[m] += 0.15 * np.cos(2 * np.pi * (t[m] - tk) / 0.6)
            m2 = (t >= tk - 0.1) & (t < tk + 0.5)
            ml[m2] += (-0.8 if k % 2 == 0 else 0.8) * np.sin(np.pi * (t[m2] - tk + 0.1) / 0.6)
        acc = np.column_stack((np.zeros_like(t), ml, 9.80665 * (1.0 + x)))
        gyr = np.zeros_like(acc)
        closing = WalkSettings(closing_rest_s=1.0)
        got = [_walk_steps(fs, t, acc, gyr, block, closing) for block in (10**9, 37)]
        assert got[0] == got[1]
        assert len(got[0]) == 11, got[0]
        assert [e for _, _, e in got[0]] == [0] * 10 + [2]
        assert [left for _, left, _ in got[0]] == [k % 2 == 0 for k in range(11)]


def test_a_stopped_walk_gets_its_closing_contact_and_its_row_ends_the_walk() -> None:
    """The simulated walk stop (``Scenario.walk_stop_s``: the trailing foot set down beside
    the other, a tenth of a step's bounce, then still): the pelvis alone finds the closing
    contact by timing, with the next side, and only its row says it ends the walk."""
    from firmware_bridge.simulator import simulate_session

    sim = simulate_session("walk", duration_s=30.0, seed=2, walk_stop_s=25.0, sensors=("pelvis",))
    _, rows = run_pelvis_only(sim, chunk_s=0.7)
    sc = score_pelvis(rows, sim.truth, t_end=30.0)
    assert sc.found == 1.0 and sc.false == 0 and sc.side == 1.0, sc
    closing = sim.truth["steps"][-1]
    assert closing["closing"]
    assert abs(rows[-1].t_ic - closing["t_ic"]) < 0.06 and rows[-1].side == closing["side"]
    assert [r.ends_walk for r in rows] == [False] * (len(rows) - 1) + [True]


def test_chained_window_attitude_equals_the_window_chained_alone(walk_sim) -> None:
    """The walking windows' attitude from the gyroscope chained once over the segment
    (:func:`dsp.pelvis_orientation.chained_stride_rows`) is the attitude chained from the
    window's first sample (:func:`dsp.pelvis_orientation.stride_gravity_attitude`) up to
    rounding, on the rows asked for."""
    from dsp.pelvis_orientation import chained_stride_rows, stride_gravity_attitude
    from dsp.pelvis_segment import GyroChain, chain_sums

    b = walk_sim.blocks["pelvis"]
    fs, g = 208.0, 9.80665
    q, cs, _ = chain_sums(GyroChain(block=1024), np.zeros(3), b.t, b.acc, b.gyr)
    lo, hi = int(12.3 * fs), int(22.5 * fs)  # a 10.2 s window well into the segment
    t, acc, gyr = b.t[lo:hi], b.acc[lo:hi], b.gyr[lo:hi]
    nrm = np.linalg.norm(acc, axis=1)
    w = detect_walk_steps(t, nrm, sampling_rate_hz=fs, gravity=g)
    assert len(w) >= 10
    att = stride_gravity_attitude(t, acc, gyr, w.i_ic)
    assert att is not None
    ml_w = att.apply(np.array([0.0, 1.0, 0.0]))
    f_w = att.apply(acc)
    want_obl = np.degrees(np.arcsin(np.clip(ml_w[:, 2], -1.0, 1.0)))
    want_lat = np.einsum("ij,ij->i", f_w[:, :2], ml_w[:, :2]) / np.linalg.norm(ml_w[:, :2], axis=1)
    want_az = f_w[:, 2] - g
    r0, r1 = int(w.i_ic[2]) - 1, int(w.i_ic[6]) + 5
    got = chained_stride_rows(t, acc, q[lo:hi], cs[lo:hi], w.i_ic, (r0, r1), gravity=g)
    assert got is not None
    obl, lat, a_z = got
    assert obl.shape == (r1 - r0 + 1,)
    np.testing.assert_allclose(obl, want_obl[r0 : r1 + 1], rtol=0, atol=1e-9)
    np.testing.assert_allclose(lat, want_lat[r0 : r1 + 1], rtol=0, atol=1e-9)
    np.testing.assert_allclose(a_z, want_az[r0 : r1 + 1], rtol=0, atol=1e-9)
    # the window is tilted and turning: a chain not started at the window (identity there)
    # is another attitude, which the test would see
    assert np.ptp(want_obl) > 1.0


@pytest.mark.parametrize("n", [0, 1, 5, 10, 11, 12, 40, 1000])
@pytest.mark.parametrize("window", [1, 3, 11, 61])
def test_box_average_is_the_cumulative_sum_formula(n: int, window: int) -> None:
    """:func:`dsp.pelvis_events._box` gives exactly the values of the cumulative-sum
    formula over the shrunk windows (by gathers), and the windows' means to rounding."""
    from dsp.pelvis_events import _box

    x = np.random.default_rng(n + window).normal(size=n) * 3.0 + 1.0
    h = window // 2
    c = np.concatenate(([0.0], np.cumsum(x)))
    i = np.arange(n)
    lo, hi = np.maximum(0, i - h), np.minimum(n, i + h + 1)
    got = _box(x, window)
    assert np.array_equal(got, (c[hi] - c[lo]) / (hi - lo) if h else x)
    want = [x[a:b].mean() for a, b in zip(lo, hi, strict=True)]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("n", [1, 7, 200, 4080])
@pytest.mark.parametrize("half", [1, 3, 70])
def test_max_around_some_samples_is_the_running_maximum(n: int, half: int) -> None:
    """:func:`dsp.pelvis_events._max_around` (the local maxima of the walking peaks, only at
    the candidates) gives exactly ``running_max`` at those samples, edges and NaN included."""
    from dsp.filters import running_max
    from dsp.pelvis_events import _max_around

    rng = np.random.default_rng(n * 100 + half)
    x = rng.normal(size=n)
    if n > 100:
        x[n // 3] = np.nan
    idx = np.unique(np.concatenate(([0, n - 1], rng.integers(0, n, size=min(n, 60)))))
    got = _max_around(x, idx, half)
    want = running_max(x, size=2 * half + 1)[idx]
    assert got.tobytes() == want.tobytes()
    assert _max_around(x, np.empty(0, dtype=int), half).size == 0


def test_one_step_oscillation_is_the_batch_value_bit_for_bit() -> None:
    """A walking step's vertical oscillation (:func:`dsp.pelvis_metrics._one_step_ptp_cm`)
    is the value :func:`dsp.pelvis_metrics._step_ptp_cm` gives that step alone, bit for bit
    (the rows stay byte-identical), on regular and jittered sample times."""
    from dsp.pelvis_metrics import _one_step_ptp_cm, _step_ptp_cm

    rng = np.random.default_rng(5)
    for k in range(300):
        n = int(rng.integers(6, 600))
        t = 50.0 + np.sort(np.arange(n) / 208.0 + (1e-4 * rng.random(n) if k % 2 else 0.0))
        a_z = 2.0 * rng.normal(size=n) + np.sin(np.arange(n) / 20.0)
        a = int(rng.integers(0, n - 5))
        c = int(rng.integers(a + 1, n))
        want = float(_step_ptp_cm(t, a_z, np.array([a]), np.array([c]))[0])
        got = _one_step_ptp_cm(t, a_z, a, c)
        assert np.float64(got).tobytes() == np.float64(want).tobytes()


def test_may_hold_walk_from_the_segment_flight_runs_cut_to_the_window() -> None:
    """The runs of flight found once over a stream and cut at a window's edges give that
    window the answer of :func:`dsp.pelvis_events.may_hold_walk` on its own samples."""
    from dsp.pelvis_events import flight_runs, may_hold_walk_runs

    rng = np.random.default_rng(3)
    # running (a flight every 0.35 s), walking (none) and short bursts, at 100 Hz
    fl = np.zeros(6000, dtype=bool)
    for a in range(0, 2500, 35):
        fl[a : a + int(rng.integers(5, 15))] = True
    fl[4000:6000] = rng.random(2000) < 0.02
    s, e = flight_runs(fl)
    answers = set()
    for lo in range(0, 5900, 37):
        hi = min(6000, lo + int(rng.integers(10, 1100)))
        j0, j1 = np.searchsorted(e, lo, side="right"), np.searchsorted(s, hi, side="left")
        got = may_hold_walk_runs(
            np.maximum(s[j0:j1], lo) - lo,
            np.minimum(e[j0:j1], hi) - lo,
            hi - lo,
            sampling_rate_hz=100.0,
        )
        want = may_hold_walk(fl[lo:hi], sampling_rate_hz=100.0)
        assert got == want, (lo, hi)
        answers.add(want)
    assert answers == {True, False}


def test_a_walk_without_standing_does_not_warn_about_a_running_baseline(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # a session with no running step at all needs no running baseline: the warning 'too few
    # steps for a running baseline' was printed on every walk that started without standing
    sim = simulate_session(
        "walk", duration_s=20.0, rate_hz=104.0, seed=5, sensors=("pelvis",), standing_s=0.0
    )
    with caplog.at_level(logging.DEBUG, logger="dsp.pelvis_analyzer"):
        pa, rows = run_pelvis_only(sim)
    assert rows and {r.activity for r in rows} == {"walk"}
    said = [r for r in caplog.records if "running baseline" in r.getMessage()]
    assert said and all(r.levelno == logging.DEBUG for r in said), said
    assert pa.baseline_kind_ == "running"
