"""The SUMMARY.json document of ``runform analyze`` (analysis-output v1), as a plain dict."""

from __future__ import annotations

from array import array
from typing import Any

import numpy as np

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "ActivitySummaries",
    "build_summary",
    "median_or_none",
]

FORMAT_NAME = "runform-analysis"
FORMAT_VERSION = 1


def build_summary(
    *,
    recording: str,
    duration_s: float,
    sensors: dict[str, dict[str, Any]],
    alerts: list[dict[str, Any]] | None = None,
    bouts: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Assemble SUMMARY.json.

    Parameters
    ----------
    recording : str
        The recording's path as given on the command line.
    duration_s : float
        Recording duration, s.
    sensors : dict
        :meth:`dsp.session.SessionAnalyzer.summary` output.
    alerts : list of dict, optional
        ``{"t", "rule", "message"}`` per alert; ``[]`` when none.
    bouts : list of dict, optional
        ``{"t0", "t1", "activity"}`` per activity bout (:mod:`dsp.bouts`); left out if None.
    """
    out = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "recording": recording,
        "duration_s": round(float(duration_s), 6),
        "sensors": sensors,
        "alerts": list(alerts or []),
    }
    if bouts is not None:
        out["bouts"] = list(bouts)
    return out


def median_or_none(values: array) -> float | None:
    """Median of the finite values of a float64 ``array('d')`` (rounded to 6 decimals), or
    ``None`` when there is none: the ``*_median`` entries of SUMMARY.json."""
    arr = np.frombuffer(values, dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        return None
    return round(float(np.median(arr)), 6)


_FOOT_MEDIANS = (
    ("cadence", "cadence_median"),
    ("contact_time", "contact_time_median"),
    ("foot_strike_angle", "foot_strike_angle_median"),
    ("max_pronation_velocity", "max_pronation_velocity_median"),
    ("pronation_excursion", "pronation_excursion_median"),
    ("speed", "speed_median"),
)
_PELVIS_MEDIANS = (
    ("cadence", "cadence_median"),
    ("contact_time", "contact_time_median"),
    ("vertical_oscillation", "vertical_oscillation_median"),
)


class ActivitySummaries:
    """Per sensor and activity (``run``, ``walk``): the sensor's SUMMARY.json keys over the
    rows of that activity only (SUMMARY.json ``by_activity``).

    Fed the rows as they are released (memory: one float per value, like the analyzers'
    own summaries); the medians are those of the analyzers' ``summary()`` (the same rows:
    not rejected, finite values), restricted to the activity.
    """

    def __init__(self) -> None:
        self._vals: dict[tuple[str, str], dict[str, array]] = {}
        self._counts: dict[tuple[str, str], dict[str, int]] = {}

    def add(self, rows: Any) -> None:
        """Rows (:class:`dsp.contact.ContactRow`) of any sensor."""
        for r in rows:
            if r.activity not in ("run", "walk"):
                continue
            key = (r.sensor_id, r.activity)
            c = self._counts.setdefault(key, {"contacts": 0})
            c["contacts"] += 1
            if "rejected" in r.flags:
                continue
            v = self._vals.setdefault(key, {})
            for name in (
                "cadence",
                "contact_time",
                "foot_strike_angle",
                "max_pronation_velocity",
                "pronation_excursion",
                "speed",
                "vertical_oscillation",
            ):
                x = getattr(r, name)
                if x is not None:
                    v.setdefault(name, array("d")).append(float(x))
            if r.pelvic_drop is not None:
                v.setdefault(f"drop_{r.side}", array("d")).append(float(r.pelvic_drop))
            if r.strike_type:
                c[r.strike_type] = c.get(r.strike_type, 0) + 1

    def by_activity(self, sensor_id: str, placement: str) -> dict[str, dict[str, Any]]:
        """``{"run": {...}, "walk": {...}}`` for one sensor (activities it has rows of)."""
        out: dict[str, dict[str, Any]] = {}
        for act in ("run", "walk"):
            key = (sensor_id, act)
            if key not in self._counts:
                continue
            v = self._vals.get(key, {})
            c = self._counts[key]
            d: dict[str, Any] = {"placement": placement, "contacts": c["contacts"]}
            if placement == "pelvis":
                for name, out_name in _PELVIS_MEDIANS:
                    d[out_name] = median_or_none(v.get(name, array("d")))
                dl = median_or_none(v.get("drop_left", array("d")))
                dr = median_or_none(v.get("drop_right", array("d")))
                d["pelvic_drop_median"] = {"left": dl, "right": dr}
                d["pelvic_drop_asymmetry"] = None if dl is None or dr is None else round(dl - dr, 6)
            else:
                for name, out_name in _FOOT_MEDIANS:
                    d[out_name] = median_or_none(v.get(name, array("d")))
                n = sum(c.get(k, 0) for k in ("rearfoot", "midfoot", "forefoot"))
                d["strike_type_fraction"] = {
                    k: (round(c.get(k, 0) / n, 4) if n else None)
                    for k in ("rearfoot", "midfoot", "forefoot")
                }
            out[act] = d
        return out
