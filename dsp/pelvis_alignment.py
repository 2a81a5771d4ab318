"""Sensor-to-pelvis alignment found from the data, for any way the sensor is clipped on.

The rotation ``R_bs`` (``v_body = R_bs @ v_sensor``; body axes ``ap`` forward, ``ml`` to the
runner's left, ``vt`` up, see ``docs/coordinate_systems.md``) follows from three facts:

1. **vt (up)**: while the runner stands still the accelerometer reads +1 g straight up. When the
   data hold a still stretch of at least ``min_standing_s`` (smoothed gyroscope norm below
   ``still_max_dps``, specific force within ``still_acc_tol_g`` of 1 g), ``vt`` is its mean
   specific-force direction and the standing posture is the obliquity reference
   (``baseline = "standing"``). Otherwise ``vt`` is the mean specific-force direction over the
   running data: over whole strides the pelvis' acceleration averages out and only gravity is
   left (``baseline = "running"``).
2. **ap (forward) axis**: every running step brakes the body and then propels it forward, the
   same for left and right steps, while the sideways sway alternates from step to step. Averaged
   over steps (contact to next contact, time-normalised), the horizontal specific force keeps
   the braking/propulsion pattern and cancels the sway, so its dominant direction in the
   horizontal plane is ``±ap`` (principal component of the step-averaged pattern).
3. **the sign of ap**: in the first half of a contact the runner is braked (horizontal velocity
   change < 0 along ``ap``), in the second half propelled (> 0); Cavanagh & Lafortune (1980)
   "Ground reaction forces in distance running", J Biomech 13(5). The sign for which the
   velocity change in the second half exceeds that in the first half is kept; the share of
   steps agreeing is the sign's confidence.

``ml = vt × ap`` (to the left) and ``ap = ml × vt``. A sensor that rotates like a foot (gyroscope
peaks far beyond what a pelvis does while running) is reported as such (``foot_like``).
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field

import numpy as np

from dsp.block import STANDARD_GRAVITY
from dsp.filters import centered_moving_average, samples_for
from dsp.pelvis_events import detect_stances, detect_walk_steps

__all__ = ["PelvisAlignment", "estimate_pelvis_alignment"]

log = logging.getLogger(__name__)

_N_PHASE = 64


@dataclass
class PelvisAlignment:
    """Outcome of :func:`estimate_pelvis_alignment`.

    Attributes
    ----------
    R_bs : ndarray, shape (3, 3)
        Sensor-to-body rotation (rows: ``ap, ml, vt`` in sensor coordinates).
    ok : bool
        A usable rotation was found.
    confidence : float
        0 to 1: the smaller of the axis score (share of the step-averaged horizontal pattern on
        ``ap``) and the sign score (steps agreeing on the forward direction).
    standing : bool
        ``vt`` (and the obliquity reference) comes from a standing period.
    standing_s : float
        Length of the still stretch used, s.
    ap_share : float
        Share of the step-averaged horizontal specific-force energy on ``ap``.
    sign_agreement : float
        Share of steps whose braking/propulsion pattern agrees with the chosen forward sign.
    n_steps : int
        Running contacts used.
    gyr_p99_dps : float
        99th percentile of the gyroscope norm while moving, deg/s.
    foot_like : bool
        The sensor rotates like a foot in swing (not like a pelvis).
    gait : str
        ``run`` (from running contacts) or ``walk`` (from walking steps).
    reason : str
        Why ``ok`` is False or the confidence is low (empty when clean).
    """

    R_bs: np.ndarray = field(default_factory=lambda: np.eye(3))
    ok: bool = False
    confidence: float = 0.0
    standing: bool = False
    standing_s: float = 0.0
    ap_share: float = float("nan")
    sign_agreement: float = float("nan")
    n_steps: int = 0
    gyr_p99_dps: float = float("nan")
    foot_like: bool = False
    reason: str = ""
    gait: str = "run"

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly summary."""

        def r(x: float) -> float | None:
            return None if not np.isfinite(x) else round(float(x), 4)

        return {
            "R_bs": np.round(self.R_bs, 6).tolist(),
            "ok": bool(self.ok),
            "confidence": round(float(self.confidence), 4),
            "standing": bool(self.standing),
            "standing_s": round(float(self.standing_s), 3),
            "ap_share": r(self.ap_share),
            "sign_agreement": r(self.sign_agreement),
            "n_steps": int(self.n_steps),
            "gyr_p99_dps": r(self.gyr_p99_dps),
            "foot_like": bool(self.foot_like),
            "gait": self.gait,
            "reason": self.reason,
        }


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _longest_run(mask: np.ndarray) -> tuple[int, int]:
    d = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    s, e = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    if s.size == 0:
        return 0, 0
    k = int(np.argmax(e - s))
    return int(s[k]), int(e[k])


def estimate_pelvis_alignment(
    segments: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    *,
    sampling_rate_hz: float,
    still_window_s: float = 0.25,
    still_max_dps: float = 12.0,
    still_acc_tol_g: float = 0.05,
    min_standing_s: float = 1.0,
    moving_min_dps: float = 20.0,
    min_steps: int = 12,
    min_walk_steps: int = 6,
    min_roll_share: float = 0.95,
    foot_gyr_dps: float = 400.0,
    foot_tilt_deg: float = 20.0,
    max_standing_roll_deg: float = 6.0,
    max_standing_pitch_deg: float = 30.0,
    gravity: float = STANDARD_GRAVITY,
) -> PelvisAlignment:
    """Estimate the sensor-to-pelvis rotation (see the module docstring).

    Parameters
    ----------
    segments : list of (t, acc, gyr)
        Contiguous pieces of data: ``t`` (N,) s, ``acc`` (N, 3) m/s², ``gyr`` (N, 3) deg/s,
        sensor frame.
    sampling_rate_hz : float
    still_window_s : float
        Smoothing window for the stillness test, s.
    still_max_dps : float
        Smoothed gyroscope norm below which the pelvis counts as still, deg/s.
    still_acc_tol_g : float
        Allowed deviation of the smoothed specific-force norm from 1 g when still, g.
    min_standing_s : float
        Shortest still stretch used as a standing reference, s.
    moving_min_dps : float
        Smoothed gyroscope norm above which the data count as running, deg/s.
    min_steps : int
        Running contacts needed.
    min_walk_steps : int
        Walking steps needed when there are too few running contacts.
    min_roll_share : float
        Walking: the stride-frequency rotation gives the forward axis when this share of it
        lies on one horizontal axis (else the step-averaged specific force does).
    foot_gyr_dps : float
        A 99th percentile gyroscope norm above this marks a sensor that moves like a foot, deg/s
        (a running pelvis stays well below 300 deg/s; a shoe swings at 600-1500 deg/s running,
        430-1300 walking), when it also tilts like one (``foot_tilt_deg``).
    foot_tilt_deg : float
        ... by more than this about the horizontal axes (95th percentile of the tilt from its
        one-second mean while moving), deg. A shoe pitches through its swing (36-61 deg on the
        Voisard et al. walks, 220 feet); a pelvis tilts a few degrees, even one whose loosely
        strapped sensor rattles at every heel strike with brief 600-850 deg/s spikes (their
        voisard_17-4: 11 deg; all 110 lower-back sensors 2-11 deg).
    max_standing_roll_deg, max_standing_pitch_deg : float
        A still stretch whose sideways / forward tilt differs from the running mean by more
        than these is not a standing reference (bent over, leaning on one leg), deg.
    gravity : float
        m/s².

    Returns
    -------
    PelvisAlignment
    """
    fs = float(sampling_rate_hz)
    g = float(gravity)
    wst = samples_for(still_window_s, sampling_rate_hz=fs, minimum=1)
    best_still: tuple[float, np.ndarray] | None = None
    mov_acc, mov_gn = [], []
    feats = []
    gyrs: list[np.ndarray] = []
    for t, acc, gyr in segments:
        if t.shape[0] < 8:
            continue
        gn = np.linalg.norm(gyr, axis=1)
        gs = centered_moving_average(gn, window=wst)
        an = centered_moving_average(np.linalg.norm(acc, axis=1), window=wst)
        still = (gs < still_max_dps) & (np.abs(an - g) < still_acc_tol_g * g)
        a, b = _longest_run(still)
        dur = (b - a) / fs
        if dur >= min_standing_s and (best_still is None or dur > best_still[0]):
            best_still = (dur, acc[a:b].mean(axis=0))
        moving = gs > moving_min_dps
        mov_acc.append(acc[moving])
        mov_gn.append(gn[moving])
        feats.append((t, acc, moving))
        gyrs.append(gyr)
    if not feats:
        return PelvisAlignment(reason="no data")
    acc_mov = np.concatenate(mov_acc)
    if acc_mov.shape[0] < 2.0 * fs:
        return PelvisAlignment(reason="too little running data (the sensor barely moved)")
    p99 = float(np.percentile(np.concatenate(mov_gn), 99))
    if p99 > foot_gyr_dps and (
        _tilt_excursion_deg(feats, gyrs, _unit(acc_mov.mean(axis=0)), fs=fs) > foot_tilt_deg
    ):
        return PelvisAlignment(
            gyr_p99_dps=p99,
            foot_like=True,
            reason=(
                f"the sensor rotates at up to {p99:.0f} deg/s, like a shoe in swing, not like "
                "a pelvis (below 300 deg/s while running): is it on a foot?"
            ),
        )
    vt_run = _unit(acc_mov.mean(axis=0))
    # running contacts on the running-mean vertical
    patterns, cues, duty = [], [], []
    n_steps = 0
    for t, acc, _moving in feats:
        f_vt = acc @ vt_run
        ev = detect_stances(t, f_vt, sampling_rate_hz=fs, gravity=g)
        good = np.flatnonzero(ev.flight)
        if good.size < 3:
            continue
        h = acc - np.outer(f_vt, vt_run)  # horizontal specific force, sensor coordinates
        for k0, k1 in itertools.pairwise(good):
            if k1 != k0 + 1:
                continue
            t0, t1 = ev.t_ic[k0], ev.t_ic[k1]
            if not (0.2 <= t1 - t0 <= 0.75):
                continue
            i0, i1 = int(ev.i_ic[k0]), int(ev.i_ic[k1])
            if i1 - i0 < 6:
                continue
            ph = (t[i0:i1] - t0) / (t1 - t0)
            grid = (np.arange(_N_PHASE) + 0.5) / _N_PHASE
            patt = np.stack([np.interp(grid, ph, h[i0:i1, c]) for c in range(3)], axis=1)
            patterns.append(patt)
            duty.append((ev.t_to[k0] - t0) / (t1 - t0))
            n_steps += 1
    walking = n_steps < min_steps
    vt_ref = vt_run
    if walking:
        walk = _walk_patterns(feats, gyrs, fs=fs, g=g)
        if walk is None or walk[0].shape[0] < min_walk_steps:
            n_walk = 0 if walk is None else int(walk[0].shape[0])
            return PelvisAlignment(
                n_steps=n_steps,
                gyr_p99_dps=p99,
                reason=(
                    f"only {n_steps} running steps with a flight phase and {n_walk} walking "
                    f"steps found (need {min_steps} or {min_walk_steps}): not walking or "
                    "running, or not on the pelvis"
                ),
            )
        patterns_a, vt_ref, roll_axis = walk
        patterns = list(patterns_a)
        n_steps = len(patterns)
        vt_run = vt_ref
    P = np.stack(patterns)  # (S, 64, 3)
    if walking:
        # a walking step is all contact: braking after the contact, propulsion before the next
        n_st = _N_PHASE
    else:
        n_st = max(2, round(float(np.median(duty)) * _N_PHASE))
    half = n_st // 2
    # the part of the contact's pattern that is antisymmetric about mid-stance: braking then
    # propulsion. Gravity leaking into the horizontal plane through the pelvis' tilt and
    # obliquity scales with the vertical force (symmetric about mid-stance) and cancels.
    mean_p = P[:, :n_st].mean(axis=0)
    odd = mean_p - mean_p[::-1]
    cov = odd.T @ odd
    wv, vv = np.linalg.eigh(cov)
    ap = vv[:, -1] - (vv[:, -1] @ vt_run) * vt_run
    ap = _unit(ap)
    tot = float(np.trace(cov))
    share = float(wv[-1] / tot) if tot > 0 else 0.0
    if walking and roll_axis is not None and roll_axis[1] >= min_roll_share:
        # walking: the pelvis rolls (obliquity) once per stride about ap and pitches twice;
        # when that stride-frequency rotation is clean (nearly all on one axis: not mixed
        # with a large pelvic rotation about a tilted vertical) it gives the axis, free of the
        # gravity that leaks into the horizontal specific force when the sides drop unequally
        ap = _unit(roll_axis[0] - (roll_axis[0] @ vt_run) * vt_run)
        share = roll_axis[1]
    # sign: velocity change along ap in the second half of the contact minus the first half
    comp = P @ ap  # (S, 64)
    cue = comp[:, half:n_st].sum(axis=1) - comp[:, :half].sum(axis=1)
    if np.median(cue) < 0:
        ap = -ap
        cue = -cue
    agree = float(np.mean(cue > 0))
    cues.append(cue)
    # final frame on the reference vertical. A still stretch is a usable standing reference
    # only if the pelvis stood roughly as it runs: not bent forward (tying a shoe) or leaning
    # on one leg far beyond what the running obliquity averages to.
    standing = False
    vt = vt_run
    stand_note = ""
    if best_still is not None:
        vs = _unit(best_still[1])
        ml_s = _unit(np.cross(vs, ap))
        roll = float(np.degrees(np.arcsin(np.clip(ml_s @ vt_run, -1, 1))))
        pitch = float(np.degrees(np.arcsin(np.clip(np.cross(ml_s, vs) @ vt_run, -1, 1))))
        if abs(roll) <= max_standing_roll_deg and abs(pitch) <= max_standing_pitch_deg:
            standing, vt = True, vs
        else:
            stand_note = (
                f"still stretch not used as standing reference (tilted {roll:+.0f} deg "
                f"sideways, {pitch:+.0f} deg forward against running)"
            )
            log.info("%s", stand_note)
    ml = _unit(np.cross(vt, ap))
    ap = np.cross(ml, vt)
    r_bs = np.stack([ap, ml, vt])
    s_axis = float(np.clip((share - 0.5) / 0.3, 0.0, 1.0))
    s_sign = float(np.clip(2.0 * (agree - 0.5) / 0.6, 0.0, 1.0))
    conf = min(s_axis, s_sign)
    reasons = []
    if s_axis < 0.5:
        reasons.append(f"forward axis unclear ({share:.0%} of the step pattern on it)")
    if s_sign < 0.5:
        reasons.append(f"forward direction unclear ({agree:.0%} of {n_steps} steps agree)")
    return PelvisAlignment(
        R_bs=r_bs,
        ok=True,
        confidence=conf,
        standing=standing,
        standing_s=float(best_still[0]) if best_still is not None else 0.0,
        ap_share=share,
        sign_agreement=agree,
        n_steps=n_steps,
        gait="walk" if walking else "run",
        gyr_p99_dps=p99,
        reason="; ".join([*reasons, stand_note] if stand_note else reasons),
    )


def _tilt_excursion_deg(
    feats: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    gyrs: list[np.ndarray],
    up: np.ndarray,
    *,
    fs: float,
) -> float:
    """95th percentile over the moving samples of the tilt about the horizontal axes (the
    angular rate without its component along ``up``, integrated) from its one-second centred
    mean, deg: the swing of a shoe, not the brief rattle of a loose sensor."""
    w = samples_for(1.0, sampling_rate_hz=fs, minimum=1)
    amps = []
    for (_t, _acc, moving), gyr in zip(feats, gyrs, strict=True):
        gh = gyr - np.outer(gyr @ up, up)
        ang = np.cumsum(gh, axis=0) / fs
        dev = ang - centered_moving_average(ang, window=w)
        amps.append(np.linalg.norm(dev, axis=1)[moving])
    amp = np.concatenate(amps)
    return float(np.percentile(amp, 95)) if amp.size else 0.0


def _walk_patterns(
    feats: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    gyrs: list[np.ndarray],
    *,
    fs: float,
    g: float,
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, float] | None] | None:
    """Step patterns of the horizontal specific force over walking steps, and the vertical.

    Steps from :func:`dsp.pelvis_events.detect_walk_steps` on the specific-force norm (which
    does not need the vertical); the vertical is then the mean specific force over whole
    strides of those walks (first to last contact of each walk: the acceleration averages
    out), and each step (contact to next contact) gives the horizontal specific force on a
    time-normalised grid, its mean removed (tilt and trunk lean, not the gait). Over each
    stride (two steps) the first harmonic of the horizontal angular rate gives the roll axis
    ``ap`` (principal direction, with its share of that harmonic's energy), or None.
    """
    steps: list[tuple[np.ndarray, np.ndarray, int, int, float, float]] = []
    strides: list[tuple[np.ndarray, np.ndarray, int, int]] = []
    acc_sum = np.zeros(3)
    n_sum = 0
    for (t, acc, _moving), gyr in zip(feats, gyrs, strict=True):
        # the steps of the runs only: the weak first and last steps of walks add nothing to
        # the step-averaged forward pattern
        w = detect_walk_steps(
            t, np.linalg.norm(acc, axis=1), sampling_rate_hz=fs, gravity=g, edge_min_peak_g=1.0
        )
        if len(w) < 3:
            continue
        dt = np.diff(w.t_ic)
        for k in range(len(w) - 1):
            if dt[k] > 1.0:
                continue
            steps.append((t, acc, int(w.i_ic[k]), int(w.i_ic[k + 1]), w.t_ic[k], w.t_ic[k + 1]))
            if k + 2 < len(w) and dt[k + 1] <= 1.0:
                strides.append((t, gyr, int(w.i_ic[k]), int(w.i_ic[k + 2])))
        # whole strides of each walk: even numbers of steps between linked contacts
        runs = np.split(np.arange(len(w)), np.flatnonzero(dt > 1.0) + 1)
        for r in runs:
            if r.size < 3:
                continue
            last = r[0] + 2 * ((r.size - 1) // 2)
            a, b = int(w.i_ic[r[0]]), int(w.i_ic[last])
            acc_sum += acc[a:b].sum(axis=0)
            n_sum += b - a
    if not steps or n_sum == 0:
        return None
    vt = _unit(acc_sum / n_sum)
    grid = (np.arange(_N_PHASE) + 0.5) / _N_PHASE
    out = []
    for t, acc, i0, i1, t0, t1 in steps:
        if i1 - i0 < 6:
            continue
        h = acc[i0:i1] - np.outer(acc[i0:i1] @ vt, vt)
        h = h - h.mean(axis=0)
        ph = (t[i0:i1] - t0) / (t1 - t0)
        out.append(np.stack([np.interp(grid, ph, h[:, c]) for c in range(3)], axis=1))
    if not out:
        return None
    roll = None
    if strides:
        m = np.zeros((3, 3))
        for t, gyr, i0, i1 in strides:
            gh = gyr[i0:i1] - np.outer(gyr[i0:i1] @ vt, vt)
            ph = np.exp(-2j * np.pi * (t[i0:i1] - t[i0]) / (t[i1] - t[i0]))
            c = ph @ gh / (i1 - i0)  # first harmonic per axis, complex (3,)
            m += np.real(np.outer(c, np.conj(c)))
        wv, vv = np.linalg.eigh(m)
        tot = float(np.trace(m))
        if tot > 0:
            roll = (vv[:, -1], float(wv[-1] / tot))
    return np.stack(out), vt, roll
