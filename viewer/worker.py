"""The viewer's analysis thread: source -> recorder -> session pipeline (analysis + alerts).

The worker runs an asyncio loop in its own thread (never the GUI thread). It enters the block
source (BLE, emulated BLE, simulator or HDF5 replay), records live data to HDF5 with the
recorder of ``runform record`` (:class:`recordings.recorder.Recorder`), and feeds every block
to the session pipeline of ``runform analyze`` (:class:`dsp.pipeline.SessionPipeline`: the
streaming analysis and the alert engine). In replay the analysis reads the file ahead of the
playback with the reader's own windows (:meth:`recordings.Recording.iter_blocks`). Results are handed to the GUI
thread through a thread-safe :class:`queue.Queue` of :class:`Update` objects; the GUI pulls them
on a timer. The GUI controls the worker only through the thread-safe methods :meth:`pause`,
:meth:`set_speed`, :meth:`seek`, :meth:`add_marker` and :meth:`stop`.

Replay seeking moves the playback only: the analysis runs once through the file, ahead of
the playback (jumping forwards feeds the skipped data as fast as possible; the rows before a
backward jump are already known).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from dsp.alerts import Profile
from dsp.block import SampleBlock, SensorInfo
from dsp.errors import AnalysisError

__all__ = ["AnalysisWorker", "Update", "replay_block_s"]

log = logging.getLogger(__name__)


@dataclass
class Update:
    """One message from the worker to the GUI.

    ``kind`` is one of:

    * ``sensors``: ``data = {"sensors": [SensorInfo], "duration_s": float | None,
      "t_start": float, "markers": [(t, label, kind)], "analysis_error": str | None}``
    * ``blocks``: ``data = [SampleBlock]`` raw data, in arrival order;
    * ``strides``: ``data = {"rows": [ContactRow], "traces": [(sensor_id, side, t_ic, trace)],
      "alerts": [Alert], "cleared": [(t, rule, side)]}``
    * ``position``: ``data = t`` latest session time seen, s;
    * ``activity``: ``data`` = the current activity (``stand``, ``walk``, ``run``, ``other``;
      :meth:`dsp.bouts.BoutTracker.current`), sent when it changes;
    * ``status``: ``data = {sensor_id: SensorStatus}``;
    * ``marker``: ``data = (t, label, kind)`` a marker that was written;
    * ``streams``: ``data = [(stream_id, t, {quantity: values}, device_model, placement)]``
      rows of non-IMU devices (footpods): a recording's whole ``/streams`` at once in replay,
      the rows received since the last block live (also written to the live recording);
    * ``analysing``: a replay catching up (a jump into a long file): the fraction done, then
      ``None`` when it is done;
    * ``recording_stopped``: ``data`` = one line: the live recording stopped early (disk full,
      :func:`recordings.recorder.stop_message`); the file keeps what was written, the data
      are still shown and analysed;
    * ``ended``: the source has no more data (``data`` = final time); the worker still
      takes commands until :meth:`stop` (a live recording stays open: a marker set after
      the sensors stopped is written too);
    * ``error``: ``data`` = one-line message; the worker stops.
    """

    kind: str
    data: Any = None
    wall: float = field(default_factory=time.monotonic)


class AnalysisWorker:
    """Run a block source with analysis and alerts in a background thread.

    Parameters
    ----------
    source_factory : callable
        Returns a not-yet-entered block source (``dsp.source.BlockSource``).
    profile : Profile
        Alert rules.
    record_path : str, optional
        Live mode: record every block, alert and marker to this new HDF5 file.
    notes : str, optional
        Stored in the recording.
    replay : bool
        The source is a :class:`recordings.ReplaySource` (enables seek, pause and speed).
    start_at_s : float, optional
        Replay: analyse up to this time first (as fast as possible), then play from there.
    max_queue : int
        Bound of the GUI queue; when the GUI falls behind, the worker waits rather than grow
        memory.
    min_free_bytes : int, optional
        Live recording: stop writing when less than this is left on the disk (default
        :data:`recordings.recorder.MIN_FREE_BYTES`). When the recorder stops (disk full, a
        refused write), the worker sends one ``recording_stopped`` message (the window shows it at once), keeps it in
        :attr:`recording_stopped`, and goes on showing and analysing the data.
    duration_s : float, optional
        Live: stop the source after this much session time from when it streams (as
        ``record --duration``); it then ends as a source does (``ended``).
    """

    def __init__(
        self,
        source_factory: Callable[[], Any],
        profile: Profile,
        *,
        record_path: str | os.PathLike[str] | None = None,
        notes: str | None = None,
        replay: bool = False,
        start_at_s: float | None = None,
        max_queue: int = 2000,
        min_free_bytes: int | None = None,
        duration_s: float | None = None,
    ) -> None:
        self.source_factory = source_factory
        self.profile = profile
        self.record_path = None if record_path is None else os.fspath(record_path)
        self.notes = notes
        self.replay = replay
        self.start_at_s = start_at_s
        self.updates: queue.Queue[Update] = queue.Queue(maxsize=max_queue)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._cmdq: asyncio.Queue | None = None
        self._ready = threading.Event()
        self._stopped = threading.Event()
        self.source: Any = None
        self.recorder: Any = None  # recordings.recorder.Recorder, live with a record path
        self.sensors: list[SensorInfo] = []
        self.t_now = 0.0
        self.markers_written: list[tuple[float, str, str]] = []
        self.error: str | None = None
        self.min_free_bytes = min_free_bytes
        self.duration_s = duration_s
        #: Why the live recording stopped early ("disk full: recording stopped at ...").
        self.recording_stopped: str | None = None
        #: What the live recording wrote (kept after the recorder is closed).
        self.recorder_summary: Any = None
        self._rec: Any = None
        self._early: list[tuple] = []

    # ------------------------------------------------------------------ GUI-thread API
    def start(self) -> AnalysisWorker:
        """Start the thread (returns at once)."""
        self._thread = threading.Thread(
            target=self._thread_main, name="runform-worker", daemon=True
        )
        self._thread.start()
        return self

    def _send(self, cmd: tuple) -> None:
        if self._thread is None:  # not started yet: applied once the loop runs
            self._early.append(cmd)
            return
        self._ready.wait(timeout=10.0)
        if self._loop is None or self._cmdq is None or self._loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # loop already closed
            self._loop.call_soon_threadsafe(self._cmdq.put_nowait, cmd)

    def pause(self, paused: bool = True) -> None:
        self._send(("pause", bool(paused)))

    def set_speed(self, speed: float) -> None:
        self._send(("speed", float(speed)))

    def seek(self, t_s: float) -> None:
        self._send(("seek", float(t_s)))

    def add_marker(self, label: str, kind: str = "user", t: float | None = None) -> None:
        """Set a marker at session time ``t`` (default: now); written to the live recording."""
        self._send(("marker", t, label, kind))

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the source, close the recording and end the thread."""
        self._send(("stop",))
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ------------------------------------------------------------------ worker thread
    def _put(self, kind: str, data: Any = None) -> None:
        while True:
            try:
                self.updates.put(Update(kind, data), timeout=0.5)
                return
            except queue.Full:
                if self._stopped.is_set():
                    return

    def _thread_main(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception as exc:  # reported to the GUI and by the command as one line
            log.debug("viewer worker failed", exc_info=True)
            self.error = _one_line(exc)
            self._put("error", self.error)
        finally:
            self._stopped.set()
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._cmdq = asyncio.Queue()
        for cmd in self._early:
            self._cmdq.put_nowait(cmd)
        self._early.clear()
        self._ready.set()
        self.source = self.source_factory()
        try:
            async with self.source as src:
                await self._session(src)
        finally:
            if self.recorder is not None:
                self.recorder.close()
                self.recorder = None

    def _new_analysis(self) -> None:
        from dsp.pipeline import SessionPipeline
        from dsp.session import AnalysisConfig

        # all sensors' blocks come together in time here: the pelvis gives up on a foot
        # that fell silent within seconds instead of at the end (same rows either way)
        config = AnalysisConfig(placement_settings={"pelvis": {"lockstep_feeds": True}})
        try:
            self.pipe: SessionPipeline | None = SessionPipeline(
                self.sensors, profile=self.profile, config=config
            )
            self.analysis_error: str | None = None
        except AnalysisError as exc:  # raw signals are still shown
            self.pipe = None
            self.analysis_error = str(exc)
        self._finished = False
        self._activity: str | None = None  # the current activity last sent
        self._analysed_to = -math.inf if self._rec is None else float(self._rec.t_start)
        # replay: the analysis reads the file ahead of playback, window by window
        self._file_blocks: Iterator[SampleBlock] | None = (
            None if self._rec is None else self._rec.iter_blocks(chunk_s=self.ANALYSIS_WINDOW_S)
        )

    async def _session(self, src: Any) -> None:
        self.sensors = list(src.sensors)
        if self.record_path is not None:
            from recordings.recorder import Recorder

            kw = {} if self.min_free_bytes is None else {"min_free_bytes": self.min_free_bytes}
            self.recorder = Recorder(self.record_path, self.sensors, notes=self.notes, **kw)
            self.recorder_summary = self.recorder.summary
        rec = getattr(src, "recording", None) if self.replay else None
        self._rec = rec
        self._new_analysis()
        info = {
            "sensors": self.sensors,
            "duration_s": None if rec is None else float(rec.duration_s),
            "t_start": 0.0 if rec is None else float(rec.t_start),
            "t_end": None if rec is None else float(rec.t_end),
            "markers": [] if rec is None else list(rec.markers),
            "analysis_error": self.analysis_error,
            "record_path": self.record_path,
        }
        self._put("sensors", info)
        if rec is not None and hasattr(rec, "streams"):
            rows = [
                (x.stream_id, x.t, x.values, x.device_model, x.placement) for x in rec.streams()
            ]
            if rows:
                self._put("streams", rows)
        if rec is not None:
            self.t_now = float(rec.t_start)
            if self.start_at_s is not None:
                await self._jump(src, float(self.start_at_s))
        consumer = asyncio.create_task(self._consume(src))
        status_task = asyncio.create_task(self._status_loop(src))
        timer = None
        now, stop_src = getattr(src, "now", None), getattr(src, "stop", None)
        if self.duration_s is not None and not self.replay and now and callable(stop_src):
            from recordings.recorder import stop_at

            # as record --duration: session time from when every sensor streams
            timer = asyncio.create_task(stop_at(now, stop_src, now() + self.duration_s))
        assert self._cmdq is not None
        try:
            while True:
                get = asyncio.create_task(self._cmdq.get())
                done, _ = await asyncio.wait({get, consumer}, return_when=asyncio.FIRST_COMPLETED)
                if get not in done:
                    get.cancel()
                    exc = consumer.exception()
                    if exc is not None:
                        raise exc
                    # replay ended: wait for a seek (restart) or stop; live source ended:
                    # the recording stays open for markers set until the window is closed
                    cmd = await self._cmdq.get()
                else:
                    cmd = get.result()
                if cmd[0] == "stop":
                    break
                consumer = await self._command(src, cmd, consumer)
        finally:
            status_task.cancel()
            if timer is not None:
                timer.cancel()
            if not consumer.done():
                stop = getattr(src, "stop", None)
                if callable(stop):
                    stop()
                consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await consumer
            with contextlib.suppress(asyncio.CancelledError):
                await status_task

    async def _command(self, src: Any, cmd: tuple, consumer: asyncio.Task) -> asyncio.Task:
        kind = cmd[0]
        if kind == "pause" and self.replay:
            src.pause(cmd[1])
        elif kind == "speed" and self.replay:
            try:
                src.set_speed(cmd[1])
                src.block_s = replay_block_s(cmd[1])
            except Exception as exc:  # out of range: tell the GUI, keep going
                self._put("notice", _one_line(exc))
        elif kind == "marker":
            _, t, label, mkind = cmd
            t = self.t_now if t is None else float(t)
            self._write_marker(t, label, mkind)
        elif kind == "seek" and self.replay:
            if not consumer.done():
                consumer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await consumer
            await self._jump(src, cmd[1])
            return asyncio.create_task(self._consume(src))
        return consumer

    def _write_marker(self, t: float, label: str, kind: str) -> None:
        if self.recorder is not None:
            self.recorder.add_marker(t, label, kind=kind)
        self.markers_written.append((t, label, kind))
        self._put("marker", (t, label, kind))

    async def _status_loop(self, src: Any) -> None:
        while True:
            await asyncio.sleep(0.5)
            try:
                self._put("status", dict(src.status()))
            except Exception:  # a source without status yet
                log.debug("status not available", exc_info=True)

    async def _consume(self, src: Any) -> None:
        async for block in src.blocks():
            if len(block):
                self.t_now = max(self.t_now, block.t_end)
            if self.replay:
                # raw data paced by the source; analysis runs ahead from the file
                self._put("blocks", [block])
                if self.t_now + self.LEAD_S > self._analysed_to + 0.25:
                    await self._analyse_to(self.t_now + self.LEAD_S + 0.5)
            else:
                self._live_block(block)
            self._put("position", self.t_now)
        if self.replay:
            await self._analyse_to(math.inf)
        self._finish()
        self._put("ended", self.t_now)

    #: Replay: the analysis runs this far (s) ahead of the playback position, so that the
    #: stride under the cursor is known when playback reaches it (a contact's row needs the
    #: same foot's next contact).
    LEAD_S = 3.0

    def _live_block(self, block: SampleBlock) -> None:
        if self.recorder is not None:
            self.recorder.append(block)
            self._check_recorder()
        self._put("blocks", [block])
        self._live_streams()
        self._analyse([block])

    def _live_streams(self) -> None:
        """Live: rows of non-IMU devices (footpods) since the last call, recorded and shown."""
        drain = getattr(self.source, "drain_streams", None)
        rows = drain() if callable(drain) else None
        if not rows:
            return
        if self.recorder is not None:
            self.recorder.append_streams(rows)
        self._put("streams", rows)

    def _check_recorder(self) -> None:
        """Once the recorder stopped (disk full): one message; the analysis goes on."""
        if self.recording_stopped is not None or not self.recorder.stopped:
            return
        from recordings.recorder import stop_message

        self.recording_stopped = stop_message(self.recorder.summary)
        # the window shows it at once; `runform live` prints the one stderr line on closing
        log.info("%s", self.recording_stopped)
        self._put("recording_stopped", self.recording_stopped)

    def _analyse(self, blocks: list[SampleBlock]) -> None:
        """Feed blocks to the pipeline; one ``strides`` message with what they released."""
        if self.pipe is None:
            return
        ups = [self.pipe.feed(b) for b in blocks if b.sensor_id in self.pipe.analysis.analyzers]
        self._emit(ups)
        # the current activity (stand, walk, run, other), when it changes
        ends = [float(b.t_end) for b in blocks if len(b)]
        if ends:
            act = self.pipe.analysis.bout_tracker.current(max(ends))
            if act is not None and act != self._activity:
                self._activity = act
                self._put("activity", act)

    def _emit(self, ups: list[Any], *, final: bool = False) -> None:
        rows = [r for u in ups for r in u.rows]
        early = [r for u in ups for r in u.early_rows]
        alerts = [a for u in ups for a in u.alerts]
        cleared = [c for u in ups for c in u.cleared]
        traces = [t for u in ups for t in u.traces()]
        if not rows and not traces and not early and not final:
            return
        if self.recorder is not None:
            for a in alerts:
                self._write_marker(a.t, a.rule, "alert")
        self._put(
            "strides",
            {"rows": rows, "early": early, "traces": traces, "alerts": alerts, "cleared": cleared},
        )

    def _finish(self) -> None:
        if self.pipe is None or self._finished:
            return
        self._finished = True
        self._emit([self.pipe.finish()], final=True)

    async def _jump(self, src: Any, target: float) -> None:
        """Replay: move playback to ``target`` s; analysis catches up as fast as it can."""
        rec = self._rec
        target = min(max(float(target), rec.t_start), rec.t_end)
        await self._analyse_to(target + self.LEAD_S + 0.5)
        # raw data shown before the new position
        blocks = []
        for s in self.sensors:
            b = rec.read(s.sensor_id, max(rec.t_start, target - self.RAW_PREFILL_S), target)
            blocks.append(b)
        self.t_now = target
        self._put("seeked", target)
        self._put("blocks", blocks)
        self._put("position", target)
        src.seek(target)

    #: Raw data (s) sent to the GUI before a new replay position.
    RAW_PREFILL_S = 12.0

    #: Replay: length of the windows the analysis reads from the file, s.
    ANALYSIS_WINDOW_S = 1.0

    async def _analyse_to(self, target: float) -> None:
        """Replay: feed the analysis from the file up to ``target`` s (monotonic), with the
        reader's own windows (:meth:`recordings.Recording.iter_blocks`)."""
        if self.pipe is None or self._finished or self._file_blocks is None:
            return
        n_sensors = max(1, len(self.sensors))
        blocks: list[SampleBlock] = []
        # a catch-up of more than 30 s (a jump into a long file) reports its progress
        w0 = self._analysed_to
        span = min(target, float(self._rec.t_end)) - w0 if self._rec is not None else 0.0
        loading = math.isfinite(span) and span > 30.0
        while self._analysed_to < target:
            b = next(self._file_blocks, None)
            if b is None:  # the end of the file
                self._analyse(blocks)
                if loading:
                    self._put("analysing", None)
                self._finish()
                return
            blocks.append(b)
            if len(b):
                self._analysed_to = max(self._analysed_to, float(b.t_end))
            if len(blocks) >= 5 * n_sensors:  # about 5 s of data per message
                self._analyse(blocks)
                blocks = []
                if loading:
                    self._put("analysing", min(1.0, (self._analysed_to - w0) / span))
                await asyncio.sleep(0)
        self._analyse(blocks)
        if loading:
            self._put("analysing", None)


def replay_block_s(speed: float) -> float:
    """Replay window length (s of recording) for a playback speed: about 20-40 windows per
    wall-clock second, so that reading the file stays cheap at 16x."""
    return 0.05 * max(1.0, speed / 2.0)


def _one_line(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return msg
