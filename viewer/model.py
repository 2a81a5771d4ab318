"""What the viewer knows about the session, independent of Qt: strides, traces, alerts, markers.

The worker sends everything it finds as soon as it finds it; the model *reveals* a stride or an
alert only once the playback position has reached its initial contact. In live mode the
position is the newest sample, so everything shows at once; in replay the analysis runs a few
seconds ahead of playback and alerts appear when playback reaches the contact that raised them.
Jumping back in a replay only moves the position: what is shown is always "everything up to the
position".
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field

import numpy as np

from dsp.alerts import Alert
from dsp.contact import ContactRow

__all__ = ["AlertEvent", "StrideModel", "TraceItem"]


@dataclass(frozen=True)
class TraceItem:
    """Per-stride time-normalised trace (e.g. foot pitch, deg, 101 points over 0-100 %)."""

    sensor_id: str
    side: str
    t_ic: float
    values: np.ndarray


@dataclass(frozen=True)
class AlertEvent:
    """A rule going on (``alert`` set) or off, at time ``t`` (s)."""

    t: float
    rule: str
    side: str | None
    alert: Alert | None


@dataclass
class StrideModel:
    """Rows, traces and alerts of a session, revealed up to the playback position.

    Attributes
    ----------
    placements : dict
        ``sensor_id -> placement``.
    position : float
        Playback position (s); live: the newest sample time.
    """

    placements: dict[str, str] = field(default_factory=dict)
    position: float = -math.inf
    rows: list[ContactRow] = field(default_factory=list)
    traces: list[TraceItem] = field(default_factory=list)
    events: list[AlertEvent] = field(default_factory=list)
    markers: list[tuple[float, str, str]] = field(default_factory=list)
    version: int = 0
    #: early rows shown until their final row replaces them, by (sensor_id, t_ic)
    _provisional: dict[tuple[str, float], ContactRow] = field(default_factory=dict)

    def _key(self, r: ContactRow) -> float:
        return r.t_ic

    def add(
        self,
        rows: list[ContactRow],
        traces: list[TraceItem],
        alerts: list[Alert],
        cleared,
        early: list[ContactRow] = (),  # type: ignore[assignment]
    ) -> list[ContactRow]:
        """Add what the worker found (any order; kept sorted by time).

        ``early`` rows (contact-only metrics, see :data:`dsp.contact.CONTACT_KEYS`) are shown
        at once and replaced by their final row when it comes. Returns the rows of contacts
        not seen before (to mark on the raw signals).
        """
        new: list[ContactRow] = []
        for r in early:
            key = (r.sensor_id, r.t_ic)
            if key in self._provisional:
                continue
            self._provisional[key] = r
            bisect.insort(self.rows, r, key=self._key)
            new.append(r)
        for r in rows:
            old = self._provisional.pop((r.sensor_id, r.t_ic), None)
            if old is not None:
                i = bisect.bisect_left(self.rows, r.t_ic, key=self._key)
                while self.rows[i] is not old:
                    i += 1
                self.rows[i] = r
                continue
            bisect.insort(self.rows, r, key=self._key)
            new.append(r)
        for tr in traces:
            bisect.insort(self.traces, tr, key=lambda x: x.t_ic)
        for a in alerts:
            bisect.insort(self.events, AlertEvent(a.t, a.rule, a.side, a), key=lambda e: e.t)
        for t, rule, side in cleared:
            bisect.insort(self.events, AlertEvent(t, rule, side, None), key=lambda e: e.t)
        if rows or traces or alerts or cleared or early:
            self.version += 1
        return new

    def add_marker(self, t: float, label: str, kind: str) -> None:
        bisect.insort(self.markers, (float(t), label, kind))
        self.version += 1

    def set_position(self, t: float) -> None:
        """Move the position; ``version`` changes only if what is visible changes."""
        if t == self.position:
            return
        before = self._visible_counts()
        self.position = float(t)
        if self._visible_counts() != before:
            self.version += 1

    def _visible_counts(self) -> tuple[int, int, int]:
        p = self.position
        return (
            bisect.bisect_right(self.rows, p, key=self._key),
            bisect.bisect_right(self.traces, p, key=lambda x: x.t_ic),
            bisect.bisect_right(self.events, p, key=lambda e: e.t),
        )

    # ------------------------------------------------------------------ views
    def placement(self, sensor_id: str) -> str:
        return self.placements.get(sensor_id, "")

    def visible_rows(self) -> list[ContactRow]:
        """Rows whose initial contact is at or before the position."""
        i = bisect.bisect_right(self.rows, self.position, key=self._key)
        return self.rows[:i]

    def visible_traces(self) -> list[TraceItem]:
        i = bisect.bisect_right(self.traces, self.position, key=lambda x: x.t_ic)
        return self.traces[:i]

    def foot_rows(self, side: str | None = None) -> list[ContactRow]:
        out = [r for r in self.visible_rows() if self.placement(r.sensor_id) != "pelvis"]
        return out if side is None else [r for r in out if r.side == side]

    def pelvis_rows(self, side: str | None = None) -> list[ContactRow]:
        out = [r for r in self.visible_rows() if self.placement(r.sensor_id) == "pelvis"]
        return out if side is None else [r for r in out if r.side == side]

    def activity_at_position(self) -> str | None:
        """The activity (``run``/``walk``) of the latest contact at or before the position
        (None before any): what the runner was doing there, in replay (where the analysis'
        own current activity runs ahead of the cursor)."""
        i = bisect.bisect_right(self.rows, self.position, key=self._key)
        for k in range(i - 1, -1, -1):
            if self.rows[k].activity:
                return self.rows[k].activity
        return None

    def raised_until(self, t0: float, t1: float) -> list[Alert]:
        """Alerts raised with ``t0 < t <= t1`` (what to announce when playback moves on)."""
        return [e.alert for e in self.events if e.alert is not None and t0 < e.t <= t1]

    def alert_log(self) -> list[Alert]:
        """Alerts raised up to the position, oldest first."""
        return [e.alert for e in self.events if e.alert is not None and e.t <= self.position]

    def active_alerts(self) -> list[Alert]:
        """Rules that are on at the position (one alert per rule and side)."""
        state: dict[tuple[str, str | None], Alert | None] = {}
        for e in self.events:
            if e.t > self.position:
                break
            state[(e.rule, e.side)] = e.alert
        return [a for a in state.values() if a is not None]

    def strike_share(self, n: int) -> dict[str, float]:
        """Share (%) of rearfoot / midfoot / forefoot over the last ``n`` foot strikes."""
        types = [r.strike_type for r in self.foot_rows() if r.strike_type][-n:]
        if not types:
            return {"rearfoot": math.nan, "midfoot": math.nan, "forefoot": math.nan}
        return {k: 100.0 * types.count(k) / len(types) for k in ("rearfoot", "midfoot", "forefoot")}

    def pelvic_asymmetry(self, n: int) -> tuple[float, float, float]:
        """Median pelvic drop (deg) of the last ``n`` left and right steps, and left - right."""
        vals = {}
        for side in ("left", "right"):
            v = [r.pelvic_drop for r in self.pelvis_rows(side) if r.pelvic_drop is not None]
            vals[side] = float(np.median(v[-n:])) if v else math.nan
        return vals["left"], vals["right"], vals["left"] - vals["right"]

    def stride_at(self, t: float) -> dict[str, ContactRow | None]:
        """Per foot side, the stride (initial contact to the next one) that contains ``t``."""
        out: dict[str, ContactRow | None] = {}
        for side in ("left", "right"):
            found = None
            for r in reversed(self.foot_rows(side)):
                if r.t_ic <= t:
                    span = r.stride_time if r.stride_time is not None else (r.contact_time or 0.0)
                    if t < r.t_ic + max(span, 1e-9):
                        found = r
                    break
            out[side] = found
        return out

    def stride_index(self, row: ContactRow) -> int:
        """1-based number of ``row`` among the strides of its sensor."""
        same = [r for r in self.rows if r.sensor_id == row.sensor_id]
        return same.index(row) + 1
