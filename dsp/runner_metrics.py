"""The runner's metrics of a session: pace, distance, stride length, flight time, impact,
vertical ratio and ground-contact-time balance (analysis-output v1 added keys).

One implementation serves SUMMARY.json (:class:`RunnerMetrics`, fed the rows as the analysis
releases them) and the reports (:func:`foot_metrics`, :func:`vertical_ratio`,
:func:`contact_time_balance` on the columns of a stride table or of one segment of it).

Definitions
-----------
* **pace** (s/km) = 1000 / median speed: the median pace of the strides (pace is a decreasing
  function of speed, so the median of one is the other's).
* **distance** (m): sum of the foot's stride lengths (a stride without a length, e.g. a rejected
  contact, adds nothing, so the distance is a lower bound when contacts were rejected).
* **vertical ratio** (%): vertical oscillation of the pelvis over one step / step length,
  x 100 (as the watch makers define it: 6-8 % is typical of trained runners, more is bouncier).
  Step length = half the stride length of the foot contact nearest to the pelvis step (within
  ``max_gap_s``); steps without a foot stride near them get none.
* **contact time balance** (%): left median contact time / (left + right medians) x 100, over
  running contacts; 50 % is even, and Garmin's and Stryd's guidance treats more than about 2
  points away from 50 as an imbalance worth a look.

Rows of a ``walk`` activity (the ``activity`` column, when the analysis sets it) are left out
of pace, flight time, vertical ratio and balance: they describe running.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

__all__ = [
    "RunnerMetrics",
    "contact_time_balance",
    "foot_metrics",
    "pace_s_per_km",
    "vertical_ratio",
]


def _finite(x: Any) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64).ravel()
    return a[np.isfinite(a)]


def _median(x: Any) -> float | None:
    a = _finite(x)
    return round(float(np.median(a)), 6) if a.size else None


def pace_s_per_km(speed_mps: float | None) -> float | None:
    """Pace in s/km of a speed in m/s (``None`` for no or zero speed)."""
    if speed_mps is None or not math.isfinite(speed_mps) or speed_mps <= 0:
        return None
    return round(1000.0 / float(speed_mps), 6)


def foot_metrics(
    *,
    stride_length: Any,
    speed: Any,
    flight_time: Any,
    peak_impact: Any,
    running: Any = None,
) -> dict[str, float | None]:
    """A foot sensor's runner keys of SUMMARY.json from its columns.

    Parameters
    ----------
    stride_length, speed, flight_time, peak_impact : array_like
        Columns of the foot's rows (NaN = empty cell).
    running : array_like of bool, optional
        Which rows are running (pace and flight time are taken over these only); all when
        omitted.
    """
    sl = np.asarray(stride_length, dtype=np.float64)
    sp = np.asarray(speed, dtype=np.float64)
    ft = np.asarray(flight_time, dtype=np.float64)
    run = np.ones(sp.shape, bool) if running is None else np.asarray(running, bool)
    return {
        "stride_length_median": _median(sl),
        "flight_time_median": _median(ft[run]),
        "peak_impact_median": _median(peak_impact),
        "pace_median": pace_s_per_km(_median(sp[run])),
        "distance": round(float(_finite(sl).sum()), 3) if _finite(sl).size else None,
    }


def vertical_ratio(
    pelvis_t: Any,
    vertical_oscillation_cm: Any,
    foot_t: Any,
    foot_stride_length_m: Any,
    *,
    max_gap_s: float = 1.0,
) -> np.ndarray:
    """Vertical ratio (%) of each pelvis step; NaN where no foot stride is near.

    Parameters
    ----------
    pelvis_t, vertical_oscillation_cm : array_like, shape (n,)
        Initial contacts (s) and vertical oscillation (cm) of the pelvis steps.
    foot_t, foot_stride_length_m : array_like, shape (m,)
        Initial contacts (s) and stride lengths (m) of the foot contacts (both feet).
    max_gap_s : float
        Farthest foot contact used for a step, s.
    """
    pt = np.asarray(pelvis_t, dtype=np.float64)
    vo = np.asarray(vertical_oscillation_cm, dtype=np.float64)
    ft = np.asarray(foot_t, dtype=np.float64)
    sl = np.asarray(foot_stride_length_m, dtype=np.float64)
    ok = np.isfinite(ft) & np.isfinite(sl) & (sl > 0)
    ft, sl = ft[ok], sl[ok]
    out = np.full(pt.shape, np.nan)
    if ft.size == 0 or pt.size == 0:
        return out
    order = np.argsort(ft, kind="stable")
    ft, sl = ft[order], sl[order]
    i = np.clip(np.searchsorted(ft, pt), 1, ft.size) - 1
    j = np.clip(i + 1, 0, ft.size - 1)
    near = np.where(np.abs(ft[j] - pt) < np.abs(ft[i] - pt), j, i)
    gap = np.abs(ft[near] - pt)
    step_m = sl[near] / 2.0
    use = (gap <= max_gap_s) & np.isfinite(vo)
    # cm / m = % of the step length (1 cm is 1 % of 1 m)
    out[use] = vo[use] / step_m[use]
    return out


def contact_time_balance(left: Any, right: Any) -> float | None:
    """Left share (%) of left + right median contact time; ``None`` without both sides."""
    ml, mr = _median(left), _median(right)
    if ml is None or mr is None or ml + mr <= 0:
        return None
    return round(100.0 * ml / (ml + mr), 3)


class RunnerMetrics:
    """Collects what the runner's keys of SUMMARY.json need while rows are released.

    Memory: a few floats per contact (a one-hour run is about 10,000 contacts).

    Parameters
    ----------
    placements : mapping
        sensor id -> placement.
    """

    def __init__(self, placements: Mapping[str, str]) -> None:
        self.placements = dict(placements)
        # sensor id -> (activity, column) -> values
        self._foot: dict[str, dict[tuple[str, str], array]] = {}
        self._pelvis: dict[str, dict[tuple[str, str], array]] = {}

    def add(self, rows: Iterable[Any]) -> None:
        """Take released rows (:class:`dsp.contact.ContactRow`, any sensor)."""
        for r in rows:
            pl = self.placements.get(r.sensor_id, "")
            if "rejected" in (r.flags or ()):
                continue
            act = getattr(r, "activity", None) or "run"  # no activity known: running
            if pl.endswith("_foot"):
                d = self._foot.setdefault(r.sensor_id, {})
                for key, v in (
                    ("t", r.t_ic),
                    ("sl", r.stride_length),
                    ("sp", r.speed),
                    ("ft", r.flight_time),
                    ("pi", r.peak_impact),
                    ("ct", r.contact_time),
                ):
                    d.setdefault((act, key), array("d")).append(_num(v))
            elif pl == "pelvis":
                p = self._pelvis.setdefault(r.sensor_id, {})
                p.setdefault((act, "t"), array("d")).append(r.t_ic)
                p.setdefault((act, "vo"), array("d")).append(_num(r.vertical_oscillation))

    @staticmethod
    def _cols(d: dict, acts: tuple[str, ...], key: str) -> np.ndarray:
        got = [np.frombuffer(d[(a, key)]) for a in acts if (a, key) in d]
        return np.concatenate(got) if got else np.empty(0)

    def _foot_keys(self, d: dict, acts: tuple[str, ...], running: tuple[str, ...]) -> dict:
        # distance, stride length and impact over ``acts``; pace and flight over ``running``
        return {
            **foot_metrics(
                stride_length=self._cols(d, acts, "sl"),
                speed=self._cols(d, running, "sp"),
                flight_time=self._cols(d, running, "ft"),
                peak_impact=self._cols(d, acts, "pi"),
            )
        }

    def update_summary(self, summary: dict[str, Any]) -> dict[str, Any]:
        """Add the runner's keys to a SUMMARY.json document (in place; returned): per sensor
        over all its contacts (pace, flight time, vertical ratio and balance over running),
        and in each ``by_activity`` entry over that activity's contacts."""
        sensors = summary.get("sensors", {})
        every = ("run", "walk")
        for sid, d in self._foot.items():
            if sid not in sensors:
                continue
            sensors[sid].update(self._foot_keys(d, every, ("run",)))
            for act, part in (sensors[sid].get("by_activity") or {}).items():
                part.update(self._foot_keys(d, (act,), (act,)))
        for sid, p in self._pelvis.items():
            if sid not in sensors or not self._foot:
                continue
            for act, target in [("run", sensors[sid])] + [
                (a, part) for a, part in (sensors[sid].get("by_activity") or {}).items()
            ]:
                ft = np.concatenate([self._cols(d, (act,), "t") for d in self._foot.values()])
                sl = np.concatenate([self._cols(d, (act,), "sl") for d in self._foot.values()])
                vr = vertical_ratio(self._cols(p, (act,), "t"), self._cols(p, (act,), "vo"), ft, sl)
                m = _median(vr)
                if m is not None:
                    target["vertical_ratio_median"] = m
        by_side: dict[str, list[np.ndarray]] = {"left_foot": [], "right_foot": []}
        for sid, d in self._foot.items():
            by_side.setdefault(self.placements[sid], []).append(self._cols(d, ("run",), "ct"))
        if by_side["left_foot"] and by_side["right_foot"]:
            bal = contact_time_balance(
                np.concatenate(by_side["left_foot"]), np.concatenate(by_side["right_foot"])
            )
            if bal is not None:
                summary["balance"] = {"contact_time_left_pct": bal}
        return summary


def _num(v: float | None) -> float:
    return math.nan if v is None else float(v)
