"""Kinematic model of running and walking: world-frame pose of both shoes and the pelvis.

The model is a plan of gait events (initial contact, foot-flat, heel-off, toe-off per contact)
built once per session, plus smooth time courses (quintic Hermite knots, C2) of every degree of
freedom. It can be evaluated at any times, so signals are generated in pieces and the truth is
measured on fine local grids.

Shoe: a rigid sole from the heel point (body origin) to the ball (``L_BALL`` ahead) with the body
frame of ``docs/coordinate_systems.md`` (``ap`` heel→toe, ``ml`` left, ``vt`` up). Orientation
``R_wf = Rz(yaw) · Ry(-pitch) · Rx(roll)``; roll is eversion on the left shoe and minus eversion on
the right shoe. In stance the shoe rolls about the heel while the pitch is positive and about the
ball while it is negative (no slip), and the contact point sinks in by a short sole compression
after contact (the impact: touch-down speed ``v_td`` stopped within a few ms). In swing a point
sliding from the ball (at toe-off) to the landing point (heel for pitch >= 0 at contact, ball
otherwise) follows a smooth path to the next contact.

Pelvis: spring-mass vertical motion while running (ballistic flight, half-sine ground reaction
force in stance, so the vertical specific force is 0 g in flight and about 2-3 g at mid-stance;
the contact time follows from the cadence and the vertical oscillation), while walking a
vertical motion whose acceleration rises sharply at each contact (the heel's loading) to its
double-support peak and stays negative through single support (:func:`walk_height_shape`,
shaped after the mean lower-back acceleration of real walks), forward speed fluctuation (braking/propulsion), lateral sway, obliquity
(the swing side drops in each stance), axial rotation and anterior tilt.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from dsp.block import STANDARD_GRAVITY
from firmware_bridge.simulator.scenarios import Scenario
from firmware_bridge.simulator.spline import QuinticHermite, smootherstep

__all__ = ["L_BALL", "FootModel", "GaitPlan", "PelvisModel", "Pose", "euler_zyx_matrix"]

log = logging.getLogger(__name__)

G = STANDARD_GRAVITY
#: Heel point to ball (metatarsal heads) along the sole, m.
L_BALL = 0.19
#: Standing height of the pelvis centre, m.
PELVIS_STANDING_HEIGHT = 0.95
_SIDES = ("left", "right")
_D2R = np.pi / 180.0


#: A late-swing pitch peak closer to IC than this (s) is placed at IC (running heel landings).
_PRE_PEAK_MIN_S = 0.01
#: A walk's closing contact (``Scenario.walk_stop_s``) lies this fraction of the last step
#: after the last contact: the trailing foot set down beside the other is a short step (real
#: lower-back walks, Voisard et al.: 0.6-0.95 of the step before, median 0.82).
WALK_CLOSING_STEP = 0.8
#: The pelvis' bounce at a closing contact against a step's (real: 0.002-0.024 g against
#: 0.1-0.25 g).
WALK_CLOSING_BOUNCE = 0.1


def _walk_height_coefficients(n_harmonics: int = 10) -> np.ndarray:
    """Fourier coefficients of :func:`walk_height_shape` (complex, harmonics 1..n)."""
    # vertical acceleration over a step (phase 0 = initial contact), relative units: low in
    # single support, a steep rise from just before the contact to the double-support peak
    # about 0.08 step after it, a quick fall once the other foot is off the ground
    kp = np.array([-0.40, -0.20, -0.08, 0.0, 0.08, 0.17, 0.26, 0.60])
    ka = np.array([-0.50, -0.50, -0.35, 0.35, 1.00, 0.30, -0.60, -0.50])
    grid = np.arange(512) / 512.0
    ph = np.where(grid > 0.6, grid - 1.0, grid)
    a = np.interp(ph, kp, ka)
    spec = np.fft.rfft(a) / a.size
    k = np.arange(1, n_harmonics + 1)
    # height: acceleration integrated twice (per harmonic: divided by -(2 pi k)^2)
    return -spec[1 : n_harmonics + 1] / (2.0 * np.pi * k) ** 2


_WALK_Z = _walk_height_coefficients()
_WALK_K = np.arange(1, _WALK_Z.size + 1)
_WALK_PTP = float(
    np.ptp(2.0 * np.real(np.exp(2j * np.pi * np.outer(np.arange(400) / 400.0, _WALK_K)) @ _WALK_Z))
)


def walk_height_shape(phase: np.ndarray) -> np.ndarray:
    """Pelvis height over walking steps, peak to peak 2, mean 0 (``phase``: step number, the
    integer at each initial contact); lowest just after a contact, highest in single support."""
    p = np.asarray(phase, dtype=np.float64)
    z = 2.0 * np.real(np.exp(2j * np.pi * p[..., None] * _WALK_K) @ _WALK_Z)
    return 2.0 * z / _WALK_PTP


def euler_zyx_matrix(yaw: np.ndarray, beta: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """``Rz(yaw) @ Ry(beta) @ Rx(roll)`` for arrays of angles in rad, shape (N, 3, 3)."""
    cz, sz = np.cos(yaw), np.sin(yaw)
    cy, sy = np.cos(beta), np.sin(beta)
    cx, sx = np.cos(roll), np.sin(roll)
    r = np.empty((*np.shape(yaw), 3, 3))
    r[..., 0, 0] = cz * cy
    r[..., 0, 1] = cz * sy * sx - sz * cx
    r[..., 0, 2] = cz * sy * cx + sz * sx
    r[..., 1, 0] = sz * cy
    r[..., 1, 1] = sz * sy * sx + cz * cx
    r[..., 1, 2] = sz * sy * cx - cz * sx
    r[..., 2, 0] = -sy
    r[..., 2, 1] = cy * sx
    r[..., 2, 2] = cy * cx
    return r


def _body_rates(yaw_d, beta, beta_d, roll, roll_d) -> np.ndarray:
    """Body-frame angular velocity (rad/s, (N, 3)) of ``Rz(yaw) Ry(beta) Rx(roll)``."""
    sb, cb = np.sin(beta), np.cos(beta)
    sr, cr = np.sin(roll), np.cos(roll)
    w = np.empty((*np.shape(beta), 3))
    w[..., 0] = roll_d - yaw_d * sb
    w[..., 1] = yaw_d * sr * cb + beta_d * cr
    w[..., 2] = yaw_d * cr * cb - beta_d * sr
    return w


@dataclass
class Pose:
    """Pose of one body segment at N times (world frame, see ``docs/coordinate_systems.md``).

    Attributes
    ----------
    R : ndarray (N, 3, 3)
        ``R_world_from_body``.
    origin : ndarray (N, 3)
        Position of the body origin in m (shoe: heel point on the sole; pelvis: its centre).
    omega_body : ndarray (N, 3)
        Angular velocity in the body frame, rad/s.
    pitch, roll, yaw : ndarray (N,)
        Euler angles in deg (``R = Rz(yaw) Ry(-pitch) Rx(roll)``).
    """

    R: np.ndarray
    origin: np.ndarray
    omega_body: np.ndarray
    pitch: np.ndarray
    roll: np.ndarray
    yaw: np.ndarray


def _impact_shape(tau: np.ndarray, tau_c: float, f_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Zero-net transient ``d = tau e^{-tau/tau_c} sin(w tau)`` and its 2nd derivative (tau >= 0)."""
    w = 2 * np.pi * f_hz
    tau = np.maximum(tau, 0.0)
    e = np.exp(-tau / tau_c)
    u = tau * e
    du = e * (1 - tau / tau_c)
    ddu = e * (-2 / tau_c + tau / tau_c**2)
    v, dv, ddv = np.sin(w * tau), w * np.cos(w * tau), -w * w * np.sin(w * tau)
    return u * v, ddu * v + 2 * du * dv + u * ddv


@dataclass
class Steps:
    """The gait event plan: one entry per ground contact (steps alternate sides)."""

    t_ic: np.ndarray
    side: np.ndarray  # 0 left, 1 right
    t_step: np.ndarray  # to the next contact of either foot
    t_contact: np.ndarray
    speed: np.ndarray
    fsa: np.ndarray  # commanded foot strike angle, deg
    drop: np.ndarray  # commanded pelvic drop, deg

    @property
    def t_to(self) -> np.ndarray:
        return self.t_ic + self.t_contact


class FootModel:
    """Pose of one shoe at any times (see the module docstring).

    Contact 0 is the standing posture (or a contact far in the past when there is no standing
    period); contacts 1.. are the running contacts of this foot.
    """

    def __init__(self, side: str, plan: GaitPlan, sel: np.ndarray, rng: np.random.Generator):
        sc = plan.scenario
        walk = sc.gait == "walk"
        self.side = side
        sgn = 1.0 if side == "left" else -1.0
        self.sign = sgn
        st = plan.steps
        n = int(sel.size)
        t_ic = st.t_ic[sel]
        tc = st.t_contact[sel]
        if plan.t_stop is not None:
            # a stopped walk: each foot's last contact lasts to the end (no toe-off)
            tc = tc.copy()
            tc[-1] = plan.horizon_s + 1e3
        speed = st.speed[sel]
        fsa = st.fsa[sel]
        var = sc.variability
        # --- standing / pseudo contact 0 --------------------------------------------------
        first_to = plan.first_to[side]
        first_tc = tc[0]
        t_ic0 = -1e9
        sty = plan.style
        ho_frac = (0.58 if walk else 0.45) + sty["ho_frac"]
        t_ho0 = first_to - (1 - ho_frac) * first_tc
        # --- per contact arrays (index 0 = pseudo) ---------------------------------------
        self.t_ic = np.concatenate(([t_ic0], t_ic))
        self.t_to = np.concatenate(([first_to], t_ic + tc))
        d_slap = np.clip(0.03 + 0.0022 * np.abs(fsa), 0.025, 0.075) * (1.6 if walk else 1.0)
        d_slap = d_slap * sty["slap"]
        d_slap = np.minimum(d_slap, 0.35 * tc)
        t_ff = t_ic + d_slap
        t_ho = np.maximum(t_ic + ho_frac * tc, t_ff + 0.02)
        self.t_ff = np.concatenate(([t_ho0 - 1.0], t_ff))
        self.t_ho = np.concatenate(([t_ho0], t_ho))
        jit = lambda k: 1.0 + var * rng.standard_normal(k)  # noqa: E731
        if walk:
            pitch_to = -(38.0 + 5.0 * (speed - 1.4)) * jit(n) * sty["push"]
            pitch_min = pitch_to - 8.0 * jit(n) + sty["pitch_min"] * 0.5
        else:
            pitch_to = -(22.0 + 7.0 * speed) * jit(n) * sty["push"]
            pitch_min = pitch_to - (10.0 + 6.0 * speed) * jit(n) + sty["pitch_min"]
            pitch_min = np.maximum(pitch_min, -90.0)
        pitch_to0 = pitch_to[0]
        # landing point: heel (0) if pitch >= 0 at contact, else ball (1)
        s_land = (fsa < 0).astype(float)  # landing on the ball
        self.s_land = np.concatenate(([0.0], s_land))
        # impact: extra deceleration a0 = 2 v_td / tau_c of the contact point
        w_rear = np.clip((fsa + 1.6) / (8.0 + 1.6), 0.0, 1.0)
        imp_g = (
            sc.impact_g_forefoot + w_rear * (sc.impact_g_rearfoot - sc.impact_g_forefoot)
        ) * jit(n)
        imp_g = np.maximum(imp_g * sty["impact"], 0.2)
        tau_c = (0.014 - 0.005 * w_rear) * (1.4 if walk else 1.0)
        v_td = imp_g * G * tau_c / 2.0
        self.tau_c = np.concatenate(([0.01], tau_c))
        self.v_td = np.concatenate(([0.0], v_td))
        self.u_td = 0.4 * self.v_td
        # --- positions of contacts ----------------------------------------------------------
        half_w = 0.5 * sc.step_width_m
        y = sgn * (half_w + 0.008 * rng.standard_normal(n))
        yaw = sgn * (sc.foot_progression_deg + sty["toe_out"] + 1.5 * rng.standard_normal(n))
        t_mid = t_ic + 0.5 * tc
        x_heel = plan.x_base(t_mid) - 0.11
        x0 = plan.x_base(np.array([0.0]))[0] - 0.07
        self.yaw_c = np.concatenate(([0.0], yaw))
        H = np.zeros((n + 1, 3))
        H[0] = (x0, sgn * 0.1, 0.0)
        H[1:, 0] = x_heel
        H[1:, 1] = y
        self.H = H
        fwd = np.stack(
            [np.cos(self.yaw_c * _D2R), np.sin(self.yaw_c * _D2R), np.zeros(n + 1)], axis=1
        )
        self.fwd = fwd
        self.ball = H + L_BALL * fwd
        # --- pitch knots -------------------------------------------------------------------
        pk_t, pk_y = [t_ho0, first_to], [0.0, pitch_to0 * 0.95]
        ev_t, ev_y = [t_ho0, first_to], [0.0, -1.0]
        yw_t, yw_y = [first_to - 0.2, first_to], [0.0, 0.0]
        exc = np.array(sc.pronation_excursion_deg[0 if side == "left" else 1]) * jit(n)
        vel = np.array(sc.pronation_velocity_dps[0 if side == "left" else 1]) * jit(n)
        exc = np.maximum(exc, 0.5)
        ev_ic = sc.eversion_at_ic_deg + sty["ev_ic"] + 1.0 * rng.standard_normal(n)
        d_ev = np.clip(1.875 * exc / np.maximum(vel, 1.0), 0.012, None)
        d_ev = np.minimum(d_ev, (t_ho - t_ic) - 0.012)
        prev_to = first_to
        prev_pmin = pitch_to0 * 0.95 - 10.0
        prev_pto = pitch_to0 * 0.95
        prev_rate = 1.3 * pitch_to0 * 0.95 / (first_to - t_ho0)
        pk_dy = [np.nan, np.nan]
        sw_to = np.empty(n)
        zk = np.empty((n, 3))
        for i in range(n):
            j = i + 1
            t_sw = t_ic[i] - prev_to
            sw_to[i] = prev_to
            # swing knots after the previous toe-off
            f = fsa[i]
            pre = f + (4.0 if f >= 0 else min(4.0, -f / 2.0))
            d_pre = 0.12 * t_sw
            if not walk:
                # a heel landing: the toes rise until the touch-down and the heel's contact
                # starts the slap, so the pitch peaks at IC (real shoe, Fukuchi et al. 2017
                # treadmill runner: the pitch rate crosses zero 14-16 ms after the marker
                # contact, which is ~22 ms before the force plate's for a heel striker; a
                # 60 ms pitch-down in the air before a heel strike is not seen). A forefoot
                # landing keeps the late-swing pitch-down (plantar flexion before touching, the
                # leg retracting), and so does a flat (midfoot) landing; strike angles from 3 to
                # 8 deg (the rearfoot threshold) blend the two
                wr = float(np.clip((f - 3.0) / (8.0 - 3.0), 0.0, 1.0))
                d_pre = (1.0 - wr) * d_pre
                pre = f + (1.0 - wr) * (pre - f)
            # (a peak within _PRE_PEAK_MIN_S of IC is the IC knot itself: pitch rate 0 there)
            peak_at_ic = d_pre < _PRE_PEAK_MIN_S
            if peak_at_ic:
                pre = f
            rng_sw = pre - prev_pmin
            fk = (0.15, 0.40, 0.70, 0.2, 0.8) if walk else (0.24, 0.42, 0.66, 0.1, 0.82)
            # the pitch's minimum after the toe-off: late enough that the pitch rate only
            # recovers from its toe-off value (twice the fall at that rate; real walkers and
            # runners: the fastest plantar flexion is at the toe-off, the rate rises after it,
            # e.g. the gaitmap MS walk of the real-data folder); before the next knot
            d_min = 2.0 * (prev_pto - prev_pmin) / max(abs(prev_rate), 1.0)
            d_min = max(fk[0] * t_sw, min(d_min, 0.8 * fk[1] * t_sw))
            pk_t += [prev_to + d_min, prev_to + fk[1] * t_sw, prev_to + fk[2] * t_sw]
            pk_y += [prev_pmin, prev_pmin + fk[3] * rng_sw, prev_pmin + fk[4] * rng_sw]
            pk_dy += [np.nan, np.nan, np.nan]
            if not peak_at_ic:
                pk_t.append(t_ic[i] - d_pre)
                pk_y.append(pre)
                pk_dy.append(np.nan)
            pk_t += [t_ic[i], t_ff[i], t_ho[i], t_ic[i] + tc[i]]
            pk_y += [f, 0.0, 0.0, pitch_to[i]]
            # a single fast push-off: the pitch keeps falling fast through toe-off, where the
            # pitch rate is at its minimum (running: Falbriard et al. 2018, 41 runners on a
            # force treadmill, the late pitch-rate minimum is the most precise toe-off feature;
            # the real treadmill runner's lies at the marker toe-off). 1.8 x the mean push-off
            # rate puts that minimum at the toe-off knot (1.4 put it ~32 ms before it)
            to_rate = 1.8 * pitch_to[i] / (t_ic[i] + tc[i] - t_ho[i])
            pk_dy += [0.0 if peak_at_ic else np.nan, np.nan, np.nan, to_rate]
            # eversion
            ev_t += [prev_to + 0.45 * t_sw, t_ic[i] - 0.12 * t_sw, t_ic[i], t_ic[i] + d_ev[i]]
            ev_y += [-0.5, ev_ic[i] + 1.5, ev_ic[i], ev_ic[i] + exc[i]]
            ev_t += [t_ho[i], t_ic[i] + tc[i]]
            ev_y += [ev_ic[i] + exc[i] - min(1.0, 0.25 * exc[i]), ev_ic[i] + 0.25 * exc[i]]
            # yaw: constant in stance, a small swing excursion
            yw_t += [prev_to + 0.5 * t_sw, t_ic[i], t_ic[i] + tc[i]]
            yw_y += [0.5 * (self.yaw_c[j - 1] + yaw[i]) + sgn * 3.0, yaw[i], yaw[i]]
            # heights of the lowest sole point at the swing knots
            if walk:
                zk[i] = (0.08, 0.05, 0.018)
            else:
                zk[i] = ((0.08 + 0.03 * speed[i]) * sty["kick"], 0.08, 0.0)
            zk[i, 2] = max(zk[i, 2], 0.6 * v_td[i] * 0.15 * t_sw + 0.015)
            prev_to = t_ic[i] + tc[i]
            prev_pmin = pitch_min[i]
            prev_pto = pitch_to[i]
            prev_rate = to_rate
        pk_dy[1] = 1.3 * pitch_to0 * 0.95 / (first_to - t_ho0)
        self.pitch = QuinticHermite(np.array(pk_t), np.array(pk_y), np.array(pk_dy))
        self.ev = QuinticHermite(np.array(ev_t), np.array(ev_y))
        self.yaw = QuinticHermite(np.array(yw_t), np.array(yw_y))
        self.n_contacts = n
        self._build_swing_path(sw_to, zk, walk)
        # impact ringing of the shoe (real shoe IMUs: a damped 25-60 Hz oscillation after each
        # touch-down, mostly vertical, that clips asymmetrically at small ranges); off by
        # default (random numbers drawn only when on, so other sessions are unchanged)
        self.ring_scale = np.zeros(n + 1)
        if sc.foot_ring_g > 0:
            tau = np.linspace(0.0, 0.2, 4001)
            _, dd = _impact_shape(tau, sc.foot_ring_tau_s, sc.foot_ring_hz)
            amp = sc.foot_ring_g * G / float(np.max(np.abs(dd)))
            self.ring_scale[1:] = amp * np.clip(1.0 + 0.25 * rng.standard_normal(n), 0.3, 2.0)
        self.ring_hz = float(sc.foot_ring_hz)
        self.ring_tau = float(sc.foot_ring_tau_s)
        self.wobble_dps = float(sc.stance_wobble_dps)
        self.swing_coupling = float(sc.swing_inversion_coupling) + sty["swing_coupling"]

    def _wobble(self, t, ev, evd, ps, psd):
        """Roll of a foot that is not still in its stance (real running feet: 25-90 deg/s at
        the stillest instant): ``B (sin(2 pi u) + 0.5 sin(4 pi u))`` of eversion over the
        stance (``u`` 0 to 1 from IC to TO), peak rate about ``stance_wobble_dps``. Only the
        roll about the shoe's long axis: the pitch (the truth's flat instant) and the heel-
        to-ball pivot geometry are unchanged (a yaw would move the ball pivot)."""
        i = np.clip(np.searchsorted(self.t_ic, t, side="right") - 1, 0, self.t_ic.size - 1)
        span = np.maximum(self.t_to[i] - self.t_ic[i], 1e-3)
        u = (t - self.t_ic[i]) / span
        on = (u >= 0.0) & (u <= 1.0) & (i > 0)
        u = np.where(on, u, 0.0)
        b = self.wobble_dps * span / (4.0 * np.pi)  # deg; rate peak 2 pi B / span * (1 + 1)
        ev = ev + np.where(on, b * (np.sin(2 * np.pi * u) + 0.5 * np.sin(4 * np.pi * u)), 0.0)
        rate = (2 * np.pi * b / span) * (np.cos(2 * np.pi * u) + np.cos(4 * np.pi * u))
        evd = evd + np.where(on, rate, 0.0)
        return ev, evd, ps, psd

    def _swing_roll(self, t, th, thd, ev, evd):
        """Eversion coupled with the pitch in swing (``swing_inversion_coupling`` c):
        ``-c w(u) (pitch - pitch at the next IC)`` with ``w = sin^2(pi u)``, ``u`` 0 to 1 from
        toe-off to the next IC: the stance and the touch-down are unchanged, and the foot
        inverts as it dorsiflexes towards the touch-down (the real treadmill runner: the
        mid-swing rotation axis ~20 deg from the shoe's medio-lateral axis, its forward
        turned medially; the foot 6-8 deg more inverted at IC than at the mid-swing peak)."""
        c = self.swing_coupling
        n = self.t_ic.size
        i = np.clip(np.searchsorted(self.t_ic, t, side="right") - 1, 0, n - 1)
        j = np.minimum(i + 1, n - 1)
        t0 = self.t_to[i]
        t1 = self.t_ic[j]
        span = np.maximum(t1 - t0, 1e-3)
        on = (j > i) & (t >= t0) & (t < t1)
        u = np.where(on, (t - t0) / span, 0.0)
        w = np.sin(np.pi * u) ** 2
        wd = np.pi * np.sin(2.0 * np.pi * u) / span
        d = th - self.pitch(np.where(on, t1, t))
        ev = ev - np.where(on, c * w * d, 0.0)
        evd = evd - np.where(on, c * (wd * d + w * thd), 0.0)
        return ev, evd

    def _rot(self, t: np.ndarray) -> np.ndarray:
        return euler_zyx_matrix(
            self.yaw(t) * _D2R, -self.pitch(t) * _D2R, self.sign * self.ev(t) * _D2R
        )

    def _pivot_origin(self, i: np.ndarray, t: np.ndarray, ball: np.ndarray) -> np.ndarray:
        """Heel position (N,3) if the shoe pivots about the fixed heel/ball of contact ``i``."""
        piv = np.where(ball[:, None], self.ball[i], self.H[i])
        return piv - (L_BALL * ball)[:, None] * self._rot(t)[:, :, 0]

    def _build_swing_path(self, sw_to, zk, walk) -> None:
        """Heel path through each swing: C2 with the stance at toe-off, C1 at contact."""
        n = self.n_contacts
        j = np.arange(1, n + 1)
        i = j - 1
        t_ic = self.t_ic[1:]
        t_sw = t_ic - sw_to
        h = 2e-4
        # toe-off: the ball of contact i was fixed
        ball = np.ones(n, dtype=bool)
        pm, p0, pp = (self._pivot_origin(i, sw_to + d, ball) for d in (-h, 0.0, h))
        v_to = (pp - pm) / (2 * h)
        a_to = (pp - 2 * p0 + pm) / (h * h)
        # contact: landing on the heel (pitch >= 0) or the ball; touch-down velocity
        land_ball = self.s_land[1:] > 0.5
        qm, q0, qp = (self._pivot_origin(j, t_ic + d, land_ball) for d in (-h, 0.0, h))
        v_ic = (qp - qm) / (2 * h)
        a_ic = (qp - 2 * q0 + qm) / (h * h)
        v_ic = v_ic + self.u_td[j, None] * self.fwd[j]
        v_ic[:, 2] -= self.v_td[j]
        # horizontal: one quintic per swing between the toe-off and contact states (smooth
        # transfer, no interior knots); vertical: interior knots set the height of the lowest
        # sole point (ball if the pitch is negative, else heel) for clearance
        T2 = np.stack([sw_to, t_ic], axis=1).ravel()
        self.path_xy = QuinticHermite(
            T2,
            np.stack([p0[:, :2], q0[:, :2]], axis=1).reshape(-1, 2),
            np.stack([v_to[:, :2], v_ic[:, :2]], axis=1).reshape(-1, 2),
            np.stack([a_to[:, :2], a_ic[:, :2]], axis=1).reshape(-1, 2),
        )
        fr = (0.08, 0.3, 0.62)
        zk_t = [sw_to + f * t_sw for f in fr] + [t_ic - 0.15 * t_sw]
        zk_ref = [0.35 * zk[:, 0] * 0.08 / 0.3 + 0.005, zk[:, 0], zk[:, 1], zk[:, 2]]
        zk_heel = []
        for tt, zr in zip(zk_t, zk_ref, strict=True):
            R = self._rot(tt)
            w = R[:, 2, 0] < 0  # pitch < 0: the ball is the lowest point
            zk_heel.append(zr - L_BALL * w * R[:, 2, 0])
        nan = np.full(n, np.nan)
        zero = np.zeros(n)
        self.path_z = QuinticHermite(
            np.stack([sw_to, *zk_t, t_ic], axis=1).ravel(),
            np.stack([p0[:, 2], *zk_heel, q0[:, 2]], axis=1).ravel(),
            np.stack([v_to[:, 2], nan, nan, nan, nan, v_ic[:, 2]], axis=1).ravel(),
            np.stack([a_to[:, 2], zero, zero, zero, zero, a_ic[:, 2]], axis=1).ravel(),
        )

    # -------------------------------------------------------------------------------------
    def pose(self, t: np.ndarray) -> Pose:
        """Pose of the shoe at times ``t`` (s)."""
        t = np.asarray(t, dtype=np.float64)
        th, thd = self.pitch.value_and_rate(t)
        ev, evd = self.ev.value_and_rate(t)
        ps, psd = self.yaw.value_and_rate(t)
        if self.wobble_dps > 0:
            ev, evd, ps, psd = self._wobble(t, ev, evd, ps, psd)
        if self.swing_coupling > 0:
            ev, evd = self._swing_roll(t, th, thd, ev, evd)
        roll = self.sign * ev * _D2R
        rolld = self.sign * evd * _D2R
        beta = -th * _D2R
        R = euler_zyx_matrix(ps * _D2R, beta, roll)
        om = _body_rates(psd * _D2R, beta, -thd * _D2R, roll, rolld)
        nc = self.t_ic.size
        i = np.searchsorted(self.t_ic, t, side="right") - 1
        i = np.clip(i, 0, nc - 1)
        stance = t < self.t_to[i]
        ex = R[:, :, 0]
        # stance: pivot about heel (pitch >= 0) or ball (pitch < 0), sole compression at contact
        tau = t - self.t_ic[i]
        tc = self.tau_c[i]
        e = np.exp(-np.maximum(tau, 0.0) / tc)
        delta = self.v_td[i] * tau * e
        slip = self.u_td[i] * tau * e
        ball_piv = th < 0
        piv = np.where(ball_piv[:, None], self.ball[i], self.H[i])
        piv = piv + slip[:, None] * self.fwd[i]
        piv[:, 2] -= delta
        origin_st = piv - (L_BALL * ball_piv)[:, None] * ex
        path = np.empty_like(origin_st)
        path[:, :2] = self.path_xy(t)
        path[:, 2] = self.path_z(t)
        origin = np.where(stance[:, None], origin_st, path)
        if np.any(self.ring_scale):
            # ringing of the current and previous contact: vertical, and 0.6 of it forward
            for back in (0, 1):
                jj = np.clip(i - back, 0, nc - 1)
                tt = t - self.t_ic[jj]
                d, _ = _impact_shape(tt, self.ring_tau, self.ring_hz)
                d = np.where(tt >= 0, self.ring_scale[jj] * d, 0.0)
                origin = origin + d[:, None] * np.array([0.0, 0.0, 1.0])
                origin = origin + (0.6 * d)[:, None] * self.fwd[jj]
        return Pose(R=R, origin=origin, omega_body=om, pitch=th, roll=ev * self.sign, yaw=ps)

    def lowest_z(self, t: np.ndarray) -> np.ndarray:
        """Height in m of the lowest point of the sole (heel or ball) at times ``t``."""
        p = self.pose(np.asarray(t, dtype=np.float64))
        zh = p.origin[:, 2]
        zb = zh + L_BALL * p.R[:, 2, 0]
        return np.minimum(zh, zb)


class PelvisModel:
    """Pose of the pelvis at any times (see the module docstring)."""

    def __init__(self, plan: GaitPlan, rng: np.random.Generator):
        sc = plan.scenario
        st = plan.steps
        self.plan = plan
        walk = sc.gait == "walk"
        self.walk = walk
        t_ic, tstep, tc = st.t_ic, st.t_step, st.t_contact
        sgn = np.where(st.side == 0, 1.0, -1.0)
        h0 = PELVIS_STANDING_HEIGHT
        self.h0 = h0
        t_go = plan.t_go
        o_st = sc.pelvic_obliquity_standing_deg
        self.obliquity_standing = o_st
        # vertical
        self.t_ic = t_ic
        self.tc = tc
        # a stopped walk (``GaitPlan.t_stop``): at the closing contact the feet are together,
        # the pelvis centred over them without sway, drop, rotation or extra tilt
        live = np.ones(t_ic.size)
        if plan.t_stop is not None:
            live[-1] = 0.0
        if walk:
            amp = 0.5 * sc.schedule(sc.vertical_oscillation_cm, t_ic) / 100.0
            if plan.t_stop is not None:
                amp[-1] *= WALK_CLOSING_BOUNCE
            # the first swing (from standing) is a step too: the centre of mass moves along
            # its arc before the first contact (phase -1 to 0), not frozen until the contact
            t0_sw = t_ic[0] - (t_ic[1] - t_ic[0])
            self.t_swing0 = t0_sw
            self.phase = QuinticHermite(
                np.concatenate(([t0_sw], t_ic)), np.arange(-1.0, t_ic.size, dtype=float)
            )
            self.amp = QuinticHermite(t_ic, amp)
            self.z_mean = h0 - 0.015
        else:
            h_ic = h0 - 0.05
            n = t_ic.size
            v = np.empty(n)
            k = np.empty(n)
            v[0] = -G * (tstep[0] - tc[0]) / 2
            for j in range(n):
                T, Tc = tstep[j], tc[j]
                c = Tc * (2 * T - Tc) / np.pi
                k[j] = (G * T * T / 2 - v[j] * T) / (G * c)
                if j + 1 < n:
                    v[j + 1] = v[j] - G * T + G * k[j] * 2 * Tc / np.pi
            self.h_ic, self.v_ic, self.k = h_ic, v, k
            # transition from standing to the first contact
            t_a = min(t_go - 0.3, t_ic[0] - 0.35)
            self.trans = QuinticHermite(
                np.array([t_a, t_ic[0]]),
                np.array([h0, h_ic]),
                np.array([0.0, v[0]]),
                np.array([0.0, -G]),
            )
        self.t_first = t_ic[0]
        # soft-tissue transient at each contact
        tau = np.linspace(0, 0.2, 4001)
        _, dd = _impact_shape(tau, 0.015, 20.0)
        self.imp_scale = sc.pelvis_impact_g * G / np.max(np.abs(dd))
        # forward speed fluctuation, lateral sway
        v = st.speed
        dx = (0.01 if walk else 0.006 * v) * (1 + 0.1 * rng.standard_normal(v.size)) * live
        sway = (0.02 if walk else 0.012) * live
        t_pre = t_go - 0.5
        if walk:
            # inverted pendulum: fastest in double support (at the contact), slowest at
            # mid-step: the forward offset rises through the contact and falls through
            # single support (braking after the contact, pushed forward before the next)
            kx_t = np.concatenate(
                ([t_pre], np.stack([t_ic + 0.25 * tstep, t_ic + 0.75 * tstep], 1).ravel())
            )
            kx_y = np.concatenate(([0.0], np.stack([0.5 * dx, -0.5 * dx], 1).ravel()))
        else:
            kx_t = np.concatenate(([t_pre], np.stack([t_ic, t_ic + 0.5 * tc], 1).ravel()))
            kx_y = np.concatenate(([0.0], np.stack([np.zeros_like(v), -dx], 1).ravel()))
        kx_t, kx_y = _sorted_unique(kx_t, kx_y)
        self.dx = QuinticHermite(kx_t, kx_y)
        ky_t = np.concatenate(([t_pre], t_ic + 0.5 * tc))
        ky_y = np.concatenate(([0.0], sgn * sway))
        self.dy = QuinticHermite(*_sorted_unique(ky_t, ky_y))
        # orientation knots
        drop = st.drop * live
        rot = sc.pelvic_rotation_deg
        tilt = sc.pelvic_tilt_deg
        peak_f = 0.4 if not walk else 0.3
        ob_t = np.concatenate(([t_pre], np.stack([t_ic, t_ic + peak_f * tc], 1).ravel()))
        ob_y = np.concatenate(
            ([o_st], np.stack([o_st + sgn * 0.25 * drop, o_st + sgn * drop], 1).ravel())
        )
        if not walk:
            ob_t = np.concatenate((ob_t, t_ic + tc))
            ob_y = np.concatenate((ob_y, o_st + sgn * 0.35 * drop))
        self.obl = QuinticHermite(*_sorted_unique(ob_t, ob_y))
        tl_t = np.concatenate(([t_pre], np.stack([t_ic, t_ic + 0.5 * tc], 1).ravel()))
        tl_y = np.concatenate(
            ([0.0], np.stack([(-tilt + 1.0) * live, (-tilt - 1.0) * live], 1).ravel())
        )
        self.tilt = QuinticHermite(*_sorted_unique(tl_t, tl_y))
        yw_t = np.concatenate(([t_pre], t_ic))
        yw_y = np.concatenate(
            ([0.0], -sgn * rot * (1 + 0.1 * rng.standard_normal(sgn.size)) * live)
        )
        self.yaw = QuinticHermite(*_sorted_unique(yw_t, yw_y))

    def _z(self, t: np.ndarray) -> np.ndarray:
        t_ic = self.t_ic
        j = np.clip(np.searchsorted(t_ic, t, side="right") - 1, 0, t_ic.size - 1)
        tau = t - t_ic[j]
        if self.walk:
            # from standing: no double-support push before the first swing (phase -1 to
            # -0.75), the single-support arc grows in before the first contact
            t_sw = self.t_first - self.t_swing0
            ramp = smootherstep((t - (self.t_swing0 + 0.25 * t_sw)) / (0.75 * t_sw))
            z = (
                self.z_mean
                + 0.01 * (1 - ramp)
                + ramp * self.amp(t) * walk_height_shape(self.phase(t))
            )
        else:
            Tc = self.tc[j]
            k = self.k[j]
            phi = np.where(
                tau <= Tc,
                (Tc / np.pi) * (tau - (Tc / np.pi) * np.sin(np.pi * np.minimum(tau, Tc) / Tc)),
                Tc * Tc / np.pi + (2 * Tc / np.pi) * (tau - Tc),
            )
            z_run = self.h_ic + self.v_ic[j] * tau - G * tau * tau / 2 + G * k * phi
            z = np.where(t < self.t_first, self.trans(t), z_run)
        # soft tissue transients of the current and previous contact
        for back in (0, 1):
            jj = np.clip(j - back, 0, t_ic.size - 1)
            tt = t - t_ic[jj]
            d, _ = _impact_shape(tt, 0.015, 20.0)
            z = z + np.where(tt >= 0, self.imp_scale * d, 0.0)
        return z

    def pose(self, t: np.ndarray) -> Pose:
        """Pose of the pelvis at times ``t`` (s)."""
        t = np.asarray(t, dtype=np.float64)
        ob, obd = self.obl.value_and_rate(t)
        tl, tld = self.tilt.value_and_rate(t)
        yw, ywd = self.yaw.value_and_rate(t)
        beta = -tl * _D2R
        R = euler_zyx_matrix(yw * _D2R, beta, ob * _D2R)
        om = _body_rates(ywd * _D2R, beta, -tld * _D2R, ob * _D2R, obd * _D2R)
        origin = np.empty((t.size, 3))
        origin[:, 0] = self.plan.x_base(t) + self.dx(t)
        origin[:, 1] = self.dy(t)
        origin[:, 2] = self._z(t)
        return Pose(R=R, origin=origin, omega_body=om, pitch=tl, roll=ob, yaw=yw)


def _sorted_unique(t: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    o = np.argsort(t, kind="stable")
    t, y = t[o], y[o]
    keep = np.concatenate(([True], np.diff(t) > 1e-6))
    return t[keep], y[keep]


class GaitPlan:
    """Gait events and the pose models of one session.

    Parameters
    ----------
    scenario : Scenario
    seed : int
    horizon_s : float, optional
        Plan this far (default: the scenario's duration); contacts continue a little beyond so
        the last ones have a next contact.
    """

    def __init__(self, scenario: Scenario, seed: int = 0, horizon_s: float | None = None):
        scenario.validate()
        self.scenario = sc = scenario
        self.seed = int(seed)
        rng = np.random.default_rng([self.seed, 7])
        # the runner's own style: session-level deviations from the nominal shapes
        srng = np.random.default_rng([self.seed, 17])
        rv = float(sc.runner_variation)
        z = srng.standard_normal(6) * rv
        self.style = {
            "ho_frac": float(np.clip(0.04 * z[0], -0.08, 0.08)),
            "slap": float(np.exp(0.2 * z[1])),
            "push": float(np.exp(0.12 * z[2])),
            "pitch_min": float(6.0 * z[3]),
            "kick": float(np.exp(0.25 * z[4])),
            "impact": float(np.exp(0.25 * z[5])),
        }
        # the shoe's axes vary between runners with ``foot_axes_variation`` (from a generator
        # of their own): toe-out (foot progression angle) ±4 deg, inversion at contact ±3 deg
        # and an oblique swing (``swing_inversion_coupling``) 0.2 ± 0.12, so the heel-toe axis
        # differs from the swing axis and from the direction of travel as on real runners
        fv = float(sc.foot_axes_variation)
        zr = np.random.default_rng([self.seed, 19]).standard_normal(3)
        self.style["toe_out"] = fv * float(np.clip(4.0 * zr[0], -8.0, 8.0))
        self.style["ev_ic"] = fv * float(np.clip(3.0 * zr[1], -6.0, 6.0))
        self.style["swing_coupling"] = fv * float(np.clip(0.2 + 0.12 * zr[2], 0.0, 0.5))
        horizon = float(horizon_s if horizon_s is not None else sc.duration_s)
        self.horizon_s = horizon
        walk = sc.gait == "walk"
        standing = sc.standing_s > 0
        self.t_go = sc.standing_s if standing else -3.0
        # --- speed and forward progression ---------------------------------------------
        t0 = min(self.t_go, 0.0) - 4.0
        tg = np.arange(t0, horizon + 6.0, 0.05)
        v = sc.schedule(sc.speed_mps, tg)
        if sc.speed_wander > 0 and not sc.treadmill:
            wander = np.zeros_like(tg)
            for period in (23.0, 47.0, 97.0, 211.0):
                wander += np.sin(2 * np.pi * tg / period + rng.uniform(0, 2 * np.pi))
            v = v * (1 + sc.speed_wander * wander / 2.0)
        ramp = smootherstep((tg - (self.t_go - 0.4)) / (1.6 if walk else 2.0)) if standing else 1.0
        v = v * ramp
        dv = np.gradient(v, tg)
        x = np.concatenate(([0.0], np.cumsum(0.5 * (v[1:] + v[:-1]) * np.diff(tg))))
        x -= np.interp(0.0, tg, x)
        self.x_base = QuinticHermite(tg, x, v, dv)
        # --- step events ------------------------------------------------------------------
        t_end = horizon + 3.0
        if standing:
            cad0 = float(sc.schedule(sc.cadence_spm, self.t_go))
            ts0 = 60.0 / cad0
            tc0 = self._contact_time(ts0, self.t_go)
            t = self.t_go + 2 * ts0 - tc0  # the first foot's toe-off is at t_go
        else:
            t = self.t_go
        tics, tsteps = [], []
        while t < t_end:
            cad = float(sc.schedule(sc.cadence_spm, t)) * (
                1 + sc.cadence_cv * rng.standard_normal()
            )
            ts = 60.0 / cad
            tics.append(t)
            tsteps.append(ts)
            t += ts
        t_ic = np.array(tics)
        t_step = np.array(tsteps)
        #: the walk's closing contact (``Scenario.walk_stop_s``), s; None: no stop
        self.t_stop: float | None = None
        if walk and sc.walk_stop_s is not None:
            # the last contact at or before the stop closes the walk, a short step after the
            # one before it; the walker slows to a stand over the last step
            k = max(3, int(np.searchsorted(t_ic, float(sc.walk_stop_s), side="right")))
            t_ic, t_step = t_ic[:k].copy(), t_step[:k].copy()
            t_ic[-1] = t_ic[-2] + WALK_CLOSING_STEP * t_step[-2]
            t_step[-1] = t_step[-2]
            self.t_stop = float(t_ic[-1])
            ts_last = float(t_step[-2])
            v = v * (1.0 - smootherstep((tg - (self.t_stop - 1.5 * ts_last)) / (1.5 * ts_last)))
            dv = np.gradient(v, tg)
            x = np.concatenate(([0.0], np.cumsum(0.5 * (v[1:] + v[:-1]) * np.diff(tg))))
            x -= np.interp(0.0, tg, x)
            self.x_base = QuinticHermite(tg, x, v, dv)
        n = t_ic.size
        t_nom = 60.0 / sc.schedule(sc.cadence_spm, t_ic)
        tc = np.array([self._contact_time(a, b) for a, b in zip(t_nom, t_ic, strict=True)])
        tc *= 1 + sc.contact_time_cv * rng.standard_normal(n)
        if not walk:
            tc = np.clip(tc, 0.4 * t_step, 0.92 * t_step)
        side = np.arange(n) % 2
        first_side = 0
        side = (side + first_side) % 2
        speed = np.interp(t_ic, tg, v)
        off = np.where(side == 0, sc.foot_strike_offset_deg[0], sc.foot_strike_offset_deg[1])
        fsa = sc.schedule(sc.foot_strike_angle_deg, t_ic) + off
        fsa = fsa + sc.foot_strike_sd_deg * rng.standard_normal(n)
        drop_cmd = np.where(side == 0, sc.pelvic_drop_deg[0], sc.pelvic_drop_deg[1])
        drop = np.maximum(drop_cmd + 0.5 * rng.standard_normal(n), 0.3)
        self.steps = Steps(t_ic, side, t_step, tc, speed, fsa, drop)
        # toe-off of the standing posture (or of the contact before the first planned one)
        self.first_to = {}
        for s, name in enumerate(_SIDES):
            idx = int(np.flatnonzero(side == s)[0])
            t_sw = 2 * t_step[idx] - tc[idx]
            if idx >= 2:
                t_sw = t_ic[idx] - (t_ic[idx - 2] + tc[idx - 2])
            self.first_to[name] = t_ic[idx] - t_sw
        self.feet = {
            name: FootModel(name, self, np.flatnonzero(side == s), rng)
            for s, name in enumerate(_SIDES)
        }
        self.pelvis = PelvisModel(self, rng)
        #: first time anything moves (end of the standing period)
        self.t_motion = min(self.first_to.values()) - 0.6 if standing else -np.inf

    def _contact_time(self, t_step: float, t: float) -> float:
        sc = self.scenario
        if sc.gait == "walk":
            return sc.duty_factor * 2 * t_step
        vo = float(sc.schedule(sc.vertical_oscillation_cm, t)) / 100.0
        tc = (t_step**2 / 8 - vo / G) / (t_step * (0.25 - 1 / (2 * np.pi)))
        return float(np.clip(tc, 0.45 * t_step, 0.9 * t_step))
