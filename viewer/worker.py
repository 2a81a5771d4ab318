"""The viewer's analysis thread: source -> recorder -> streaming analysis -> alert engine.

The worker runs an asyncio loop in its own thread (never the GUI thread). It enters the block
source (BLE, emulated BLE, simulator or HDF5 replay), records live data to HDF5, feeds every
block to the shared streaming analysis (:class:`dsp.session.SessionAnalyzer`) and the rows it
finishes to the alert engine (:class:`dsp.alerts.AlertEngine`). Results are handed to the GUI
thread through a thread-safe :class:`queue.Queue` of :class:`Update` objects; the GUI pulls them
on a timer. The GUI controls the worker only through the thread-safe methods :meth:`pause`,
:meth:`set_speed`, :meth:`seek`, :meth:`add_marker` and :meth:`stop`.

Replay seeking runs the same analyzer: jumping forwards feeds the skipped data as fast as
possible; jumping backwards starts a fresh analyzer and re-feeds the recording from its start up
to the new position (an ``Update("reset")`` tells the GUI to forget what it had).
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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dsp.alerts import Alert, AlertEngine, Profile
from dsp.block import SampleBlock, SensorInfo
from dsp.contact import ContactRow
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
    * ``status``: ``data = {sensor_id: SensorStatus}``;
    * ``marker``: ``data = (t, label, kind)`` a marker that was written;
    * ``streams``: ``data = [(stream_id, t, {quantity: values}, device_model, placement)]``
      rows of non-IMU devices (footpods): a recording's whole ``/streams`` at once in replay,
      the rows received since the last block live (also written to the live recording);
    * ``reset``: the analysis restarted (replay jumped back): forget rows and raw data;
    * ``ended``: the source has no more data (``data`` = final time);
    * ``error``: ``data`` = one-line message; the worker stops.
    """

    kind: str
    data: Any = None
    wall: float = field(default_factory=time.monotonic)


def _traces_of(analyzer: Any, sensor_id: str) -> list[tuple[str, str, float, np.ndarray]]:
    """Per-stride traces an analyzer finished in its last call (``latest_traces_``).

    Entries are ``(t_ic, values)`` (the side is the analyzer's own, e.g. a foot's) or
    ``(t_ic, values, side)`` (e.g. pelvic obliquity keyed by the stance side).
    """
    out = []
    own = getattr(analyzer, "side", None) or ""
    for item in getattr(analyzer, "latest_traces_", None) or []:
        if len(item) >= 3:
            t_ic, values, side = item[0], item[1], item[2]
        else:
            (t_ic, values), side = item, own
        out.append((sensor_id, str(side or ""), float(t_ic), np.asarray(values, dtype=float)))
    return out


class AnalysisWorker:
    """Run a block source with analysis and alerts in a background thread.

    Parameters
    ----------
    source_factory : callable
        Returns a not-yet-entered block source (``firmware_bridge.source.BlockSource``).
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
        self.writer: Any = None
        self.sensors: list[SensorInfo] = []
        self.t_now = 0.0
        self.markers_written: list[tuple[float, str, str]] = []
        self.error: str | None = None
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
            if self.writer is not None:
                self.writer.close()
                self.writer = None

    def _new_analysis(self) -> None:
        from dsp.session import AnalysisConfig, SessionAnalyzer

        self.engine = AlertEngine(self.profile, sensors=self.sensors, early=True)
        # all sensors' blocks come together in time here: the pelvis gives up on a foot
        # that fell silent within seconds instead of at the end (same rows either way)
        config = AnalysisConfig(placement_settings={"pelvis": {"lockstep_feeds": True}})
        try:
            self.sa: Any = SessionAnalyzer(self.sensors, config=config)
            self.analysis_error: str | None = None
        except AnalysisError as exc:  # raw signals are still shown
            self.sa = None
            self.analysis_error = str(exc)
        self._last_t: dict[str, float] = {}
        self._finished = False
        self._analysed_to = -math.inf if self._rec is None else float(self._rec.t_start)

    async def _session(self, src: Any) -> None:
        self.sensors = list(src.sensors)
        if self.record_path is not None:
            from recordings import RecordingWriter

            self.writer = RecordingWriter(self.record_path, self.sensors, notes=self.notes)
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
                    if not self.replay:
                        break  # live source ended
                    # replay ended: wait for a seek (restart) or stop
                    cmd = await self._cmdq.get()
                else:
                    cmd = get.result()
                if cmd[0] == "stop":
                    break
                consumer = await self._command(src, cmd, consumer)
        finally:
            status_task.cancel()
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
        if self.writer is not None:
            self.writer.add_marker(t, label, kind=kind)
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
        if self.writer is not None:
            self.writer.append(block)
        self._put("blocks", [block])
        self._live_streams()
        self._analyse([block])

    def _live_streams(self) -> None:
        """Live: rows of non-IMU devices (footpods) since the last call, recorded and shown."""
        drain = getattr(self.source, "drain_streams", None)
        rows = drain() if callable(drain) else None
        if not rows:
            return
        if self.writer is not None:
            for sid, t, values, model, placement in rows:
                self.writer.append_stream(sid, t, values, device_model=model, placement=placement)
        self._put("streams", rows)

    def _analyse(self, blocks: list[SampleBlock]) -> None:
        rows: list[ContactRow] = []
        early: list[ContactRow] = []
        traces: list[tuple[str, str, float, np.ndarray]] = []
        if self.sa is None:
            return
        for block in blocks:
            if len(block):
                self._last_t[block.sensor_id] = block.t_end
            if block.sensor_id not in self.sa.analyzers:
                continue
            rows += self.sa.feed(block)
            early += self.sa.early_rows_
            traces += _traces_of(self.sa.analyzer(block.sensor_id), block.sensor_id)
        self._emit_rows(rows, traces, early=early)

    def _emit_rows(
        self,
        rows: list[ContactRow],
        traces: list,
        *,
        early: list[ContactRow] | None = None,
        final: bool = False,
    ) -> None:
        if not rows and not traces and not early and not final:
            return
        assert self.sa is not None
        # contact-only metrics (strike angle, pronation, contact time) alert from the early
        # rows, about a stride before the rows themselves are final
        alerts: list[Alert] = self.engine.feed(
            rows,
            early=early or (),
            watermarks=self.sa.early_watermarks(),
            stride_watermarks=self.sa.stride_watermarks(),
        )
        cleared = list(self.engine.cleared_)
        if final:
            alerts += self.engine.finish()
            cleared += self.engine.cleared_
        if self.writer is not None:
            for a in alerts:
                self._write_marker(a.t, a.rule, "alert")
        self._put(
            "strides",
            {
                "rows": rows,
                "early": list(early or ()),
                "traces": traces,
                "alerts": alerts,
                "cleared": cleared,
            },
        )

    def _finish(self) -> None:
        if self.sa is None or self._finished:
            return
        self._finished = True
        rows = self.sa.finish()
        traces = []
        for sid in self.sa.analyzers:
            traces += _traces_of(self.sa.analyzer(sid), sid)
        self._emit_rows(rows, traces, early=self.sa.early_rows_, final=True)

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

    async def _analyse_to(self, target: float) -> None:
        """Replay: feed the analysis from the file up to ``target`` s (monotonic)."""
        rec = self._rec
        if self.sa is None or self._finished:
            return
        target = min(target, rec.t_end + 1e-6)
        chunk = 5.0
        w0 = self._analysed_to
        while w0 < target:
            w1 = min(w0 + chunk, target)
            blocks = []
            first = w0 == rec.t_start
            for s in self.sensors:
                b = rec.read(s.sensor_id, w0, w1)
                g = rec.gaps(s.sensor_id)
                if len(g):  # each gap once: in the window in which it starts
                    g = g[((g[:, 0] >= w0) | first) & (g[:, 0] < w1)]
                b = SampleBlock(b.sensor_id, b.t, b.acc, b.gyr, b.seq, g)
                if len(b) or len(b.gaps):
                    blocks.append(b)
            self._analyse(blocks)
            self._analysed_to = w1
            w0 = w1
            await asyncio.sleep(0)
        if target >= rec.t_end:
            self._finish()


def replay_block_s(speed: float) -> float:
    """Replay window length (s of recording) for a playback speed: about 20-40 windows per
    wall-clock second, so that reading the file stays cheap at 16x."""
    return 0.05 * max(1.0, speed / 2.0)


def _one_line(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return msg
