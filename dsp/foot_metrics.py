"""Per-contact metrics of one foot from its events and the foot-frame signals.

Definitions follow ``shared/spec/analysis-output.md`` and ``docs/coordinate_systems.md``:

* foot pitch = elevation of ``ap`` above the horizontal; foot strike angle = pitch at IC minus
  pitch at foot-flat (> 0: toes up). The orientation comes from
  :class:`dsp.orientation.StrideKinematics`, anchored at foot-flat by gravity, integrated
  backwards to IC and forwards to the next foot-flat with the drift removed there (Falbriard et
  al. 2020, Front Bioeng Biotechnol 8:65, report 2.0 ± 5.9° for this angle against motion
  capture).
* eversion = elevation of the lateral axis (``-ml`` on the right shoe, ``+ml`` on the left);
  pronation excursion = its stance peak minus its value at IC; max pronation velocity = peak
  eversion rate (``-gyr_ap`` right, ``+gyr_ap`` left) during stance.
* stride length = horizontal travel between this foot-flat and the next, by zero-velocity-aided
  integration (Zrenner et al. 2018, "Comparison of different algorithms for calculating
  velocity and stride length in running using inertial measurement units", Sensors 18(12):4194:
  0.02 ± 0.16 m); speed = stride length / stride time.
* peak impact = largest specific-force magnitude within ``impact_window_s`` after IC, in g.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dsp.block import STANDARD_GRAVITY
from dsp.contact import FOREFOOT_BELOW_DEG, REARFOOT_ABOVE_DEG, strike_type_from_angle
from dsp.filters import centered_moving_average, samples_for
from dsp.foot_events import ContactEvents
from dsp.orientation import StrideKinematics, elevation_deg

__all__ = [
    "MetricSettings",
    "contact_metrics",
    "eversion_deg",
    "eversion_rate_dps",
    "foot_pitch_deg",
]

#: Samples of the time-normalised pitch curve handed to the viewer (0 to 100 % of the stride).
TRACE_POINTS = 101


def foot_pitch_deg(rot: np.ndarray) -> np.ndarray:
    """Foot pitch (deg, > 0 toes up): elevation of ``ap``; ``rot`` (N, 3, 3) body-to-world."""
    return elevation_deg(rot, 0)


def eversion_deg(rot: np.ndarray, side: str) -> np.ndarray:
    """Eversion angle (deg, > 0 lateral edge up): elevation of ``-ml`` (right) / ``+ml`` (left).

    Parameters
    ----------
    rot : ndarray, shape (N, 3, 3)
        Body-to-world rotations of the shoe.
    side : str
        ``"left"`` or ``"right"``.
    """
    return _side_sign(side) * elevation_deg(rot, 1)


def eversion_rate_dps(gyr: np.ndarray, side: str) -> np.ndarray:
    """Eversion rate (deg/s): ``-gyr_ap`` on the right shoe, ``+gyr_ap`` on the left.

    Parameters
    ----------
    gyr : ndarray, shape (N, 3)
        Foot-frame angular rate (``ap, ml, vt``), deg/s.
    """
    return _side_sign(side) * gyr[:, 0]


def _side_sign(side: str) -> float:
    if side not in ("left", "right"):
        raise ValueError(f"side {side!r}, expected 'left' or 'right'")
    return 1.0 if side == "left" else -1.0


@dataclass(frozen=True)
class MetricSettings:
    """Parameters of the per-contact metrics.

    Attributes
    ----------
    rearfoot_above_deg, forefoot_below_deg : float
        Strike-type thresholds (Altman & Davis 2012), deg.
    impact_window_s : float
        Window after IC for ``peak_impact``, s (spec: 50 ms).
    pronation_smooth_ms : float
        Smoothing of the eversion rate before its peak is taken, ms.
    max_stride_length_m : float
        Stride lengths above this are implausible for running: the row is rejected.
    max_tilt_error_deg : float
        Drift larger than this between two foot-flats means the integration is not trusted
        (stride length and speed left empty, row flagged rejected).
    """

    rearfoot_above_deg: float = REARFOOT_ABOVE_DEG
    forefoot_below_deg: float = FOREFOOT_BELOW_DEG
    impact_window_s: float = 0.05
    pronation_smooth_ms: float = 4.0
    max_stride_length_m: float = 6.0
    max_tilt_error_deg: float = 25.0


def contact_metrics(
    t: np.ndarray,
    acc: np.ndarray,
    gyr: np.ndarray,
    ev: ContactEvents,
    nxt: ContactEvents | None,
    *,
    side: str,
    sampling_rate_hz: float,
    settings: MetricSettings,
    gravity: float = STANDARD_GRAVITY,
) -> tuple[dict[str, float | str | None], np.ndarray | None]:
    """Metrics of one contact (and of the stride to the next contact, when given).

    Parameters
    ----------
    t : ndarray, shape (N,)
        Times, s, covering ``ev.ic`` to ``nxt.ic`` (or ``ev.to`` plus the impact window).
    acc, gyr : ndarray, shape (N, 3)
        Foot-frame specific force (m/s²) and angular rate (deg/s).
    ev, nxt : ContactEvents
        This contact and the next one of the same foot (``None``: no stride metrics).
    side : str
        ``"left"`` or ``"right"`` (mirrors eversion).

    Returns
    -------
    metrics : dict
        Keys named like the STRIDES.csv columns; ``None`` where not measurable. Extra key
        ``tilt_error_deg``.
    trace : ndarray, shape (TRACE_POINTS,) or None
        Foot pitch in deg from this IC to the next IC, time-normalised.
    """
    fs = sampling_rate_hz
    out: dict[str, float | str | None] = {}
    kin = StrideKinematics(sampling_rate_hz=fs, gravity=gravity)
    kin.fit(t, acc, gyr, ev.ms, None if nxt is None else nxt.ms)
    rot = kin.rot_
    pitch = foot_pitch_deg(rot)
    ever = eversion_deg(rot, side)
    p_ic = _at(t, pitch, ev.ic, ev.t_ic)
    fsa = float(p_ic - pitch[ev.ms])
    out["foot_strike_angle"] = fsa
    out["strike_type"] = strike_type_from_angle(
        fsa,
        rearfoot_above_deg=settings.rearfoot_above_deg,
        forefoot_below_deg=settings.forefoot_below_deg,
    )
    st = slice(ev.ic, ev.to + 1)
    out["pronation_excursion"] = float(ever[st].max() - _at(t, ever, ev.ic, ev.t_ic))
    rate = eversion_rate_dps(gyr, side)
    w = samples_for(settings.pronation_smooth_ms / 1000.0, sampling_rate_hz=fs)
    lo = max(0, ev.ic - w)
    rate_s = centered_moving_average(rate[lo : ev.to + w + 1], window=w)
    out["max_pronation_velocity"] = float(max(0.0, rate_s[ev.ic - lo : ev.to - lo + 1].max()))
    out["contact_time"] = float(ev.t_to - ev.t_ic)
    n_imp = samples_for(settings.impact_window_s, sampling_rate_hz=fs)
    imp = np.linalg.norm(acc[ev.ic : ev.ic + n_imp + 1], axis=1)
    out["peak_impact"] = float(imp.max() / STANDARD_GRAVITY)
    out["tilt_error_deg"] = kin.tilt_error_deg_
    trace = None
    if nxt is not None:
        stride_time = float(nxt.t_ic - ev.t_ic)
        out["stride_time"] = stride_time
        out["cadence"] = 120.0 / stride_time
        d = kin.pos_[nxt.ms] - kin.pos_[ev.ms]
        sl = float(np.hypot(d[0], d[1]))
        out["stride_length"] = sl
        out["speed"] = sl / stride_time
        tt = t[ev.ic : nxt.ic + 1]
        u = (tt - tt[0]) / (tt[-1] - tt[0])
        trace = np.interp(np.linspace(0.0, 1.0, TRACE_POINTS), u, pitch[ev.ic : nxt.ic + 1])
    return out, trace


def _at(t: np.ndarray, x: np.ndarray, i: int, t_at: float) -> float:
    """``x`` linearly interpolated at time ``t_at`` near sample ``i``."""
    if not np.isfinite(t_at) or t_at == t[i]:
        return float(x[i])
    j = i - 1 if t_at < t[i] else i + 1
    j = min(max(j, 0), t.shape[0] - 1)
    if j == i:
        return float(x[i])
    w = (t_at - t[i]) / (t[j] - t[i])
    return float(x[i] + w * (x[j] - x[i]))
