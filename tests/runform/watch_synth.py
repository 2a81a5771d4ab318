"""A synthetic watch FIT activity from a simulated session's truth (for the watch-merge tests).

The "watch" records once a second on its own clock, which runs ``clock_offset_s`` ahead of the
recording's: the record stamped ``u`` (whole Unix seconds) carries the true cadence, speed and
the position reached at recording time ``u - clock_offset_s - start_unix_s``. Cadence is the
truth's per-stride cadence (at stride middles, interpolated), as FIT writes running cadence
(strides/min + 1/128 fraction); the track runs north-east from a fixed point at the truth's
speed, over a 20 m hill, with a heart rate rising from 120 to 160 bpm.
"""

from __future__ import annotations

import math

import numpy as np

from runform.fit import profile as P
from runform.fit.encoder import FitEncoder

LAT0, LON0 = 47.3769, 8.5417
EARTH_RADIUS_M = 6371008.8


def truth_curves(truth: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(t_mid, cadence_spm, speed_mps) of the true strides, time-sorted."""
    rows = [
        c
        for c in truth["contacts"]
        if c.get("stride_time") and c.get("cadence") and c.get("speed") is not None
    ]
    t = np.array([c["t_ic"] + 0.5 * c["stride_time"] for c in rows])
    cad = np.array([c["cadence"] for c in rows], dtype=float)
    spd = np.array([c["speed"] for c in rows], dtype=float)
    order = np.argsort(t)
    return t[order], cad[order], spd[order]


def watch_fit_bytes(
    truth: dict,
    *,
    start_unix_s: float,
    clock_offset_s: float,
    duration_s: float,
    with_gps: bool = True,
) -> bytes:
    t_mid, cad, spd = truth_curves(truth)
    u0 = math.ceil(start_unix_s + clock_offset_s)
    u1 = math.floor(start_unix_s + clock_offset_s + duration_s)
    u = np.arange(u0, u1 + 1)
    t_true = u - clock_offset_s - start_unix_s
    running = (t_true >= t_mid[0]) & (t_true <= t_mid[-1])
    cadence = np.where(running, np.interp(t_true, t_mid, cad), np.nan)
    speed = np.where(running, np.interp(t_true, t_mid, spd), 0.0)
    # distance: the true speed integrated on a fine grid
    tg = np.arange(0.0, duration_s + 1.0, 0.01)
    vg = np.where((tg >= t_mid[0]) & (tg <= t_mid[-1]), np.interp(tg, t_mid, spd), 0.0)
    dist_g = np.concatenate([[0.0], np.cumsum(0.5 * (vg[1:] + vg[:-1]) * 0.01)])
    dist = np.interp(t_true, tg, dist_g)
    bearing = math.radians(45.0)
    lat = LAT0 + np.degrees(dist * math.cos(bearing) / EARTH_RADIUS_M)
    lon = LON0 + np.degrees(
        dist * math.sin(bearing) / (EARTH_RADIUS_M * math.cos(math.radians(LAT0)))
    )
    alt = 400.0 + 20.0 * np.sin(np.pi * np.clip(dist / max(dist[-1], 1.0), 0, 1))
    hr = 120.0 + 40.0 * np.clip(t_true / duration_s, 0, 1)

    enc = FitEncoder()
    ts = u - P.FIT_EPOCH_UNIX_S
    enc.write(
        "file_id",
        {
            "type": P.FILE_ACTIVITY,
            "manufacturer": 1,
            "product": 1,
            "serial_number": 12345,
            "time_created": int(ts[0]),
        },
    )
    enc.write(
        "event", {"timestamp": int(ts[0]), "event": P.EVENT_TIMER, "event_type": P.EVENT_TYPE_START}
    )
    for i in range(len(u)):
        rpm = cadence[i] / 2.0
        whole = math.floor(rpm) if math.isfinite(rpm) else None
        rec = {
            "timestamp": int(ts[i]),
            "position_lat": round(lat[i] * P.SEMICIRCLES_PER_DEG) if with_gps else None,
            "position_long": round(lon[i] * P.SEMICIRCLES_PER_DEG) if with_gps else None,
            "enhanced_altitude": float(alt[i]),
            "heart_rate": round(float(hr[i])),
            "cadence": whole,
            "fractional_cadence": (rpm - whole) if whole is not None else None,
            "distance": float(dist[i]),
            "enhanced_speed": float(speed[i]),
        }
        enc.write("record", rec)
    enc.write(
        "event",
        {"timestamp": int(ts[-1]), "event": P.EVENT_TIMER, "event_type": P.EVENT_TYPE_STOP_ALL},
    )
    enc.write(
        "session",
        {
            "timestamp": int(ts[-1]),
            "start_time": int(ts[0]),
            "sport": P.SPORT_RUNNING,
            "total_elapsed_time": float(u[-1] - u[0]),
            "total_distance": float(dist[-1]),
        },
    )
    enc.write(
        "activity",
        {
            "timestamp": int(ts[-1]),
            "num_sessions": 1,
            "type": 0,
            "event": P.EVENT_ACTIVITY,
            "event_type": P.EVENT_TYPE_STOP,
        },
    )
    return enc.getvalue()
