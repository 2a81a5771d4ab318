"""Analyse one recording file: the single code path behind ``analyze``, ``report``, ``compare``
and ``batch``.

:func:`analyse_recording` opens a recording, feeds it in chunks to
:class:`dsp.pipeline.SessionPipeline` (analysis and alerts; memory does not grow with the file's length; the foot
analyzers run in worker processes when that pays, with the same results: see
:mod:`runform.parallel`) and returns the stride table (the rows of STRIDES.csv, with the CSV's
rounding, as a pandas DataFrame), the SUMMARY.json document, the analyzer diagnostics and, on
request, the per-stride foot pitch traces for overlays. ``batch`` only schedules this function; ``report`` and ``compare`` only
read its result, so their numbers are the ones ``runform analyze`` writes.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from dsp.block import SensorInfo
from dsp.contact import STRIDE_COLUMNS, ContactRow
from dsp.metrics import csv_decimals
from runform.validation import ANALYSIS_CHUNK_S

if TYPE_CHECKING:
    import pandas as pd

    from dsp.session import AnalysisConfig

__all__ = [
    "TEXT_COLUMNS",
    "AnalysisResult",
    "analyse_recording",
    "analysis_config",
    "make_alert_engine",
    "no_contact_reasons",
    "rows_to_frame",
    "sample_counts",
]

log = logging.getLogger(__name__)

#: Columns of the stride table holding text (every other column is float64).
TEXT_COLUMNS = ("sensor_id", "side", "strike_type", "flags", "activity", "events_source")


def rows_to_frame(rows: list[ContactRow]) -> pd.DataFrame:
    """Stride rows as a DataFrame equal to STRIDES.csv read back.

    Columns in :data:`dsp.contact.STRIDE_COLUMNS` order; numbers rounded as the CSV writer
    rounds them (so the values equal those of the CSV exactly), NaN for an empty cell; text
    columns hold ``""`` for an empty cell.
    """
    import pandas as pd  # imported here: `runform analyze` does not need it

    recs = [r.as_record() for r in rows]
    df = pd.DataFrame.from_records(recs, columns=list(STRIDE_COLUMNS))
    dec = csv_decimals()
    for c in STRIDE_COLUMNS:
        if c in TEXT_COLUMNS:
            df[c] = df[c].fillna("").astype(str)
        else:
            col = pd.to_numeric(df[c], errors="coerce").astype("float64")
            if c in dec:
                col = col.round(dec[c])
            df[c] = col
    return df


def make_alert_engine(profile: str | os.PathLike[str] | None, sensors: list[SensorInfo]) -> Any:
    """The alert engine of ``runform analyze``: :class:`dsp.alerts.AlertEngine` on a profile.

    Parameters
    ----------
    profile : str or PathLike or None
        A built-in profile name or a TOML file (:func:`runform.profiles.resolve_profile`);
        ``None`` = the default profile.
    sensors : list of SensorInfo
    """
    from dsp.alerts import AlertEngine
    from runform.profiles import resolve_profile

    # a file is read in chunks of one sensor at a time, so one sensor's rows can run a chunk or
    # more ahead of another's: the rules wait for every sensor (no hold), and evaluate every
    # stride in initial-contact order whatever the chunking
    return AlertEngine(resolve_profile(profile), sensors=sensors, hold_s=math.inf, early=True)


def _alert_dict(a: Any) -> dict[str, Any]:
    if isinstance(a, dict):
        return a
    if hasattr(a, "as_summary"):
        return a.as_summary()
    return {"t": float(a.t), "rule": str(a.rule), "message": str(a.message)}


def _mark_cleared(alerts: list[dict[str, Any]], cleared: Any) -> None:
    """Give each alert the time its rule went off again (``t_clear``, s: the contact that
    cleared it), so readers know how long it was active; an alert still on at the end has none.
    """
    for t, rule, side in cleared:
        for a in reversed(alerts):
            if a.get("rule") == rule and a.get("side") == side and a["t"] <= t:
                a.setdefault("t_clear", round(float(t), 6))
                break


@dataclass
class AnalysisResult:
    """Everything one analysis of a recording produced.

    Attributes
    ----------
    recording : str
        The path as given.
    duration_s, t_start : float
        Recording duration and first sample time, s.
    sensors : list of SensorInfo
    strides_ : pandas.DataFrame or None
        The STRIDES.csv rows (:func:`rows_to_frame`), in release order; read them through
        the ``strides`` property. ``None`` with ``keep_rows=False``.
    summary : dict
        The SUMMARY.json document.
    diagnostics : dict
        :meth:`dsp.session.SessionAnalyzer.diagnostics`.
    markers : list of (float, str, str)
        ``(t, label, kind)`` from the recording.
    notes : str
    attrs : dict
        Root attributes of the recording file.
    traces : dict
        sensor_id -> list of ``(t_ic, pitch)``, foot pitch in deg over the stride resampled to
        101 points (only with ``collect_traces=True``).
    samples : dict
        sensor_id -> number of samples in the recording.
    """

    recording: str
    duration_s: float
    t_start: float
    sensors: list[SensorInfo]
    strides_: pd.DataFrame | None
    summary: dict[str, Any]
    diagnostics: dict[str, Any]
    markers: list[tuple[float, str, str]] = field(default_factory=list)
    notes: str = ""
    attrs: dict[str, Any] = field(default_factory=dict)
    traces: dict[str, list[tuple[float, np.ndarray]]] = field(default_factory=dict)
    samples: dict[str, int] = field(default_factory=dict)

    @property
    def strides(self) -> pd.DataFrame:
        """The STRIDES.csv rows (only when analysed with ``keep_rows=True``)."""
        if self.strides_ is None:
            raise ValueError(f"{self.recording}: rows were not kept (keep_rows=False)")
        return self.strides_

    @property
    def alerts(self) -> list[dict[str, Any]]:
        return list(self.summary.get("alerts", []))

    def placement_of(self, sensor_id: str) -> str:
        for s in self.sensors:
            if s.sensor_id == sensor_id:
                return s.placement
        return ""


class _Collector:
    """What :func:`analyse_recording` keeps of the pipeline's updates: the rows (and the
    streaming writer's callback), the alerts with their clearing, the foot traces, and the
    runner and per-activity summaries; then SUMMARY.json."""

    def __init__(
        self,
        sensors: list[SensorInfo],
        *,
        collect_traces: bool,
        keep_rows: bool,
        on_rows: Callable[[list[ContactRow]], None] | None,
    ) -> None:
        from dsp.runner_metrics import RunnerMetrics
        from dsp.session import FOOT_PLACEMENTS
        from dsp.summary import ActivitySummaries

        self.rows: list[ContactRow] = []
        self.alerts: list[dict[str, Any]] = []
        self.traces: dict[str, list[tuple[float, np.ndarray]]] = {}
        self.collect_traces = collect_traces
        self.keep_rows = keep_rows
        self.on_rows = on_rows
        self.feet = {s.sensor_id for s in sensors if s.placement in FOOT_PLACEMENTS}
        self.runner = RunnerMetrics({s.sensor_id: s.placement for s in sensors})
        self.per_activity = ActivitySummaries()

    def consume(self, up: Any) -> None:
        """Take one :class:`dsp.pipeline.Update`."""
        # the alerts come from the early rows too, as in the live viewer (same alerts)
        self.alerts.extend(_alert_dict(a) for a in up.alerts)
        _mark_cleared(self.alerts, up.cleared)
        if self.collect_traces:  # the report's overlays are foot pitch (the pelvis: obliquity)
            for sid, _side, t_ic, values in up.traces():
                if sid in self.feet:
                    self.traces.setdefault(sid, []).append((t_ic, values))
        if not up.rows:
            return
        new = list(up.rows)
        self.runner.add(new)
        self.per_activity.add(new)
        if self.keep_rows:
            self.rows.extend(new)
        if self.on_rows is not None:
            self.on_rows(new)

    def summary(
        self, sa: Any, rec_path: str, *, duration_s: float, t_start: float
    ) -> dict[str, Any]:
        """SUMMARY.json of the session analyzer ``sa`` once the data are finished (the
        alerts sorted by time)."""
        from dsp.summary import build_summary

        self.alerts.sort(key=lambda a: a["t"])
        sensors_part = sa.summary()
        for sid, part in sensors_part.items():
            got = self.per_activity.by_activity(sid, str(part.get("placement", "")))
            if got:
                part["by_activity"] = got
        summary = build_summary(
            recording=rec_path,
            duration_s=duration_s,
            sensors=sensors_part,
            alerts=self.alerts,
            bouts=[b.as_dict() for b in sa.bouts(t_start, t_start + duration_s)],
        )
        self.runner.update_summary(summary)
        return summary


def sample_counts(rec: Any, rec_path: str) -> dict[str, int]:
    """Samples per sensor of an open recording.

    Raises
    ------
    recordings.errors.EmptyRecordingError
        Every sensor is empty (a recording started and stopped at once, or cut to nothing):
        one line, instead of an empty analysis or an empty viewer.
    """
    from recordings.errors import EmptyRecordingError

    samples = {s.sensor_id: int(rec.n_samples(s.sensor_id)) for s in rec.sensors}
    if samples and not any(samples.values()):
        raise EmptyRecordingError(
            f"{rec_path}: no samples: every sensor is empty ("
            + ", ".join(samples)
            + "); expected a recording with data"
        )
    return samples


def no_contact_reasons(result: AnalysisResult) -> dict[str, str]:
    """Why each sensor without contacts has none, by sensor id (what ``runform analyze``
    prints, and the report shows): ``"no samples in the recording, nothing to analyse"``,
    ``"skipped (...)"``, ``"no contacts: <the analyzer's problem>"`` or ``"no contacts: the
    sensor could not be aligned to the foot (<why>)"``."""
    placements = {s.sensor_id: s.placement for s in result.sensors}
    out: dict[str, str] = {}
    for sid, d in result.diagnostics.items():
        if result.samples.get(sid) == 0:
            out[sid] = "no samples in the recording, nothing to analyse"
        elif "skipped" in d:
            out[sid] = f"skipped ({d['skipped']})"
        elif d.get("problem"):  # e.g. a pelvis sensor that moves like a foot
            out[sid] = f"no contacts: {d['problem']}"
        elif d.get("alignment") is None:
            part = "pelvis" if placements.get(sid) == "pelvis" else "foot"
            out[sid] = (
                f"no contacts: the sensor could not be aligned to the {part} "
                f"({d.get('alignment_problem', 'no data')})"
            )
    return out


def analysis_config(
    sensors: list[SensorInfo], foot_mountings: dict[str, np.ndarray] | None = None
) -> AnalysisConfig:
    """The analyzers' settings of :func:`analyse_recording` (``foot_mountings`` as there).

    No pelvis obliquity traces (``PelvisSettings.traces``): nothing here uses them (the
    report's overlays are the feet's), and without them the pelvis attitude is computed on
    fewer samples; the rows are the same.
    """
    from dsp.session import AnalysisConfig

    return AnalysisConfig(
        placement_settings={
            "pelvis": {"traces": False},
            **{
                s.placement: {"R_bs": tuple(map(tuple, np.asarray(foot_mountings[s.sensor_id])))}
                for s in sensors
                if foot_mountings and s.sensor_id in foot_mountings and s.side is not None
            },
        }
    )


def analyse_recording(
    path: str | os.PathLike[str],
    *,
    chunk_s: float = ANALYSIS_CHUNK_S,
    profile: str | os.PathLike[str] | None = None,
    alert_engine: Any | None = None,
    collect_traces: bool = False,
    keep_rows: bool = True,
    on_rows: Callable[[list[ContactRow]], None] | None = None,
    on_progress: Callable[[float, float], None] | None = None,
    workers: int | None = None,
    foot_mountings: dict[str, np.ndarray] | None = None,
) -> AnalysisResult:
    """Analyse a recording file in chunks.

    Parameters
    ----------
    path : str or PathLike
        Recording (HDF5, format v1).
    chunk_s : float
        Seconds of data read at a time.
    profile : str or PathLike, optional
        Alert profile: built-in name or TOML file; ``None`` = the default one
        (:func:`make_alert_engine`).
    alert_engine : object, optional
        An engine with ``feed(rows)`` and ``finish()`` returning alerts, used instead of
        building one.
    collect_traces : bool
        Keep each foot stride's pitch trace (for overlays).
    keep_rows : bool
        Keep the rows in the result (``strides``); ``False`` (``runform analyze``, which
        streams them to the CSV through ``on_rows``) keeps memory flat however long the file is,
        and ``strides`` raises.
    on_rows : callable, optional
        Called with every list of rows as they are released (streaming writers).
    on_progress : callable, optional
        Called with ``(seconds done, duration)`` after each block.
    workers : int, optional
        The most processes to use; ``1`` = this one only. ``None``: the environment variable
        ``RUNFORM_WORKERS``, else one worker process per foot sensor when that pays
        (:func:`runform.parallel.plan_workers`). The results do not depend on it.
    foot_mountings : dict, optional
        sensor id -> known sensor-to-foot rotation (3x3, :func:`mountings_from`): those foot
        sensors skip the alignment estimate (short trials with a few contacts).

    Returns
    -------
    AnalysisResult

    Raises
    ------
    recordings.RecordingError
        The file is missing or is not a valid recording, or no sensor holds a sample (one
        line).
    dsp.errors.AnalysisError
        No sensor can be analysed, or the data cannot be (one line).
    ValueError
        ``chunk_s`` or ``workers`` is not valid.
    runform.errors.UsageError
        ``RUNFORM_WORKERS`` is set but not a positive integer.
    """
    from dsp.errors import AnalysisError
    from dsp.pipeline import SessionPipeline
    from recordings import open_recording
    from runform.parallel import WorkerPool, local_blocks, plan_workers, workers_setting

    if not (chunk_s > 0):
        raise ValueError(f"chunk_s {chunk_s}: expected a positive number of seconds")
    n_workers = workers_setting(workers)
    rec_path = os.fspath(path)
    pool: WorkerPool | None = None
    rec = open_recording(rec_path)
    try:
        sensors = list(rec.sensors)
        samples = sample_counts(rec, rec_path)
        config = analysis_config(sensors, foot_mountings)
        duration = float(rec.duration_s)
        t_start = float(rec.t_start)
        groups, why = plan_workers(sensors, duration_s=duration, chunk_s=chunk_s, workers=n_workers)
        log.debug("%s: %s", rec_path, why)
        if groups:
            # the workers open the file themselves: none may be open here when they fork (the
            # file is validated once: the workers and the reopening here reuse what it found)
            layout = rec.validated()
            rec.close()
            try:
                pool = WorkerPool(
                    rec_path,
                    sensors,
                    groups,
                    chunk_s=chunk_s,
                    config=config,
                    traces=collect_traces,
                    validated=layout,
                )
            except OSError as exc:  # no process could be started (limits, memory)
                log.info("%s: analysed in one process: cannot start workers (%s)", rec_path, exc)
            rec = open_recording(rec_path, validated=layout)
        remote = pool.analyzers if pool is not None else {}
        engine = alert_engine if alert_engine is not None else make_alert_engine(profile, sensors)
        try:
            pipe = SessionPipeline(sensors, config=config, analyzers=dict(remote), engine=engine)
        except AnalysisError as exc:  # e.g. no sensor to analyse: name the file
            raise AnalysisError(f"{rec_path}: {exc}") from None
        sa = pipe.analysis
        out = _Collector(
            sensors, collect_traces=collect_traces, keep_rows=keep_rows, on_rows=on_rows
        )
        ids = list(sa.analyzers)
        blocks = (
            local_blocks(rec, chunk_s, ids, set(remote))
            if remote
            else rec.iter_blocks(chunk_s=chunk_s, sensor_ids=ids)
        )
        for block in blocks:
            up = pipe.feed(block)
            out.consume(up)
            if on_progress is not None and math.isfinite(up.data_end):
                on_progress(up.data_end - t_start, duration)
        out.consume(pipe.finish())
        rows, traces = out.rows, out.traces
        summary = out.summary(sa, rec_path, duration_s=duration, t_start=t_start)
        result = AnalysisResult(
            recording=rec_path,
            duration_s=duration,
            t_start=t_start,
            sensors=sensors,
            strides_=rows_to_frame(rows) if keep_rows else None,
            summary=summary,
            diagnostics=sa.diagnostics(),
            markers=list(rec.markers),
            notes=rec.notes,
            attrs=rec.attrs,
            traces=traces,
            samples=samples,
        )
    except BaseException:
        if pool is not None:
            pool.close(ok=False)
        raise
    finally:
        rec.close()
    if pool is not None:
        pool.close(ok=True)
    return result


def mountings_from(
    path: str | os.PathLike[str], *, min_confidence: float | None = None
) -> dict[str, np.ndarray]:
    """Each foot sensor's mounting (sensor-to-foot rotation) found in another recording.

    The recording is analysed as ``runform analyze`` would; a foot sensor's rotation is kept
    when its alignment confidence reaches ``min_confidence`` (default: the analyzer's
    ``min_alignment_confidence``). Keyed by sensor id and, for sensors whose id another file
    may spell differently, by placement (``left_foot`` / ``right_foot``).
    """
    from dsp.foot_analyzer import FootSettings
    from dsp.foot_metrics import MetricSettings, foot_heading_deg

    thr = FootSettings().min_alignment_confidence if min_confidence is None else min_confidence
    res = analyse_recording(path, keep_rows=False, workers=1)
    out: dict[str, np.ndarray] = {}
    for info in res.sensors:
        d = res.diagnostics.get(info.sensor_id) or {}
        al = d.get("alignment")
        if info.side is None or not isinstance(al, dict) or not al.get("ok"):
            continue
        if float(al.get("confidence") or 0.0) < thr:
            continue
        r = np.asarray(al["R_bs"], dtype=np.float64)
        # the shoe's own frame: the analysis frame turned onto its heel-toe axis (found from
        # the direction of progression, :func:`dsp.foot_metrics.foot_heading_deg`), which a
        # given mounting is taken to be
        if al.get("heading_deg") is not None:
            h = np.radians(
                foot_heading_deg(float(al["heading_deg"]), info.side, MetricSettings().toe_out_deg)
            )
            turn = np.array([[np.cos(h), np.sin(h), 0.0], [-np.sin(h), np.cos(h), 0.0], [0, 0, 1]])
            r = turn @ r
        out[info.sensor_id] = r
        out.setdefault(info.placement, r)
    return out
