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
  eversion rate (``-gyr_ap`` right, ``+gyr_ap`` left) during stance, its top interpolated
  between samples (a Gaussian through the largest sample and its neighbours, see
  :func:`_peak_between_samples`).
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
from dsp.contact import (
    CONTACT_KEYS,
    FOREFOOT_BELOW_DEG,
    REARFOOT_ABOVE_DEG,
    strike_type_from_angle,
)
from dsp.filters import samples_for
from dsp.foot_events import ContactEvents
from dsp.metrics import cadence_spm
from dsp.orientation import integrate_windows, pack_windows

__all__ = [
    "MetricSettings",
    "contact_metrics",
    "contact_metrics_batch",
    "eversion_deg",
    "eversion_rate_dps",
    "foot_axes",
    "foot_heading_deg",
    "foot_pitch_deg",
]

#: Samples of the time-normalised pitch curve handed to the viewer (0 to 100 % of the stride).
TRACE_POINTS = 101
#: Their positions in the stride, 0 to 1.
_TRACE_AT = np.linspace(0.0, 1.0, TRACE_POINTS)
_TRACE_AT.flags.writeable = False

#: Typical foot progression angle of a runner (toe-out: the heel-to-toe axis turned laterally
#: from the direction of travel), deg; see :func:`foot_heading_deg`. Running toe-out is
#: typically 5-10 deg; 6 is the simulator's runner (set before this was used). The real
#: treadmill runner of the real-data folder: 6 / 13 deg (left / right) against its markers; a
#: runner's own toe-out is not observable from a shoe IMU alone, and each degree off costs
#: sin(1 deg) x the inversion at landing in the strike angle (~0.3 deg on that runner).
TYPICAL_TOE_OUT_DEG = 6.0

#: Height of a shoe sensor above the ground at foot-flat, m (:attr:`MetricSettings.sensor_height_m`).
#: A real foot is not still at its foot-flat: it rolls over the ground (running: 25-90 deg/s
#: at the stillest instant), and a sensor at height ``h`` above the rolling contact moves
#: forward at ``omega_ml h`` there. Assuming zero velocity at both foot-flats shortens the stride
#: by that velocity times the stride time. ``h`` is not observable from the shoe IMU alone (the
#: tangential acceleration around foot-flat gives 2-4 cm on the PyShoe trials, a non-rigid shoe),
#: so it is a fixed assumption: a sensor on the laces, about 7-8 cm above the ground (the
#: simulator's laces mounting 0.075 m; the real treadmill runner's virtual sensor 0.07 m above the
#: heel; PyShoe's, on top of the shoe, 0.10-0.13 m).
TYPICAL_SENSOR_HEIGHT_M = 0.08

#: The foot frame's vertical (``vt``): gravity's direction when the foot is flat.
_FOOT_UP = np.array([0.0, 0.0, 1.0])


def foot_axes(heading_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """The shoe's heel-to-toe and medio-lateral axes in the analysis frame: ``ap`` and ``ml``
    turned by ``heading_deg`` about ``vt`` (from ``ap`` towards ``ml``; see
    :func:`foot_heading_deg`), each shape (3,)."""
    h = np.radians(heading_deg)
    c, s = np.cos(h), np.sin(h)
    return np.array([c, s, 0.0]), np.array([-s, c, 0.0])


def foot_heading_deg(
    progression_deg: float,
    side: str,
    toe_out_deg: float = TYPICAL_TOE_OUT_DEG,
    *,
    keep_below_deg: float = 2.0,
    full_above_deg: float = 5.0,
) -> float:
    """Direction of the shoe's heel-to-toe axis in the analysis frame (deg from ``ap`` towards
    ``ml``): the direction of progression (:attr:`dsp.alignment.AlignmentResult.heading_deg`)
    turned laterally (towards ``+ml`` on the left shoe, ``-ml`` on the right) by the foot
    progression angle ``toe_out_deg``.

    The analysis frame's ``ap`` (the swing axis's forward) is kept when that direction lies
    within ``keep_below_deg`` of it, and the turn grows linearly to the full angle at
    ``full_above_deg``: the progression carries ~1 deg of estimation noise (simulated runners
    whose swing axis is their shoe's: 0.3-1.6 deg off), and each degree costs ~2 % of the max
    pronation velocity (the pitch rate at the slap leaks into the eversion rate), so a turn
    the data do not clearly ask for is not made. The real treadmill runner's shoe axes lie
    15-20 deg from its swing axis.
    """
    h = float(progression_deg) + _side_sign(side) * float(toe_out_deg)
    span = max(float(full_above_deg) - float(keep_below_deg), 1e-9)
    return h * float(np.clip((abs(h) - float(keep_below_deg)) / span, 0.0, 1.0))


def foot_pitch_deg(rot: np.ndarray, heading_deg: float = 0.0) -> np.ndarray:
    """Foot pitch (deg, > 0 toes up): elevation of the heel-to-toe axis (``ap`` turned by
    ``heading_deg``, :func:`foot_axes`); ``rot`` (N, 3, 3) body-to-world."""
    ax, _ = foot_axes(heading_deg)
    return np.degrees(np.arcsin(np.clip(np.asarray(rot)[..., 2, :] @ ax, -1.0, 1.0)))


def eversion_deg(rot: np.ndarray, side: str, heading_deg: float = 0.0) -> np.ndarray:
    """Eversion angle (deg, > 0 lateral edge up): elevation of the lateral axis, ``-ml``
    (right) / ``+ml`` (left), ``ml`` turned by ``heading_deg`` (:func:`foot_axes`).

    Parameters
    ----------
    rot : ndarray, shape (N, 3, 3)
        Body-to-world rotations of the shoe.
    side : str
        ``"left"`` or ``"right"``.
    heading_deg : float
        Direction of the heel-to-toe axis in the analysis frame, deg.
    """
    _, ml = foot_axes(heading_deg)
    z = np.asarray(rot)[..., 2, :] @ ml
    return _side_sign(side) * np.degrees(np.arcsin(np.clip(z, -1.0, 1.0)))


def eversion_rate_dps(gyr: np.ndarray, side: str, heading_deg: float = 0.0) -> np.ndarray:
    """Eversion rate (deg/s): the angular rate about the heel-to-toe axis (``ap`` turned by
    ``heading_deg``), negated on the right shoe (``-gyr_ap`` right, ``+gyr_ap`` left for a
    heading of 0).

    Parameters
    ----------
    gyr : ndarray, shape (N, 3)
        Foot-frame angular rate (``ap, ml, vt``), deg/s.
    """
    ax, _ = foot_axes(heading_deg)
    return _side_sign(side) * (gyr @ ax)


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
    flat_anchor : bool
        The orientation's tilt at foot-flat is the foot frame's own (pitch and roll 0: the
        mounting's vertical, which the alignment pools over many stances of the sensor), not
        the specific force of that instant. A real foot is never still at mid-stance and the
        sensor, some 0.15 m from the rotation point, accelerates there: the instant's gravity
        direction spreads by degrees from stance to stance, and tilt errors that differ at
        the two foot-flats of a stride leak gravity into the horizontal in a way the
        zero-velocity update cannot remove (one shared by both ends can: a constant
        acceleration error is a linear velocity drift). Real treadmill runner (Fukuchi RBDS032):
        stride length 9.1 / 6.4 % -> 1.8 / 2.1 %, strides with a stride length 32/33 -> 37/37.
    toe_out_deg : float
        The foot progression angle assumed when the shoe's heel-to-toe axis is found from the
        direction of progression (:func:`foot_heading_deg`, :data:`TYPICAL_TOE_OUT_DEG`), deg.
    sensor_height_m : float
        Height of the sensor above the ground at foot-flat, m (:data:`TYPICAL_SENSOR_HEIGHT_M`):
        the foot still rolls there and the sensor moves at ``omega x r`` about the contact
        below it; the stride's zero-velocity anchors take that velocity instead of zero. 0:
        the foot is taken as still at foot-flat.
    still_flat_max_gyr_dps, still_flat_max_acc_dev_g, still_flat_max_acc_rms_g, still_flat_half_window_s : float
        A *truly still* foot-flat (with :attr:`flat_anchor`): over ``+-still_flat_half_window_s``
        around it the angular rate stays below ``still_flat_max_gyr_dps``, the mean specific
        force's magnitude within ``still_flat_max_acc_dev_g`` of 1 g and the specific force
        within ``still_flat_max_acc_rms_g`` (RMS) of that mean (a foot-flat still ringing from
        the heel drop is not still). Its tilt is
        then its own mean specific force there (gravity itself: nothing accelerates the
        sensor), not the mounting's pooled vertical: a walking foot often stands still while
        not flat (on its toes or heel while it turns, on an uneven spot), and the pooled
        vertical is then wrong by that attitude at one end of the stride. 0 (any of them):
        never.
    """

    rearfoot_above_deg: float = REARFOOT_ABOVE_DEG
    forefoot_below_deg: float = FOREFOOT_BELOW_DEG
    impact_window_s: float = 0.05
    pronation_smooth_ms: float = 4.0
    max_stride_length_m: float = 6.0
    max_tilt_error_deg: float = 25.0
    flat_anchor: bool = True
    toe_out_deg: float = TYPICAL_TOE_OUT_DEG
    sensor_height_m: float = TYPICAL_SENSOR_HEIGHT_M
    still_flat_max_gyr_dps: float = 20.0
    still_flat_max_acc_dev_g: float = 0.05
    still_flat_max_acc_rms_g: float = 0.04
    still_flat_half_window_s: float = 0.025


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
    heading_deg: float = 0.0,
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
    heading_deg : float
        Direction of the shoe's heel-to-toe axis in the analysis frame (deg from ``ap``
        towards ``ml``, :func:`foot_heading_deg`): pitch, eversion and the eversion rate are
        taken about the shoe's own axes (:func:`foot_axes`).

    Returns
    -------
    metrics : dict
        Keys named like the STRIDES.csv columns; ``None`` where not measurable. Extra key
        ``tilt_error_deg``.
    trace : ndarray, shape (TRACE_POINTS,) or None
        Foot pitch in deg from this IC to the next IC, time-normalised.
    """
    return contact_metrics_batch(
        [(t, acc, gyr, ev, nxt)],
        side=side,
        sampling_rate_hz=sampling_rate_hz,
        settings=settings,
        gravity=gravity,
        heading_deg=heading_deg,
    )[0]


def contact_metrics_batch(
    items: list[tuple[np.ndarray, np.ndarray, np.ndarray, ContactEvents, ContactEvents | None]],
    *,
    side: str,
    sampling_rate_hz: float,
    settings: MetricSettings,
    gravity: float = STANDARD_GRAVITY,
    heading_deg: float = 0.0,
    stride_only: bool = False,
    contact_items: list | None = None,
) -> list[tuple[dict[str, float | str | None], np.ndarray | None]]:
    """:func:`contact_metrics` of many contacts in one vectorised pass.

    Each contact's result depends only on its own window (see
    :func:`dsp.orientation.integrate_windows`), so it is the same whichever contacts are
    computed together: streaming and batch analyses stay bit-identical.

    Parameters
    ----------
    items : list of (t, acc, gyr, ev, nxt)
        The arguments of :func:`contact_metrics` for each contact.
    side, sampling_rate_hz, settings, gravity, heading_deg
        As in :func:`contact_metrics`.
    stride_only : bool
        Only the stride metrics (``stride_time``, ``cadence``, ``stride_length``, ``speed``
        and ``tilt_error_deg``) and the trace, for a caller that has the contact-only ones
        (:data:`dsp.contact.CONTACT_KEYS`) from an earlier pass; an item without a next
        contact gets an empty dict. The windows are read up to the next foot-flat only (with
        the half window of its specific-force average): the same values, less to integrate.
    contact_items : list, optional
        With ``stride_only``: per item, None or the item of the same contact without a next
        one, ``(t, acc, gyr, ev, None)`` (its early window, which ends after toe-off), whose
        contact-only metrics are added to the item's dict: the values of
        ``contact_metrics_batch([contact_item])``. When that window is the start of the
        item's, they are taken from the item's integration (the orientation before its drift
        correction is the shorter window's), else computed in a pass of their own. An item
        without a next contact may be its own contact item: it is integrated in the same pass
        (one call for the early windows of a block and its rows).

    Returns
    -------
    list of (metrics, trace)
        One per item, in order.
    """
    if not items:
        return []
    fs = sampling_rate_hz
    h = max(0, round(0.005 * fs))  # StrideKinematics' default still half window
    hs = _still_flat_half(settings, fs)
    if stride_only:
        # the samples after the next foot-flat's average are read by no stride metric (the
        # integration of each sample uses only the samples before it); an item without a next
        # contact is integrated only for its contact window's metrics (in the same pass)
        todo, windows = [], []
        for i, (t, a, g, _, nxt) in enumerate(items):
            if nxt is not None:
                e = nxt.ms + max(h, hs) + 1
                windows.append((t[:e], a[:e], g[:e]))
            elif contact_items is not None and contact_items[i] is not None:
                windows.append(contact_items[i][:3])
            else:
                continue
            todo.append(i)
    else:
        todo = list(range(len(items)))
        windows = [(it[0], it[1], it[2]) for it in items]
    # contact windows served by this pass's integration (by position in todo), and the rest
    shared: list[tuple[int, tuple]] = []
    alone: list[int] = []
    if stride_only and contact_items is not None:
        pos_of = {i: p for p, i in enumerate(todo)}
        for i, c in enumerate(contact_items):
            if c is None:
                continue
            p = pos_of.get(i)
            if p is not None and _starts_window(c, windows[p], items[i][3], h, hs, settings):
                shared.append((p, c))
            else:
                alone.append(i)
    out_list: list[tuple[dict[str, float | str | None], np.ndarray | None]] = [
        ({}, None) for _ in items
    ]
    if todo:
        _stride_pass(
            items,
            todo,
            windows,
            shared,
            out_list,
            side=side,
            fs=fs,
            h=h,
            hs=hs,
            settings=settings,
            gravity=gravity,
            heading_deg=heading_deg,
            stride_only=stride_only,
        )
    if alone:
        assert contact_items is not None
        sep = contact_metrics_batch(
            [contact_items[i] for i in alone],
            side=side,
            sampling_rate_hz=fs,
            settings=settings,
            gravity=gravity,
            heading_deg=heading_deg,
        )
        for i, (m, _) in zip(alone, sep, strict=True):
            out_list[i][0].update({k: m[k] for k in CONTACT_KEYS})
    return out_list


def _starts_window(
    c: tuple, window: tuple, ev: ContactEvents, h: int, hs: int, settings: MetricSettings
) -> bool:
    """Whether the contact window ``c`` (t, acc, gyr, ev, None) is the start of ``window``
    (t, acc, gyr) of the same contact ``ev``: the same samples from the same first one, so
    the orientation integrated over the longer window before its drift correction is the
    shorter one's on its samples (with an anchor whose specific-force average, or still test,
    lies in it)."""
    t, a, g, ev_c, _ = c
    m = t.shape[0]
    if m > window[0].shape[0] or ev_c.ic != ev.ic or ev_c.ms != ev.ms:
        return False
    if not settings.flat_anchor and ev_c.ms + h >= m:
        return False
    if settings.flat_anchor and hs > 0 and ev_c.ms + hs >= m:
        return False
    return all(x.tobytes() == y[:m].tobytes() for x, y in zip((t, a, g), window, strict=True))


def _stride_pass(
    items: list,
    todo: list[int],
    windows: list[tuple],
    shared: list[tuple[int, tuple]],
    out_list: list,
    *,
    side: str,
    fs: float,
    h: int,
    hs: int,
    settings: MetricSettings,
    gravity: float,
    heading_deg: float,
    stride_only: bool,
) -> None:
    """The integration and metrics of :func:`contact_metrics_batch`'s items ``todo`` (their
    ``windows``), written into ``out_list``; with the contact-only metrics of the ``shared``
    contact windows (by position in ``todo``) from the same integration."""
    evs = [items[i][3] for i in todo]
    nxts = [items[i][4] for i in todo]
    k = len(todo)
    rows = np.arange(k)
    tt, acc, gyr, n = pack_windows(windows)
    ms = np.array([ev.ms for ev in evs], dtype=np.int64)
    has_n = np.array([nx is not None for nx in nxts])
    n_ms = np.array([-1 if nx is None else nx.ms for nx in nxts], dtype=np.int64)
    n_c = np.array([c[0].shape[0] for _, c in shared], dtype=np.int64)
    up_a = up_b = _FOOT_UP if settings.flat_anchor else None
    if settings.flat_anchor and hs > 0:
        up_a = _still_flat_up(acc, gyr, n, ms, hs, settings, gravity)
        up_b = _still_flat_up(acc, gyr, n, n_ms, hs, settings, gravity)
    kin = integrate_windows(
        tt,
        acc,
        gyr,
        n,
        ms,
        n_ms,
        still_half_window=h,
        gravity=gravity,
        work_efficient=True,
        anchor_up=up_a,
        anchor_up_b=up_b,
        lever_arm_m=_foot_lever_arm(settings.sensor_height_m),
        mask_outside=not stride_only,
        uncorrected_up=int(n_c.max()) if shared else 0,
    )
    # the shoe's own axes (:func:`foot_axes`; for a heading of 0, exactly ``ap`` and ``ml``)
    ax, ml = foot_axes(heading_deg)
    r20, r21 = kin.rot[2, 0], kin.rot[2, 1]
    pitch = _asin_deg(r20 * ax[0] + r21 * ax[1])
    if not stride_only:
        contact = _contact_arrays(
            tt, acc, gyr, n, evs, pitch, r20, r21, ax, ml, side=side, fs=fs, settings=settings
        )
    nb = np.where(has_n, n_ms, ms)
    d = kin.pos[:2, rows, nb] - kin.pos[:2, rows, ms]
    sl_all = np.hypot(d[0], d[1])
    for i, ev, nxt, (t, _a, _g) in zip(range(k), evs, nxts, windows, strict=True):
        out: dict[str, float | str | None] = {}
        if stride_only and nxt is None:  # (integrated for its contact window only)
            out_list[todo[i]] = (out, None)
            continue
        if not stride_only:
            out.update(_contact_dict(i, ev, contact, settings))
        out["tilt_error_deg"] = float(kin.tilt_error_deg[i])
        trace = None
        if nxt is not None:
            stride_time = float(nxt.t_ic - ev.t_ic)
            out["stride_time"] = stride_time
            out["cadence"] = cadence_spm(stride_time)
            sl = float(sl_all[i])
            out["stride_length"] = sl
            out["speed"] = sl / stride_time
            seg = t[ev.ic : nxt.ic + 1]
            u = (seg - seg[0]) / (seg[-1] - seg[0])
            trace = np.interp(_TRACE_AT, u, pitch[i, ev.ic : nxt.ic + 1])
        out_list[todo[i]] = (out, trace)
    if shared:
        # the contact windows' metrics from the orientation before the drift correction, on
        # their own samples (the first n_c of each window)
        sel = np.array([p for p, _ in shared], dtype=np.int64)
        up = kin.up_uncorrected
        assert up is not None
        m = up.shape[2]
        r20u, r21u = up[0][sel], up[1][sel]
        pitch_u = _asin_deg(r20u * ax[0] + r21u * ax[1])
        evs_c = [c[3] for _, c in shared]
        contact = _contact_arrays(
            tt[sel, :m],
            acc[:, sel, :m],
            gyr[:, sel, :m],
            n_c,
            evs_c,
            pitch_u,
            r20u,
            r21u,
            ax,
            ml,
            side=side,
            fs=fs,
            settings=settings,
        )
        for j, ((p, _), ev_c) in enumerate(zip(shared, evs_c, strict=True)):
            out_list[todo[p]][0].update(_contact_dict(j, ev_c, contact, settings))


def _contact_dict(
    i: int, ev: ContactEvents, contact: tuple, settings: MetricSettings
) -> dict[str, float | str | None]:
    """The contact-only metrics of contact ``i`` of :func:`_contact_arrays`' result."""
    fsa, excursion, max_rate, impact = contact
    f = float(fsa[i])
    return {
        "foot_strike_angle": f,
        "strike_type": strike_type_from_angle(
            f,
            rearfoot_above_deg=settings.rearfoot_above_deg,
            forefoot_below_deg=settings.forefoot_below_deg,
        ),
        "pronation_excursion": float(excursion[i]),
        "max_pronation_velocity": float(max_rate[i]),
        "contact_time": float(ev.t_to - ev.t_ic),
        "peak_impact": float(impact[i]),
    }


def _contact_arrays(
    tt: np.ndarray,
    acc: np.ndarray,
    gyr: np.ndarray,
    n: np.ndarray,
    evs: list[ContactEvents],
    pitch: np.ndarray,
    r20: np.ndarray,
    r21: np.ndarray,
    ax: np.ndarray,
    ml: np.ndarray,
    *,
    side: str,
    fs: float,
    settings: MetricSettings,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The contact-only metrics of :func:`contact_metrics_batch` for ``K`` packed windows
    (``tt`` (K, L), ``acc`` and ``gyr`` (3, K, L), ``pitch`` and the world-up row's
    ``r20``, ``r21`` (K, L)): foot strike angle, pronation excursion, max pronation velocity
    and peak impact, each shape (K,)."""
    rows = np.arange(len(evs))
    ic = np.array([ev.ic for ev in evs], dtype=np.int64)
    ms = np.array([ev.ms for ev in evs], dtype=np.int64)
    to = np.array([ev.to for ev in evs], dtype=np.int64)
    t_ic = np.array([ev.t_ic for ev in evs], dtype=np.float64)
    sign = _side_sign(side)
    ever = sign * _asin_deg(r20 * ml[0] + r21 * ml[1])
    p_ic = _at_batch(tt, pitch, ic, t_ic, n)
    fsa = p_ic - pitch[rows, ms]
    idx = np.arange(tt.shape[1])[None, :]
    stance = (idx >= ic[:, None]) & (idx <= to[:, None]) & (idx < n[:, None])
    excursion = np.where(stance, ever, -np.inf).max(axis=1) - _at_batch(tt, ever, ic, t_ic, n)
    # eversion rate smoothed on [ic - w, to + w] (the window shrinks at that span's ends)
    rate = sign * (gyr[0] * ax[0] + gyr[1] * ax[1])
    w = samples_for(settings.pronation_smooth_ms / 1000.0, sampling_rate_hz=fs)
    hw = w // 2
    lo = np.maximum(0, ic - w)[:, None]
    hi = np.minimum(n, to + w + 1)[:, None]
    total = np.zeros(tt.shape)
    count = np.zeros(tt.shape)
    width = tt.shape[1]
    for o in range(-hw, hw + 1):
        src = idx + o
        ok = (src >= lo) & (src < hi)
        shifted = rate[:, np.minimum(np.maximum(src[0], 0), width - 1)]
        total += np.where(ok, shifted, 0.0)
        count += ok
    rate_s = total / np.maximum(count, 1.0)
    max_rate = np.maximum(0.0, _peak_between_samples(rate_s, stance, lo[:, 0], hi[:, 0]))
    n_imp = samples_for(settings.impact_window_s, sampling_rate_hz=fs)
    norm = np.sqrt(acc[0] * acc[0] + acc[1] * acc[1] + acc[2] * acc[2])
    imp_win = (idx >= ic[:, None]) & (idx <= (ic + n_imp)[:, None]) & (idx < n[:, None])
    impact = np.where(imp_win, norm, -np.inf).max(axis=1) / STANDARD_GRAVITY
    return fsa, excursion, max_rate, impact


def _still_flat_half(settings: MetricSettings, fs: float) -> int:
    """Half width (samples) of the truly-still foot-flat test, 0 when it is off."""
    if (
        settings.still_flat_max_gyr_dps <= 0.0
        or settings.still_flat_max_acc_dev_g <= 0.0
        or settings.still_flat_max_acc_rms_g <= 0.0
        or settings.still_flat_half_window_s <= 0.0
    ):
        return 0
    return max(1, round(settings.still_flat_half_window_s * fs))


def _still_flat_up(
    acc: np.ndarray,
    gyr: np.ndarray,
    n: np.ndarray,
    at: np.ndarray,
    hs: int,
    settings: MetricSettings,
    gravity: float,
) -> np.ndarray:
    """Foot-frame up direction (3, K) at the foot-flats ``at`` (K,) of packed windows
    (``acc``, ``gyr`` (3, K, L)): the mean specific force over ``at +- hs`` where the foot is
    truly still there (:class:`MetricSettings`' ``still_flat_*``; the whole span inside the
    window), else the foot frame's own vertical. ``at < 0``: the vertical."""
    k = at.shape[0]
    j = at[:, None] + np.arange(-hs, hs + 1)[None, :]  # (K, 2 hs + 1)
    inside = (at - hs >= 0) & (at + hs < n)
    jj = np.minimum(np.maximum(j, 0), acc.shape[2] - 1)
    rows = np.arange(k)[:, None]
    a = acc[:, rows, jj]  # (3, K, W)
    g = gyr[:, rows, jj]
    g_max = np.sqrt(g[0] * g[0] + g[1] * g[1] + g[2] * g[2]).max(axis=1)
    # each row summed by the same loop, whatever K: batch-invariant
    mean = a.sum(axis=2) / j.shape[1]
    norm = np.sqrt(mean[0] * mean[0] + mean[1] * mean[1] + mean[2] * mean[2])
    d = a - mean[:, :, None]
    rms = np.sqrt((d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sum(axis=1) / j.shape[1])
    still = (
        inside
        & (g_max <= settings.still_flat_max_gyr_dps)
        & (np.abs(norm - gravity) <= settings.still_flat_max_acc_dev_g * gravity)
        & (rms <= settings.still_flat_max_acc_rms_g * gravity)
    )
    up = np.repeat(_FOOT_UP.reshape(3, 1), k, axis=1)
    up[:, still] = mean[:, still] / norm[still]
    return up


def _asin_deg(x: np.ndarray) -> np.ndarray:
    """``np.degrees(np.arcsin(np.clip(x, -1, 1)))`` of a temporary ``x`` (clipped in place:
    the same values without np.clip's per-call overhead)."""
    np.maximum(x, -1.0, out=x)
    np.minimum(x, 1.0, out=x)
    return np.degrees(np.arcsin(x, out=x), out=x)


def _foot_lever_arm(height_m: float) -> np.ndarray | None:
    """Foot-frame position of the sensor from the rolling contact at foot-flat (straight above
    it at ``height_m``), ``None`` for a foot taken as still there."""
    return np.array([0.0, 0.0, height_m]) if height_m > 0.0 else None


def _peak_between_samples(
    x: np.ndarray, where: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    """Largest value of each row of ``x`` over ``where``, refined between samples.

    The sampled maximum of a peak misses its top by up to half a sample interval. When the
    largest sample is a local maximum of ``x`` with both neighbours inside ``[lo, hi)``, a curve
    through the three samples gives the peak value (its vertex lies within half a sample of the
    largest sample):

    * a Gaussian (a parabola through the logarithms of the samples, the three-point Gaussian
      estimator of particle image velocimetry: Willert & Gharib 1991, Exp Fluids 10:181-193;
      compared in Marxen et al. 2000, Exp Fluids 29:145-153) when the three samples are
      positive and the Gaussian through them is at least half a sample wide (sd; log
      second difference >= -4). It is exact for a Gaussian pulse; the parabola only for a peak
      many samples wide. The eversion-rate burst of early stance lasts some 40-70 ms, i.e. 2-7
      samples at 50-100 Hz, and the device's low-pass (about 0.4 x the rate) lowers its top as
      well. For raised-cosine bursts of 40-70 ms through a 2nd-order low-pass at 0.4 x the rate
      (20 sampling phases; ``tests/dsp/test_peak_interpolation.py``) the mean error against the
      burst's top is 0.7-5.6 % (parabola) and 0.2-2.2 % (Gaussian) at 100 Hz, 8-29 % and
      3-28 % at 50 Hz, within 0.3 % for both at >= 208 Hz; the Gaussian overshoots by at most
      2 %. A narrower implied pulse is not resolved by the samples: the logarithm of a small
      neighbour dominates and the Gaussian overshot by up to +85 % on simulated 50 Hz
      contacts, so the parabola is kept there. Simulated runs: max pronation velocity MAPE
      1.7-4.5 % -> 0.6-2.9 % at 100 Hz, 17.5-18 % -> 12.7-13.2 % at 50 Hz (still low: the
      filter's loss); at >= 208 Hz the two agree within 0.1 %;
    * otherwise the parabola through the three samples (it never overshoots a peak whose
      top lies between the largest sample and a neighbour).

    Parameters
    ----------
    x : ndarray, shape (K, L)
    where : ndarray of bool, shape (K, L)
        Samples among which the largest is taken (at least one per row).
    lo, hi : ndarray of int, shape (K,)
        Range of valid samples of ``x`` per row (neighbours outside it are not used).

    Returns
    -------
    ndarray, shape (K,)
    """
    rows = np.arange(x.shape[0])
    xm = np.where(where, x, -np.inf)
    j = xm.argmax(axis=1)
    ya = x[rows, np.maximum(j - 1, 0)]
    yb = x[rows, j]
    yc = x[rows, np.minimum(j + 1, x.shape[1] - 1)]
    curv = ya - 2.0 * yb + yc
    ok = (j - 1 >= lo) & (j + 1 < hi) & (yb >= ya) & (yb >= yc) & (curv < 0)
    vertex = yb - (ya - yc) ** 2 / (8.0 * np.where(ok, curv, -1.0))
    pos = ok & (ya > 0.0) & (yc > 0.0)
    la = np.log(np.where(pos, ya, 1.0))
    lb = np.log(np.where(pos, yb, 1.0))
    lc = np.log(np.where(pos, yc, 1.0))
    lcurv = la - 2.0 * lb + lc
    # a Gaussian through the samples has sd = T / sqrt(-lcurv): at least half a sample
    pos &= (lcurv < 0) & (lcurv >= -4.0)
    gauss = np.exp(lb - (la - lc) ** 2 / (8.0 * np.where(pos, lcurv, -1.0)))
    return np.where(pos, gauss, np.where(ok, vertex, yb))


def _at_batch(t: np.ndarray, x: np.ndarray, i: np.ndarray, t_at: np.ndarray, n: np.ndarray):
    """``x[k]`` linearly interpolated at time ``t_at[k]`` near sample ``i[k]`` (K windows)."""
    rows = np.arange(t.shape[0])
    ti = t[rows, i]
    xi = x[rows, i]
    j = np.where(t_at < ti, i - 1, i + 1)
    j = np.minimum(np.maximum(j, 0), n - 1)
    tj = t[rows, j]
    same = ~np.isfinite(t_at) | (t_at == ti) | (j == i)
    wgt = (t_at - ti) / np.where(same, 1.0, tj - ti)
    return np.where(same, xi, xi + wgt * (x[rows, j] - xi))
