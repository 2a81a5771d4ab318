"""The one session pipeline: per-sensor analysis and alerts, block in, :class:`Update` out.

``runform analyze`` (and through it report, compare and batch), replay and the live viewer all
drive this object; they differ only in where the blocks come from and what they do with the
updates (write a CSV, draw, record)::

    pipe = SessionPipeline(sensors, profile=profile)           # hold_s=inf for whole files
    for block in source:                                        # any sensor, time order per sensor
        up = pipe.feed(block)
        up.rows, up.early_rows, up.alerts, up.cleared, up.traces()
    up = pipe.finish()                                          # the last rows and alerts
    pipe.analysis.summary(), pipe.analysis.diagnostics()

The alert engine (:class:`dsp.alerts.AlertEngine`, ``early=True``) is fed each call's rows and
early rows with the feet's watermarks, whenever the call released any; at :meth:`finish` it
evaluates every row still waiting.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dsp.alerts import Alert, AlertEngine, Profile
from dsp.block import SampleBlock, SensorInfo
from dsp.contact import ContactRow
from dsp.feed import FeedResult
from dsp.session import AnalysisConfig, SessionAnalyzer, SessionUpdate

__all__ = ["SessionPipeline", "Update"]


@dataclass(frozen=True)
class Update:
    """What one call of :class:`SessionPipeline` released.

    Attributes
    ----------
    rows, early_rows : tuple of ContactRow
        As in :class:`dsp.session.SessionUpdate`.
    alerts : tuple of Alert
        Alerts raised by the call.
    cleared : tuple of (float, str, str or None)
        ``(t, rule, side)`` of the rules that went off in the call.
    results : tuple of FeedResult
        The per-sensor analyzers' results of the call.
    sensor_id : str
        The sensor whose block was fed ("" for :meth:`SessionPipeline.finish`).
    """

    rows: tuple[ContactRow, ...] = ()
    early_rows: tuple[ContactRow, ...] = ()
    alerts: tuple[Alert, ...] = ()
    cleared: tuple[tuple[float, str, str | None], ...] = ()
    results: tuple[FeedResult, ...] = ()
    sensor_id: str = ""
    early_watermarks: Mapping[str, float] = field(default_factory=dict)
    stride_watermarks: Mapping[str, float] = field(default_factory=dict)

    def traces(self) -> list[tuple[str, str, float, np.ndarray]]:
        """Per-stride traces of the call: ``(sensor_id, side, t_ic, values)``."""
        return SessionUpdate(results=self.results).traces()

    @property
    def data_end(self) -> float:
        """Time of the last sample of the block fed (NaN: empty block, or finish), s."""
        for r in self.results:
            if r.sensor_id == self.sensor_id:
                return r.data_end
        return math.nan


class SessionPipeline:
    """Session analysis plus alerts (see the module docstring).

    Parameters
    ----------
    sensors : list of SensorInfo
    profile : Profile
        The alert profile (:func:`dsp.alerts.load_profile`).
    config : AnalysisConfig, optional
    hold_s : float
        The alert engine's longest wait for a lagging sensor (``inf`` for a file read in
        chunks of one sensor at a time: every stride is evaluated in IC order).
    analyzers : dict, optional
        Per-sensor analyzers to use instead of building them (:class:`SessionAnalyzer`).
    engine : object, optional
        An alert engine to use instead of building one (``feed``/``finish``/``cleared_`` as
        :class:`dsp.alerts.AlertEngine`).

    Raises
    ------
    AnalysisError
        No sensor can be analysed.
    """

    def __init__(
        self,
        sensors: list[SensorInfo],
        *,
        profile: Profile | None = None,
        config: AnalysisConfig | None = None,
        hold_s: float = 30.0,
        analyzers: dict[str, Any] | None = None,
        engine: Any | None = None,
    ) -> None:
        if engine is None:
            if profile is None:
                raise ValueError("SessionPipeline: give a profile or an engine")
            engine = AlertEngine(profile, sensors=sensors, hold_s=hold_s, early=True)
        self.engine = engine
        self.analysis = SessionAnalyzer(sensors, config=config, analyzers=analyzers)

    def feed(self, block: SampleBlock) -> Update:
        """Analyse a block of one sensor; its rows, early rows and the alerts they raise."""
        return self._alerts(self.analysis.feed(block), block.sensor_id, final=False)

    def finish(self) -> Update:
        """End of data: the remaining rows and every alert still waiting."""
        return self._alerts(self.analysis.finish(), "", final=True)

    def _alerts(self, up: SessionUpdate, sensor_id: str, *, final: bool) -> Update:
        alerts: list[Alert] = []
        cleared: list[tuple[float, str, str | None]] = []
        if up.rows or up.early_rows:
            alerts += self.engine.feed(
                up.rows,
                early=up.early_rows,
                watermarks=up.early_watermarks,
                stride_watermarks=up.stride_watermarks,
            )
            cleared += self.engine.cleared_
        if final:
            alerts += self.engine.finish()
            cleared += self.engine.cleared_
        return Update(
            rows=up.rows,
            early_rows=up.early_rows,
            alerts=tuple(alerts),
            cleared=tuple(cleared),
            results=up.results,
            sensor_id=sensor_id,
            early_watermarks=up.early_watermarks,
            stride_watermarks=up.stride_watermarks,
        )
