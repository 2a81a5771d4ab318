"""Analysis of a whole session: routes each sensor's blocks to the analyzer of its placement.

``SessionAnalyzer`` is what the CLI (``runform analyze``), the batch runner, the report
generator and the live viewer call::

    sa = SessionAnalyzer(sensors, config=AnalysisConfig())
    for block in source:                   # blocks of any sensor, in time order per sensor
        rows = sa.feed(block)              # finished contacts of any sensor
    rows += sa.finish()
    sensors_part = sa.summary(duration_s)  # the "sensors" object of SUMMARY.json
    sa.diagnostics()                       # alignment confidence, flags, problems per sensor

Per-sensor analyzers
--------------------
:data:`ANALYZERS` maps a placement to the analyzer class used for it. An analyzer implements
this protocol (see :class:`SensorAnalyzer`):

* ``__init__(info: SensorInfo, **settings)``: ``settings`` come from
  ``AnalysisConfig.settings_for(placement)``;
* ``feed(block) -> list[ContactRow]`` and ``finish() -> list[ContactRow]``;
* ``summary() -> dict``: the sensor's entry of SUMMARY.json (keys that do not apply left out);
* ``diagnostics() -> dict``;
* optional ``observe(sensor_id, rows)``: receives the rows finished by the *other* sensors
  (e.g. foot contacts for pelvis step segmentation), called before its own ``feed``; after
  every call of a foot analyser (even without rows) and before the session drains that
  foot's ``detected_ics_``, so an observer may read them and ``watermark_`` there;
* optional ``set_peers(analyzers)``: called once with the other sensors' analysers (sensor id
  -> analyser), so an observing analyser knows whose rows to wait for; analysers with
  ``observe`` are finished after the others;
* optional ``detected_ics_`` (list of IC times, drained by the session) and ``watermark_``
  (every IC before it is detected): foot analyzers provide them so the session can fill
  ``flight_time`` (this foot's toe-off to the other foot's next contact) deterministically;
* optional ``early_rows_``: rows released by the last ``feed``/``finish`` ahead of their final
  row, holding only the contact-only metrics (:data:`dsp.contact.CONTACT_KEYS`), all of them
  for contacts before ``watermark_``. The alert engine uses them so that an alert on e.g. the
  strike angle comes about one stride earlier than the row (which waits for the next contact).
  A foot contact has a second early row once the next contact is detected: the same values
  plus the row's ``stride_time`` and ``cadence`` (all of them for contacts before
  ``stride_watermark_``), for the cadence rules; the row itself still waits for the other
  foot's next contact (``flight_time``).
  The pelvis analyzer's early rows hold a step's side, IC, TO and pelvic drop, one per row, in
  IC order, with the very values of its row (:mod:`dsp.pelvis_analyzer`, step 9); with feet
  they wait for the foot's early row of the same contact: the pelvis reads the feet's
  ``early_rows_`` in ``observe`` and puts the early rows it can then release in its
  ``observed_early_rows_``, which the session drains into its own ``early_rows_`` right away.

Early rows
----------
After each :meth:`SessionAnalyzer.feed` / :meth:`SessionAnalyzer.finish`, ``early_rows_``
holds the early rows that call released and :meth:`SessionAnalyzer.early_watermarks` tells,
per sensor that has them, the time before which every early row has been released; both go to
:meth:`dsp.alerts.AlertEngine.feed`.

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
from dataclasses import dataclass, field
from typing import Any, Protocol

from dsp.block import SampleBlock, SensorInfo
from dsp.bouts import Bout, BoutTracker, foot_activity
from dsp.contact import ContactRow
from dsp.errors import AnalysisError
from dsp.foot_analyzer import FootAnalyzer, FootSettings
from dsp.pelvis_analyzer import PelvisAnalyzer

__all__ = ["ANALYZERS", "AnalysisConfig", "SensorAnalyzer", "SessionAnalyzer"]

log = logging.getLogger(__name__)


class SensorAnalyzer(Protocol):
    """What a per-sensor analyzer provides (see the module docstring)."""

    def feed(self, block: SampleBlock) -> list[ContactRow]: ...

    def finish(self) -> list[ContactRow]: ...

    def summary(self) -> dict[str, Any]: ...

    def diagnostics(self) -> dict[str, Any]: ...


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
        if placement in ("left_foot", "right_foot"):
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
        for info in self.sensors:
            cls = ANALYZERS.get(info.placement)
            if cls is None:
                self.skipped[info.sensor_id] = f"no analysis for placement {info.placement}"
                continue
            given = (analyzers or {}).get(info.sensor_id)
            self.analyzers[info.sensor_id] = (
                given
                if given is not None
                else cls(info, **self.config.settings_for(info.placement))
            )
        if not self.analyzers:
            found = ", ".join(f"{s.sensor_id} ({s.placement})" for s in self.sensors) or "none"
            raise AnalysisError(
                "no sensor to analyse: expected a sensor placed on "
                + " or ".join(sorted(ANALYZERS))
                + f", found {found}"
            )
        self._info = {s.sensor_id: s for s in self.sensors}
        # analysers that use the others (pelvis fusion with foot events) get to know them
        for sid, a in self.analyzers.items():
            if hasattr(a, "set_peers"):
                a.set_peers({o: oa for o, oa in self.analyzers.items() if o != sid})
        self._feet: dict[str, str] = {
            sid: str(self._info[sid].side)
            for sid, a in self.analyzers.items()
            if hasattr(a, "detected_ics_") and self._info[sid].side is not None
        }
        self._ics: dict[str, list[float]] = {"left": [], "right": []}
        self._held: list[ContactRow] = []
        self._finished = False
        self.early_rows_: list[ContactRow] = []
        self._t_first: dict[str, float] = {}
        #: activity bouts (dsp.bouts): steps of every sensor and the sensors' motion
        self.bout_tracker = BoutTracker()

    # ------------------------------------------------------------------
    def feed(self, block: SampleBlock) -> list[ContactRow]:
        """Analyse a block of one sensor; returns rows finished so far (any sensor)."""
        a = self.analyzers.get(block.sensor_id)
        if a is None:
            if block.sensor_id in self.skipped:
                return []
            raise AnalysisError(f"block of unknown sensor {block.sensor_id!r}")
        if len(block) and block.sensor_id not in self._t_first:
            self._t_first[block.sensor_id] = float(block.t[0])
        rows = a.feed(block)
        self.bout_tracker.add_motion(block.sensor_id, getattr(a, "motion_epochs_", None) or {})
        self.early_rows_ = list(getattr(a, "early_rows_", ()))
        out = self._route(block.sensor_id, rows)
        self._activities(out)
        return out

    def finish(self) -> list[ContactRow]:
        """End of data for every sensor; returns the remaining rows."""
        out: list[ContactRow] = []
        self.early_rows_ = []
        # analysers that observe others finish last, after all the rows they wait for
        order = sorted(self.analyzers.items(), key=lambda kv: hasattr(kv[1], "observe"))
        for sid, a in order:
            done = a.finish()
            self.early_rows_ += getattr(a, "early_rows_", ())
            out += self._route(sid, done)
        self._finished = True
        out += self._release()
        self._activities(out)
        return out

    def _activities(self, rows: list[ContactRow]) -> None:
        """The activity of the foot rows and early rows (:func:`dsp.bouts.foot_activity`;
        pelvis rows carry theirs), and the rows' steps for the bouts."""
        for r in (*self.early_rows_, *rows):
            if r.activity is None and self._is_foot(r.sensor_id):
                r.activity = foot_activity(r)
        self.bout_tracker.add_rows(rows)

    def _is_foot(self, sensor_id: str) -> bool:
        info = self._info.get(sensor_id)
        return info is not None and info.placement in ("left_foot", "right_foot")

    def bouts(self, t_start: float | None = None, t_end: float | None = None) -> list[Bout]:
        """Activity bouts over ``[t_start, t_end]`` (default: the data seen), see
        :mod:`dsp.bouts`."""
        return self.bout_tracker.bouts(t_start, t_end)

    def summary(self, duration_s: float) -> dict[str, Any]:
        """The ``sensors`` object of SUMMARY.json (per analysed sensor)."""
        return {sid: a.summary() for sid, a in self.analyzers.items()}

    def diagnostics(self) -> dict[str, Any]:
        """Per-sensor diagnostics (alignment confidence, flag counts) and skipped sensors."""
        d: dict[str, Any] = {sid: a.diagnostics() for sid, a in self.analyzers.items()}
        for sid, why in self.skipped.items():
            d[sid] = {"sensor_id": sid, "skipped": why}
        return d

    def early_watermarks(self) -> dict[str, float]:
        """Per sensor with early rows: the time (s) before which all of them are released.

        A foot that has data but no contacts yet (e.g. waiting for its alignment) counts as
        released up to its first sample, so rules pooling both feet wait for it (up to the
        alert engine's ``hold_s``) instead of taking it for silent.
        """
        return {
            sid: max(float(self.analyzers[sid].watermark_), self._t_first.get(sid, -math.inf))
            for sid in self._feet
        }

    def stride_watermarks(self) -> dict[str, float]:
        """Per foot sensor: the time (s) before which all its stride early rows (early rows
        with a stride time, :attr:`dsp.foot_analyzer.FootAnalyzer.stride_watermark_`) are
        released; a foot without contacts yet counts up to its first sample."""
        return {
            sid: max(
                float(getattr(self.analyzers[sid], "stride_watermark_", -math.inf)),
                self._t_first.get(sid, -math.inf),
            )
            for sid in self._feet
        }

    def analyzer(self, sensor_id: str) -> Any:
        """The per-sensor analyzer (e.g. to read a foot analyzer's ``latest_traces_``)."""
        return self.analyzers[sensor_id]

    # ------------------------------------------------------------------
    def _route(self, sid: str, rows: list[ContactRow]) -> list[ContactRow]:
        a = self.analyzers[sid]
        # observers see every foot call (its watermark and detected_ics_ too), before the drain
        if rows or sid in self._feet:
            for osid, other in self.analyzers.items():
                if osid != sid and hasattr(other, "observe"):
                    other.observe(sid, rows)
                    # early rows an observer could release thanks to these (the pelvis: the
                    # side of a step from the foot's early row)
                    got = getattr(other, "observed_early_rows_", None)
                    if got:
                        self.early_rows_ += got
                        got.clear()
        if sid in self._feet:
            side = self._feet[sid]
            ics = a.detected_ics_
            if ics:
                self._ics[side].extend(ics)
                ics.clear()
        out: list[ContactRow] = []
        for r in rows:
            if sid in self._feet:
                self._held.append(r)
            else:
                out.append(r)
        return out + self._release()

    def _other_state(self, side: str) -> tuple[list[float], float] | None:
        other = "right" if side == "left" else "left"
        wms = [self.analyzers[s].watermark_ for s, sd in self._feet.items() if sd == other]
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
