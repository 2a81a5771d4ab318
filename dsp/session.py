"""Analysis of a whole session: routes each sensor's blocks to the analyzer of its placement.

``SessionAnalyzer`` is what the CLI (``runform analyze``), the batch runner, the report
generator and the live viewer call::

    sa = SessionAnalyzer(sensors, config=AnalysisConfig())
    for block in source:                   # blocks of any sensor, in time order per sensor
        rows += sa.feed(block).rows        # a SessionUpdate: finished contacts of any sensor
    rows += sa.finish().rows
    sensors_part = sa.summary()            # the "sensors" object of SUMMARY.json
    sa.diagnostics()                       # alignment confidence, flags, problems per sensor

Per-sensor analyzers
--------------------
:data:`ANALYZERS` maps a placement to the analyzer class used for it. An analyzer implements
this protocol (see :class:`SensorAnalyzer`):

* ``__init__(info: SensorInfo, **settings)``: ``settings`` come from
  ``AnalysisConfig.settings_for(placement)``; a class with ``uses_feet = True`` (the pelvis)
  also gets ``feet={sensor id: side}``, the session's foot sensors;
* ``feed(block) -> FeedResult`` and ``finish() -> FeedResult`` (:class:`dsp.feed.FeedResult`:
  rows, early rows, detected contacts, watermarks, traces, diagnostics; immutable);
* ``summary() -> dict``: the sensor's entry of SUMMARY.json (keys that do not apply left out);
* ``diagnostics() -> dict``.

The session reads nothing else of an analyzer. A ``uses_feet`` analyzer gets every foot
result as an argument, right after the foot's call: ``feed(None, feet=[result])`` (no data of
its own; it may release early rows whose side that foot's early rows give), and is finished
after the feet. The feet's ``detected_ics`` and ``watermark`` let the session fill
``flight_time`` (this foot's toe-off to the other foot's next contact) deterministically.

Early rows
----------
Each :meth:`SessionAnalyzer.feed` / :meth:`SessionAnalyzer.finish` returns one
:class:`SessionUpdate`: the rows finished (any sensor), the early rows released (rows ahead of
their final row holding only the contact-only metrics, :data:`dsp.contact.CONTACT_KEYS`, so
that an alert on e.g. the strike angle comes about one stride earlier than the row) and, per
foot sensor, the time before which every early row (``early_watermarks``) and every stride
early row (``stride_watermarks``: a foot contact's second early row, with its stride time and
cadence, once the next contact is detected) has been released; all go to
:meth:`dsp.alerts.AlertEngine.feed` (:class:`dsp.pipeline.SessionPipeline` does that). The
pelvis analyzer's early rows hold a step's side, IC, TO and pelvic drop, with the very values
of its row (:mod:`dsp.pelvis_analyzer`, step 9); with feet they wait for the foot's early row
of the same contact.

A placement without an analyzer is skipped (listed in :meth:`SessionAnalyzer.diagnostics`).
Feet and the pelvis are plugged in by adding to :data:`ANALYZERS`.

Streaming and batch give identical rows: each analyzer's rows do not depend on block
boundaries, and the session holds a foot row until the other foot's contacts up to
``flight_horizon_s`` after it are final, so its ``flight_time`` does not either. Rows are
returned in the order they are released (per sensor in IC order).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from dsp.block import SampleBlock, SensorInfo
from dsp.bouts import Bout, BoutTracker, foot_activity
from dsp.contact import ContactRow
from dsp.errors import AnalysisError
from dsp.feed import FeedResult
from dsp.foot_analyzer import FootAnalyzer, FootSettings
from dsp.pelvis_analyzer import PelvisAnalyzer

__all__ = ["ANALYZERS", "AnalysisConfig", "SensorAnalyzer", "SessionAnalyzer", "SessionUpdate"]

log = logging.getLogger(__name__)

#: Placements of the foot sensors.
FOOT_PLACEMENTS = ("left_foot", "right_foot")


class SensorAnalyzer(Protocol):
    """What a per-sensor analyzer provides (see the module docstring)."""

    def feed(self, block: SampleBlock) -> FeedResult: ...

    def finish(self) -> FeedResult: ...

    def summary(self) -> dict[str, Any]: ...

    def diagnostics(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class SessionUpdate:
    """What one :meth:`SessionAnalyzer.feed` / :meth:`SessionAnalyzer.finish` released.

    Attributes
    ----------
    rows : tuple of ContactRow
        Rows finished by the call (any sensor; per sensor in IC order).
    early_rows : tuple of ContactRow
        Early rows released by the call (see the module docstring).
    early_watermarks, stride_watermarks : mapping
        Per foot sensor: the time (s) before which all its early rows / stride early rows
        are released (:meth:`SessionAnalyzer.early_watermarks`).
    results : tuple of FeedResult
        The analyzers' results of the call, in call order (the fed sensor's first).
    """

    rows: tuple[ContactRow, ...] = ()
    early_rows: tuple[ContactRow, ...] = ()
    early_watermarks: Mapping[str, float] = field(default_factory=dict)
    stride_watermarks: Mapping[str, float] = field(default_factory=dict)
    results: tuple[FeedResult, ...] = ()

    def traces(self) -> list[tuple[str, str, float, np.ndarray]]:
        """The per-stride traces of the call: ``(sensor_id, side, t_ic, values)``."""
        return [
            (r.sensor_id, str(side or ""), float(t_ic), np.asarray(values, dtype=float))
            for r in self.results
            for t_ic, values, side in r.traces
        ]


#: Analyzer class per placement.
ANALYZERS: dict[str, type] = {
    "left_foot": FootAnalyzer,
    "right_foot": FootAnalyzer,
    "pelvis": PelvisAnalyzer,
}


@dataclass(frozen=True)
class AnalysisConfig:
    """Settings of a session analysis.

    Attributes
    ----------
    foot : FootSettings
        Settings of both foot analyzers.
    placement_settings : dict
        Extra keyword settings per placement for other analyzers (e.g. ``{"pelvis": {...}}``).
    flight_horizon_s : float
        Longest toe-off to other-foot contact interval counted as a flight, s.
    """

    foot: FootSettings = field(default_factory=FootSettings)
    placement_settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    flight_horizon_s: float = 0.6

    def settings_for(self, placement: str) -> dict[str, Any]:
        """Keyword arguments for the analyzer of ``placement``."""
        if placement in FOOT_PLACEMENTS:
            return {"settings": self.foot, **self.placement_settings.get(placement, {})}
        return dict(self.placement_settings.get(placement, {}))


class SessionAnalyzer:
    """Streaming analysis of every sensor of a session (see the module docstring).

    Parameters
    ----------
    sensors : list of SensorInfo
    config : AnalysisConfig, optional
    analyzers : dict, optional
        sensor id -> analyzer to use for that sensor instead of building one (e.g. a
        :class:`runform.parallel.RemoteAnalyzer` standing in for one run in another process).

    Raises
    ------
    AnalysisError
        No sensor has a placement that can be analysed.
    """

    def __init__(
        self,
        sensors: list[SensorInfo],
        *,
        config: AnalysisConfig | None = None,
        analyzers: dict[str, Any] | None = None,
    ):
        self.config = config or AnalysisConfig()
        self.sensors = list(sensors)
        self.analyzers: dict[str, Any] = {}
        self.skipped: dict[str, str] = {}
        #: foot sensors analysed here -> side
        self._feet: dict[str, str] = {
            s.sensor_id: str(s.side)
            for s in self.sensors
            if s.placement in FOOT_PLACEMENTS and s.placement in ANALYZERS and s.side is not None
        }
        for info in self.sensors:
            cls = ANALYZERS.get(info.placement)
            if cls is None:
                self.skipped[info.sensor_id] = f"no analysis for placement {info.placement}"
                continue
            given = (analyzers or {}).get(info.sensor_id)
            if given is not None:
                self.analyzers[info.sensor_id] = given
                continue
            kw = self.config.settings_for(info.placement)
            if getattr(cls, "uses_feet", False):
                kw["feet"] = dict(self._feet)
            self.analyzers[info.sensor_id] = cls(info, **kw)
        if not self.analyzers:
            found = ", ".join(f"{s.sensor_id} ({s.placement})" for s in self.sensors) or "none"
            raise AnalysisError(
                "no sensor to analyse: expected a sensor placed on "
                + " or ".join(sorted(ANALYZERS))
                + f", found {found}"
            )
        self._info = {s.sensor_id: s for s in self.sensors}
        #: analyzers that get the feet's results (the pelvis), finished after the others
        self._observers = [
            sid
            for sid in self.analyzers
            if getattr(ANALYZERS[self._info[sid].placement], "uses_feet", False)
        ]
        self._wm: dict[str, float] = dict.fromkeys(self._feet, -math.inf)
        self._stride_wm: dict[str, float] = dict.fromkeys(self._feet, -math.inf)
        self._ics: dict[str, list[float]] = {"left": [], "right": []}
        self._held: list[ContactRow] = []
        self._finished = False
        self._t_first: dict[str, float] = {}
        #: activity bouts (dsp.bouts): steps of every sensor and the sensors' motion
        self.bout_tracker = BoutTracker()

    # ------------------------------------------------------------------
    def feed(self, block: SampleBlock) -> SessionUpdate:
        """Analyse a block of one sensor; returns what it finished (rows of any sensor)."""
        a = self.analyzers.get(block.sensor_id)
        if a is None:
            if block.sensor_id in self.skipped:
                return SessionUpdate(
                    early_watermarks=self.early_watermarks(),
                    stride_watermarks=self.stride_watermarks(),
                )
            raise AnalysisError(f"block of unknown sensor {block.sensor_id!r}")
        if len(block) and block.sensor_id not in self._t_first:
            self._t_first[block.sensor_id] = float(block.t[0])
        results: list[FeedResult] = []
        early: list[ContactRow] = []
        rows = self._route(a.feed(block), results, early)
        return self._update(rows, early, results)

    def finish(self) -> SessionUpdate:
        """End of data for every sensor; returns the remaining rows."""
        out: list[ContactRow] = []
        results: list[FeedResult] = []
        early: list[ContactRow] = []
        # analysers that take the feet's results finish last, after all they wait for
        order = [s for s in self.analyzers if s not in self._observers] + self._observers
        for sid in order:
            out += self._route(self.analyzers[sid].finish(), results, early)
        self._finished = True
        out += self._release()
        return self._update(out, early, results)

    def _update(
        self, rows: list[ContactRow], early: list[ContactRow], results: list[FeedResult]
    ) -> SessionUpdate:
        for res in results:  # the sensors' motion, for the standing bouts
            if res.motion:
                self.bout_tracker.add_motion(
                    res.sensor_id, {int(e): (g, a0, a1) for e, g, a0, a1 in res.motion}
                )
        # the activity of the foot rows and early rows (dsp.bouts.foot_activity; pelvis rows
        # carry theirs), and the rows' steps for the bouts
        for r in (*early, *rows):
            if r.activity is None and self._is_foot(r.sensor_id):
                r.activity = foot_activity(r)
        self.bout_tracker.add_rows(rows)
        return SessionUpdate(
            rows=tuple(rows),
            early_rows=tuple(early),
            early_watermarks=self.early_watermarks(),
            stride_watermarks=self.stride_watermarks(),
            results=tuple(results),
        )

    def _is_foot(self, sensor_id: str) -> bool:
        info = self._info.get(sensor_id)
        return info is not None and info.placement in ("left_foot", "right_foot")

    def bouts(self, t_start: float | None = None, t_end: float | None = None) -> list[Bout]:
        """Activity bouts over ``[t_start, t_end]`` (default: the data seen), see
        :mod:`dsp.bouts`."""
        return self.bout_tracker.bouts(t_start, t_end)

    def summary(self) -> dict[str, Any]:
        """The ``sensors`` object of SUMMARY.json (per analysed sensor)."""
        return {sid: a.summary() for sid, a in self.analyzers.items()}

    def diagnostics(self) -> dict[str, Any]:
        """Per-sensor diagnostics (alignment confidence, flag counts) and skipped sensors."""
        d: dict[str, Any] = {sid: a.diagnostics() for sid, a in self.analyzers.items()}
        for sid, why in self.skipped.items():
            d[sid] = {"sensor_id": sid, "skipped": why}
        return d

    def early_watermarks(self) -> dict[str, float]:
        """Per foot sensor: the time (s) before which all its early rows are released.

        A foot that has data but no contacts yet (e.g. waiting for its alignment) counts as
        released up to its first sample, so rules pooling both feet wait for it (up to the
        alert engine's ``hold_s``) instead of taking it for silent.
        """
        return {sid: max(self._wm[sid], self._t_first.get(sid, -math.inf)) for sid in self._feet}

    def stride_watermarks(self) -> dict[str, float]:
        """Per foot sensor: the time (s) before which all its stride early rows (early rows
        with a stride time, :attr:`dsp.feed.FeedResult.stride_watermark`) are released; a foot
        without contacts yet counts up to its first sample."""
        return {
            sid: max(self._stride_wm[sid], self._t_first.get(sid, -math.inf)) for sid in self._feet
        }

    # ------------------------------------------------------------------
    def _route(
        self, res: FeedResult, results: list[FeedResult], early: list[ContactRow]
    ) -> list[ContactRow]:
        sid = res.sensor_id
        results.append(res)
        early += res.early_rows
        if sid in self._feet:
            self._wm[sid] = float(res.watermark)
            self._stride_wm[sid] = float(res.stride_watermark)
            # the pelvis gets every foot result (its side, events and early rows), in order
            for osid in self._observers:
                got = self.analyzers[osid].feed(None, feet=(res,))
                results.append(got)
                early += got.early_rows
            if res.detected_ics:
                self._ics[self._feet[sid]].extend(res.detected_ics)
        out: list[ContactRow] = []
        for r in res.rows:
            if sid in self._feet:
                self._held.append(r)
            else:
                out.append(r)
        return out + self._release()

    def _other_state(self, side: str) -> tuple[list[float], float] | None:
        other = "right" if side == "left" else "left"
        wms = [self._wm[s] for s, sd in self._feet.items() if sd == other]
        if not wms:
            return None
        return self._ics[other], min(wms)

    def _release(self) -> list[ContactRow]:
        if not self._held:
            return []
        keep: list[ContactRow] = []
        out: list[ContactRow] = []
        horizon = self.config.flight_horizon_s
        for r in self._held:
            st = self._other_state(r.side)
            if st is None:
                out.append(r)
                continue
            ics, wm = st
            after = [x for x in ics if x > r.t_ic]
            first = min(after) if after else math.inf
            if first > r.t_ic + horizon and wm < r.t_ic + horizon and not self._finished:
                keep.append(r)
                continue
            if r.activity is None:
                r.activity = foot_activity(r)
            if (
                r.t_to is not None
                and "rejected" not in r.flags
                and r.activity != "walk"  # analysis-output v1: empty in walking
                and first <= r.t_ic + horizon
                and first < r.t_ic + (r.stride_time or math.inf)
            ):
                r.flight_time = max(0.0, first - r.t_to)
            out.append(r)
        self._held = keep
        # forget old contact times
        if out:
            oldest = min((r.t_ic for r in keep), default=max(r.t_ic for r in out))
            for side in ("left", "right"):
                self._ics[side] = [x for x in self._ics[side] if x > oldest - 1.0]
        return out
