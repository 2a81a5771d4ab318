"""Ground truth measured on the generated motion, with the definitions of the analysis spec.

Every quantity follows ``shared/spec/analysis-output.md`` and ``docs/coordinate_systems.md`` and
is measured on the world-frame poses the signals were derived from (not copied from the scenario
knobs): contact and toe-off times from the height of the lowest sole point, angles from the
orientation matrices, the pelvis' vertical travel from the sensor's own position.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

import numpy as np

from dsp.block import STANDARD_GRAVITY, SampleBlock
from dsp.contact import strike_type_from_angle
from dsp.metrics import cadence_spm
from firmware_bridge.simulator.kinematics import L_BALL

if TYPE_CHECKING:
    from firmware_bridge.simulator.session import SignalGenerator

__all__ = ["TRUTH_FORMAT", "TRUTH_VERSION", "block_stats", "measure_truth"]

TRUTH_FORMAT = "runform-truth"
TRUTH_VERSION = 1
_TOUCH_M = 1e-10  # the sole "leaves" the ground once its lowest point is this high (m)
_N_STANCE = 300  # samples per stance for peaks
_N_STEP = 300  # samples per step for the vertical oscillation


def _bisect(f, lo: np.ndarray, hi: np.ndarray, n_iter: int = 48) -> np.ndarray:
    """Vectorised bisection: ``f(lo) > 0 >= f(hi)`` elementwise; returns the crossing times."""
    lo, hi = lo.astype(float).copy(), hi.astype(float).copy()
    for _ in range(n_iter):
        mid = 0.5 * (lo + hi)
        pos = f(mid) > 0
        lo = np.where(pos, mid, lo)
        hi = np.where(pos, hi, mid)
    return 0.5 * (lo + hi)


def _jsonable(x: object) -> object:
    """Scenario fields as plain JSON types (tuples -> lists, arrays -> nested lists)."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    return x


def block_stats(blocks: dict[str, SampleBlock]) -> dict[str, dict]:
    """The per-sensor counts :func:`measure_truth` reports, from whole-session blocks."""
    out = {}
    for sid, b in blocks.items():
        out[sid] = {
            "gaps": b.gaps,
            "samples": len(b),
            "last_seq": int(b.seq[-1]) if b.seq is not None and len(b) else -1,
        }
    return out


def _grid_reduce(t0: np.ndarray, t1: np.ndarray, n: int, fn, batch: int = 256) -> np.ndarray:
    """Apply ``fn`` to (B, n) time grids spanning [t0, t1] per row, in batches; concatenate."""
    u = np.linspace(0.0, 1.0, n)
    out = []
    for b in range(0, t0.size, batch):
        a, e = t0[b : b + batch], t1[b : b + batch]
        out.append(fn(a[:, None] + (e - a)[:, None] * u[None, :]))
    return np.concatenate(out) if out else np.empty(0)


def _r(x: float | None, nd: int = 6) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return round(float(x), nd)


def _eversion(R: np.ndarray, sign: float) -> np.ndarray:
    """Eversion elevation angle (deg): lateral axis = sign * ml (left +1, right -1)."""
    return np.rad2deg(np.arcsin(np.clip(sign * R[..., 2, 1], -1, 1)))


def _pitch(R: np.ndarray) -> np.ndarray:
    return np.rad2deg(np.arcsin(np.clip(R[..., 2, 0], -1, 1)))


def measure_truth(
    gen: SignalGenerator,
    stats: dict[str, dict],
    markers: list[tuple[float, str, str]],
) -> dict:
    """Measure the truth of a generated session (see ``docs/simulator.md`` for every field).

    Parameters
    ----------
    gen : SignalGenerator
        The generator the signals came from (its plan and sensor models).
    stats : dict
        Per sensor id: ``gaps`` (M, 2), ``samples`` (delivered) and ``last_seq``; see
        :func:`block_stats`.
    markers : list of (t, label, kind)
    """
    sc = gen.scenario
    plan = gen.plan
    dur = float(sc.duration_s)
    # --- standing ---------------------------------------------------------------------------
    standing: list[list[float]] = []
    if sc.standing_s > 0:
        t_move = min(
            plan.t_go - 0.5,
            min(float(f.t_ho[0]) for f in plan.feet.values()),
            float(plan.pelvis.trans.t[0]) if hasattr(plan.pelvis, "trans") else plan.t_go - 0.5,
        )
        standing.append([0.0, round(max(float(t_move), 0.0), 6)])
    # --- feet ---------------------------------------------------------------------------------
    contacts: list[dict] = []
    foot_events: dict[str, dict[str, np.ndarray]] = {}
    for side, foot in plan.feet.items():
        placement = f"{side}_foot"
        sign = 1.0 if side == "left" else -1.0
        ic_d = foot.t_ic[1:]
        to_d = foot.t_to[1:]
        ok = (ic_d - 0.02 >= 0) & (to_d + 0.02 <= dur)
        idx = np.flatnonzero(ok) + 1
        if idx.size == 0:
            foot_events[side] = {"t_ic": np.empty(0), "t_to": np.empty(0)}
            continue
        t_ic = _bisect(foot.lowest_z, foot.t_ic[idx] - 0.015, foot.t_ic[idx] + 0.004)

        def lifted(t: np.ndarray, foot=foot) -> np.ndarray:
            return _TOUCH_M - foot.lowest_z(t)

        t_to = _bisect(lifted, foot.t_to[idx] - 0.004, foot.t_to[idx] + 0.012)

        # stance grids (in batches of contacts, to bound memory on long sessions)
        def stance_stats(tg: np.ndarray, foot=foot, sign=sign) -> np.ndarray:
            pg = foot.pose(tg.ravel())
            pitch = _pitch(pg.R).reshape(tg.shape)
            ev = _eversion(pg.R, sign).reshape(tg.shape)
            ev_rate = (sign * np.rad2deg(pg.omega_body[:, 0])).reshape(tg.shape)
            origin = pg.origin.reshape(*tg.shape, 3)
            out = np.full((tg.shape[0], 6), np.nan)
            out[:, 4] = ev.max(axis=1)
            out[:, 5] = ev_rate.max(axis=1)
            # foot-flat: middle of the run of samples with the sole flat (|pitch| < 0.05 deg)
            flat = np.abs(pitch) < 0.05
            for k in range(tg.shape[0]):
                w = np.flatnonzero(flat[k])
                if w.size:
                    m = w[w.size // 2]
                    out[k, 0] = tg[k, m]
                    out[k, 1:3] = origin[k, m, :2]
            return out

        st = _grid_reduce(t_ic, t_to, _N_STANCE, stance_stats)
        t_ff, x_ff, ev_peak, vmax = st[:, 0], st[:, 1:3], st[:, 4], np.maximum(st[:, 5], 0.0)
        p_ic = _pitch(foot.pose(t_ic).R)
        p_ff = _pitch(foot.pose(np.nan_to_num(t_ff)).R)
        ev_ic = _eversion(foot.pose(t_ic).R, sign)
        exc = ev_peak - ev_ic
        # peak impact of the ideal specific force in the first 50 ms
        peak_imp = np.full(idx.size, np.nan)
        if placement in gen.models:

            def impact(tg: np.ndarray, placement=placement, h=1.0 / 20000.0) -> np.ndarray:
                tt = tg.ravel()
                a = (
                    gen.sensor_position(placement, tt + h)
                    - 2 * gen.sensor_position(placement, tt)
                    + gen.sensor_position(placement, tt - h)
                ) / (h * h)
                a[:, 2] += STANDARD_GRAVITY
                return np.linalg.norm(a, axis=1).reshape(tg.shape).max(axis=1) / STANDARD_GRAVITY

            peak_imp = _grid_reduce(t_ic, t_ic + 0.05, 201, impact)
        foot_events[side] = {"t_ic": t_ic, "t_to": t_to}
        for k in range(idx.size):
            fsa = float(p_ic[k] - p_ff[k])
            last = k + 1 >= idx.size
            stride_t = None if last else float(t_ic[k + 1] - t_ic[k])
            sl = None if last else float(np.hypot(*(x_ff[k + 1] - x_ff[k])))
            contacts.append(
                {
                    "sensor_id": placement,
                    "side": side,
                    "t_ic": _r(t_ic[k]),
                    "t_to": _r(t_to[k]),
                    "contact_time": _r(t_to[k] - t_ic[k]),
                    "stride_time": _r(stride_t),
                    "cadence": _r(None if stride_t is None else cadence_spm(stride_t), 4),
                    "foot_strike_angle": _r(fsa, 4),
                    "strike_type": strike_type_from_angle(fsa),
                    "pronation_excursion": _r(exc[k], 4),
                    "max_pronation_velocity": _r(vmax[k], 3),
                    "stride_length": _r(sl, 5),
                    "speed": _r(None if sl is None or stride_t is None else sl / stride_t, 5),
                    "peak_impact": _r(peak_imp[k], 3),
                    "flight_time": None,
                    "t_foot_flat": _r(t_ff[k]),
                    "pitch_at_ic": _r(p_ic[k], 4),
                    "pitch_at_foot_flat": _r(p_ff[k], 6),
                    "eversion_at_ic": _r(ev_ic[k], 4),
                    "peak_swing_gyr_ml": None,
                }
            )
    if plan.t_stop is not None:
        # a stopped walk: each foot's last contact has no toe-off (the feet stay down); its
        # contact only (the closing contact is the trailing foot's)
        for side, foot in plan.feet.items():
            t_last = float(foot.t_ic[-1])
            if foot.t_ic.size < 2 or not 0.02 <= t_last <= dur - 0.02:
                continue
            t_ic1 = _bisect(foot.lowest_z, np.array([t_last - 0.015]), np.array([t_last + 0.004]))
            contacts.append(
                {
                    "sensor_id": f"{side}_foot",
                    "side": side,
                    "t_ic": _r(float(t_ic1[0])),
                    "t_to": None,
                    "contact_time": None,
                    "stride_time": None,
                    "cadence": None,
                    **dict.fromkeys(
                        (
                            "foot_strike_angle",
                            "strike_type",
                            "pronation_excursion",
                            "max_pronation_velocity",
                            "stride_length",
                            "speed",
                            "peak_impact",
                            "flight_time",
                            "t_foot_flat",
                            "pitch_at_ic",
                            "pitch_at_foot_flat",
                            "eversion_at_ic",
                            "peak_swing_gyr_ml",
                        )
                    ),
                    "closing": bool(abs(t_last - plan.t_stop) < 1e-9),
                }
            )
    contacts.sort(key=lambda c: c["t_ic"])
    # flight time: from this toe-off to the next contact of the other foot
    all_ic = {s: ev["t_ic"] for s, ev in foot_events.items()}
    for c in contacts:
        other = all_ic["right" if c["side"] == "left" else "left"]
        nxt = other[other > c["t_ic"]]
        if nxt.size and c["t_to"] is not None:
            c["flight_time"] = _r(max(0.0, float(nxt[0]) - c["t_to"]))
    # peak mid-swing rate about ml after each toe-off (body frame), deg/s
    for side, foot in plan.feet.items():
        rows = [c for c in contacts if c["side"] == side]
        ics = all_ic[side]
        pairs = [(c, ics[ics > c["t_ic"]]) for c in rows]
        pairs = [(c, nx[0]) for c, nx in pairs if nx.size]
        if not pairs:
            continue
        t0 = np.array([c["t_to"] for c, _ in pairs])
        t1 = np.array([nx for _, nx in pairs])

        def swing_peak(tg: np.ndarray, foot=foot) -> np.ndarray:
            om = np.abs(np.rad2deg(foot.pose(tg.ravel()).omega_body[:, 1]))
            return om.reshape(tg.shape).max(axis=1)

        om = _grid_reduce(t0, t1, 300, swing_peak)
        for (c, _), pk in zip(pairs, om, strict=True):
            c["peak_swing_gyr_ml"] = _r(float(pk), 2)
    # --- pelvis steps -----------------------------------------------------------------------
    steps: list[dict] = []
    pel = plan.pelvis
    o_st = float(pel.obliquity_standing)
    if standing and standing[0][1] > 0.2:
        ts = np.linspace(0.05, standing[0][1] - 0.05, 50)
        o_st = float(np.mean(np.rad2deg(np.arcsin(pel.pose(ts).R[:, 2, 1]))))
    if "pelvis" in gen.models and contacts:
        ics = np.array([c["t_ic"] for c in contacts])
        # (a stopped walk's last contacts have no toe-off: no drop)
        tos = np.array([c["t_ic"] + 0.1 if c["t_to"] is None else c["t_to"] for c in contacts])
        sgn = np.array([1.0 if c["side"] == "left" else -1.0 for c in contacts])

        def obliquity_range(tg: np.ndarray) -> np.ndarray:
            r = pel.pose(tg.ravel()).R[:, 2, 1]
            obl = np.rad2deg(np.arcsin(np.clip(r, -1, 1))).reshape(tg.shape)
            return np.stack([obl.max(axis=1), obl.min(axis=1)], axis=1)

        def z_range(tg: np.ndarray) -> np.ndarray:
            z = gen.sensor_position("pelvis", tg.ravel())[:, 2].reshape(tg.shape)
            return np.ptp(z, axis=1)

        ob = _grid_reduce(ics, tos, _N_STANCE, obliquity_range)
        drops = np.where(sgn > 0, ob[:, 0] - o_st, -(ob[:, 1] - o_st))
        vos = np.full(ics.size, np.nan)
        if ics.size > 1:
            vos[:-1] = 100.0 * _grid_reduce(ics[:-1], ics[1:], _N_STEP, z_range)
        for n, c in enumerate(contacts):
            steps.append(
                {
                    "sensor_id": "pelvis",
                    "side": c["side"],
                    "t_ic": c["t_ic"],
                    "t_to": c["t_to"],
                    "contact_time": c["contact_time"],
                    "stride_time": c["stride_time"],
                    "cadence": c["cadence"],
                    "pelvic_drop": None if c["t_to"] is None else _r(drops[n], 4),
                    "vertical_oscillation": _r(vos[n], 4),
                    "pelvic_obliquity_standing": _r(o_st, 4),
                    **({"closing": c["closing"]} if "closing" in c else {}),
                }
            )
    # --- sensors --------------------------------------------------------------------------
    sensors: dict[str, dict] = {}
    for info in gen.sensors:
        m = gen.models[info.sensor_id]
        sst: dict = stats.get(info.sensor_id, {})
        d = {
            "placement": info.placement,
            "device_model": info.device_model,
            "sample_rate_hz": info.sample_rate_hz,
        }
        d.update(m.truth_dict())
        seg = gen.segment_pose(info.placement, np.array([0.0]))
        d["R_world_from_body_at_start"] = seg.R[0].tolist()
        gaps = np.asarray(sst.get("gaps", np.empty((0, 2)))).reshape(-1, 2)
        d["gaps"] = [[_r(a), _r(e)] for a, e in gaps]
        if sst.get("samples"):
            d["samples"] = int(sst["samples"])
            d["lost_samples"] = int(sst["last_seq"]) + 1 - int(sst["samples"])
        sensors[info.sensor_id] = d
    return {
        "format": TRUTH_FORMAT,
        "format_version": TRUTH_VERSION,
        "scenario": sc.name,
        "description": sc.description,
        "scenario_fields": _jsonable(dataclasses.asdict(sc)),
        "seed": gen.seed,
        "rate_hz": float(sc.rate_hz),
        "duration_s": dur,
        "gait": sc.gait,
        "treadmill": bool(sc.treadmill),
        "internal_rate_hz": float(gen.fs_int),
        "sole_heel_to_ball_m": L_BALL,
        "standing": standing,
        "sensors": sensors,
        "contacts": contacts,
        "steps": steps,
        "markers": [[_r(t), label, kind] for t, label, kind in markers],
        # a stopped walk: its closing contact (the pelvis' time base), s
        **({"t_stop": _r(plan.t_stop)} if plan.t_stop is not None else {}),
    }
