"""Record any :class:`~dsp.source.BlockSource` to an HDF5 v1 file, with live status.

:class:`Recorder` is the one recorder of live data, used by ``runform record``
(:func:`record_source`) and by the live viewer (``runform live``): every block is appended to a
:class:`recordings.RecordingWriter` as it arrives, with the gaps the source reports; rows of
non-IMU devices such as footpods (``source.drain_streams()``, when the source has it) go to
``/streams``; markers (user marks, alerts) to ``/markers``. The writer flushes at least every
second, so a kill loses at most the last second. :func:`record_source` adds the session loop:
duration, stop, and a status callback with per-sensor diagnostics (rate, lost samples, battery)
a few times a second.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dsp.block import SampleBlock, SensorInfo
from dsp.source import BlockSource, SensorStatus
from recordings.errors import RecordingError, RecordingWriteError
from recordings.writer import RESERVE_BYTES, RecordingWriter, file_size_limit

__all__ = [
    "BEHIND_SHARE",
    "MIN_FREE_BYTES",
    "MIN_FREE_MB",
    "MIN_SIZE_LIMIT_BYTES",
    "STOP_SIGNALS",
    "RecordSummary",
    "Recorder",
    "falling_behind",
    "format_status",
    "free_bytes",
    "min_free_bytes",
    "record_source",
    "size_limit_room",
    "stop_at",
    "stop_message",
]

log = logging.getLogger(__name__)

#: Signals on which ``runform record`` and ``runform live`` stop recording cleanly (the file
#: closed with everything received, as on their own stop): Ctrl-C, ``kill``, and the terminal
#: closing (SIGHUP killed them with the last second unwritten and the disk reserve file left).
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)

#: The recorder stops cleanly when less than this much space is left on the recording's disk,
#: so that the file can still be closed and stays valid (``runform record --min-free-mb``), MB
#: (10^6 bytes, as every free-space figure runform prints).
MIN_FREE_MB = 32.0


def min_free_bytes(min_free_mb: float | None) -> int:
    """The free space a recording keeps, bytes: ``--min-free-mb`` (MB, 10^6 bytes), None: the
    default :data:`MIN_FREE_MB`."""
    return int((MIN_FREE_MB if min_free_mb is None else min_free_mb) * 1e6)


#: :data:`MIN_FREE_MB` in bytes.
MIN_FREE_BYTES = min_free_bytes(None)


#: The smallest file-size limit (``ulimit -f``) a recording starts under, bytes: below it the
#: file's first chunks and metadata may not fit beside the room kept to close it
#: (:func:`size_limit_room`), and HDF5 cannot close a file whose write failed at the limit.
MIN_SIZE_LIMIT_BYTES = 1 << 20
#: Wall-clock seconds between two looks at the free space.
DISK_CHECK_INTERVAL_S = 0.25


def free_bytes(path: str | os.PathLike[str]) -> int:
    """Bytes available to this user on the file system holding ``path`` (its folder)."""
    folder = os.path.dirname(os.path.abspath(os.fspath(path)))
    return int(shutil.disk_usage(folder).free)


def size_limit_room(path: str | os.PathLike[str]) -> int | None:
    """Bytes the file at ``path`` may still grow by under this process's file-size limit
    (``ulimit -f``; :func:`recordings.writer.file_size_limit`), keeping the last
    :data:`~recordings.writer.RESERVE_BYTES` of it (at most half of it) for HDF5 to flush
    and close the file; None without a limit. (At a full disk the writer's reserve file gives
    HDF5 that room back; a file-size limit leaves nothing to give back: a write beyond it
    fails and the file could not be closed.)"""
    limit = file_size_limit()
    if limit is None:
        return None
    try:
        size = os.path.getsize(path)
    except OSError:
        size = 0
    return limit - min(RESERVE_BYTES, limit // 2) - size


@dataclass
class RecordSummary:
    """What a recording run wrote.

    Attributes
    ----------
    path : str
    duration_s : float
        Session time covered, s.
    samples : dict of str to int
        Samples written per sensor.
    gaps : dict of str to int
        Gap intervals written per sensor.
    status : dict of str to SensorStatus
        Final diagnostics per sensor.
    """

    path: str
    duration_s: float = 0.0
    samples: dict[str, int] = field(default_factory=dict)
    gaps: dict[str, int] = field(default_factory=dict)
    status: dict[str, SensorStatus] = field(default_factory=dict)
    #: Why the recording ended early ("disk full"), None if it ended as asked.
    stopped_by: str | None = None


def stop_message(summary: RecordSummary, path_text: str | None = None) -> str | None:
    """The one line telling why a recording ended early, None if it ended as asked.

    ``"disk full: recording stopped at 33.2 s, file kept: PATH"``; ``path_text`` is the path as
    the caller shows it (made safe for a terminal), the summary's path by default. Used by
    ``runform record`` and the live viewer alike.
    """
    if summary.stopped_by is None:
        return None
    path = summary.path if path_text is None else path_text
    return (
        f"{summary.stopped_by}: recording stopped at {summary.duration_s:.1f} s, file kept: {path}"
    )


class Recorder:
    """Writes a live source's blocks, stream rows and markers to a new recording.

    Parameters
    ----------
    path : path-like
        Output file (created; overwritten).
    sensors : list of SensorInfo
    notes : str, optional
        Stored in the file's ``notes`` attribute.
    flush_interval_s : float
        Writer flush interval (≤ 1 s), s.
    min_free_bytes : int
        Stop writing cleanly when less than this is left on the disk (looked at every
        :data:`DISK_CHECK_INTERVAL_S`), before HDF5 would fail a write; a write that fails anyway
        (a quota, another program filling the disk) stops it the same way, and so does this
        process's file-size limit (``ulimit -f``) when it comes near
        (:func:`size_limit_room`). Then
        ``summary.stopped_by`` says why (``"disk full"``), later blocks are ignored, and the file
        keeps every sample written before.

    Attributes
    ----------
    summary : RecordSummary
        What has been written so far (samples and gaps per sensor, time covered).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        sensors: list[SensorInfo],
        *,
        notes: str | None = None,
        flush_interval_s: float = 0.5,
        min_free_bytes: int = MIN_FREE_BYTES,
    ) -> None:
        limit = file_size_limit()
        if limit is not None and limit < MIN_SIZE_LIMIT_BYTES:
            raise RecordingError(
                f"{os.fspath(path)}: this process may write files of at most {limit} bytes "
                f"(ulimit -f), too small for a recording (at least {MIN_SIZE_LIMIT_BYTES >> 20} MB)"
            )
        self.summary = RecordSummary(path=os.fspath(path))
        self.writer = RecordingWriter(path, sensors, notes=notes, flush_interval_s=flush_interval_s)
        self.min_free_bytes = int(min_free_bytes)
        self._next_disk_check = 0.0
        self._t_max = 0.0

    @property
    def stopped(self) -> bool:
        """True once the disk filled up (or refused a write): nothing more is written."""
        return self.summary.stopped_by is not None

    def _stop(self, reason: str, free: int | None = None) -> None:
        self.summary.stopped_by = reason
        left = f" ({free / 1e6:.1f} MB left)" if free is not None else ""
        # the command prints the one line the user sees ("disk full: recording stopped at ...")
        log.info(
            "%s: %s%s: stopping; the file keeps what was written", self.summary.path, reason, left
        )

    def append(self, block: SampleBlock) -> None:
        """Write a block (with its gaps); ignored once :attr:`stopped`."""
        if self.stopped:
            return
        wall = time.monotonic()
        if wall >= self._next_disk_check:
            self._next_disk_check = wall + DISK_CHECK_INTERVAL_S
            free = free_bytes(self.summary.path)
            if free < self.min_free_bytes:
                self._stop("disk full", free)
                return
            room = size_limit_room(self.summary.path)
            if room is not None and room <= 0:
                self._stop("file size limit reached")
                return
        try:
            self.writer.append(block)
        except RecordingWriteError as exc:
            self._stop(exc.reason)
            return
        summary = self.summary
        summary.samples[block.sensor_id] = summary.samples.get(block.sensor_id, 0) + len(block)
        if len(block.gaps):
            summary.gaps[block.sensor_id] = summary.gaps.get(block.sensor_id, 0) + len(block.gaps)
        if len(block):
            self._t_max = max(self._t_max, block.t_end)
            summary.duration_s = self._t_max

    def append_streams(self, rows: list | None) -> None:
        """Write rows of non-IMU devices: ``(stream_id, t, values, device_model, placement)``."""
        if self.stopped:
            return
        for stream_id, t, values, device_model, placement in rows or ():
            self.writer.append_stream(
                stream_id, t, values, device_model=device_model, placement=placement
            )
            self.summary.samples[stream_id] = self.summary.samples.get(stream_id, 0) + len(t)

    def add_marker(self, t: float, label: str, kind: str = "user") -> None:
        """Write a marker at session time ``t`` (s)."""
        if not self.stopped:
            self.writer.add_marker(t, label, kind=kind)

    def close(self) -> None:
        """Flush and close the file (a write that failed at the end stops it as in
        :meth:`append`: ``summary.stopped_by`` says why)."""
        try:
            self.writer.close()
        except RecordingWriteError as exc:
            if not self.stopped:
                self._stop(exc.reason)

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: A sensor delivering less than this share of its nominal rate (nothing lost) is behind.
BEHIND_SHARE = 0.9
_SHORT = {"left_foot": "L", "right_foot": "R", "pelvis": "P"}


def falling_behind(st: SensorStatus, nominal_hz: float | None) -> float | None:
    """The share of real time a connected sensor's samples arrive at, when below
    :data:`BEHIND_SHARE` of its nominal rate without lost samples (an emulation or a host
    too slow to keep up: the live display lags ever more); ``None`` otherwise."""
    if not nominal_hz or not st.connected or st.rate_hz <= 0:
        return None
    share = st.rate_hz / nominal_hz
    return share if share < BEHIND_SHARE else None


def format_status(
    status: dict[str, SensorStatus],
    elapsed_s: float,
    *,
    nominal_hz: dict[str, float] | None = None,
    width: int = 80,
) -> str:
    """One status line of at most ``width`` columns: elapsed time, then per sensor its rate,
    lost samples, battery and link state; ``BEHIND`` when samples arrive slower than the
    sensor's nominal rate (:func:`falling_behind`), first on the line.

    The long form (``left_foot: 833.0 Hz lost 0 batt 80%``) is used when it fits, else a
    compact one (``L 833Hz -0 80%``), else the compact one cut with ``…``.
    """
    nominal_hz = nominal_hz or {}

    def one(sid: str, st: SensorStatus, short: bool) -> str:
        batt = "--" if st.battery_pct is None else f"{st.battery_pct:.0f}%"
        link = (" DISC" if short else " DISCONNECTED") if not st.connected else ""
        if short:
            name = _SHORT.get(sid, sid[:6])
            extra = f" r{st.reconnects}" if st.reconnects else ""
            bad = f" bad{st.bad_packets}" if st.bad_packets else ""
            return f"{name} {st.rate_hz:.0f}Hz -{st.lost_samples}{bad} {batt}{extra}{link}"
        extra = f" reconn {st.reconnects}" if st.reconnects else ""
        bad = f" bad {st.bad_packets}" if st.bad_packets else ""
        return f"{sid}: {st.rate_hz:6.1f} Hz lost {st.lost_samples}{bad} batt {batt}{extra}{link}"

    shares = [
        b
        for sid, st in status.items()
        if (b := falling_behind(st, nominal_hz.get(sid))) is not None
    ]
    # first, so that it is never cut: the numbers are wrong while the data come in slow
    warn = f"BEHIND {100 * min(shares):.0f}% | " if shares else ""
    for short in (False, True):
        head = warn + (f"{elapsed_s:7.1f} s" if not short else f"{elapsed_s:.0f}s")
        line = " | ".join([head, *(one(sid, st, short) for sid, st in status.items())])
        if len(line) <= width:
            return line
    return line[: width - 1] + "…"


async def record_source(
    source: BlockSource,
    path: str | os.PathLike[str],
    *,
    duration_s: float | None = None,
    notes: str | None = None,
    on_status: Callable[[dict[str, SensorStatus], float], None] | None = None,
    on_start: Callable[[BlockSource], None] | None = None,
    status_interval_s: float = 0.5,
    flush_interval_s: float = 0.5,
    min_free_bytes: int = MIN_FREE_BYTES,
) -> RecordSummary:
    """Stream ``source`` into a new recording until it ends, ``duration_s`` is reached, or the
    source is stopped (``source.stop()``, e.g. from a Ctrl-C handler).

    Parameters
    ----------
    source : BlockSource
        Not yet entered; entered and exited here.
    path : path-like
        Output file (created; overwritten).
    duration_s : float, optional
        Stop after this much session time from when the source is entered (every sensor
        connected), s.
    notes : str, optional
        Stored in the file's ``notes`` attribute.
    on_status : callable, optional
        Called with ``(status, elapsed_s)`` every ``status_interval_s`` of session time.
    on_start : callable, optional
        Called with the source once it is connected and the file is created.
    flush_interval_s : float
        Writer flush interval (≤ 1 s), s.
    min_free_bytes : int
        Stop cleanly (``summary.stopped_by = "disk full"``) when less than this is left on the
        disk, before HDF5 would fail to write; a write that fails anyway (a quota, another
        program filling the disk) ends the recording the same way. The file keeps every sample
        written up to then.

    Returns
    -------
    RecordSummary
    """
    async with source:
        now: Callable[[], float] | None = getattr(source, "now", None)
        stop: Callable[[], None] | None = getattr(source, "stop", None)
        # the duration counts from when every sensor streams, not from the first connect
        start = now() if now is not None else 0.0
        timer = None
        if duration_s is not None and now is not None and stop is not None:
            # ends the run on time even while no block arrives (every sensor gone)
            timer = asyncio.get_running_loop().create_task(stop_at(now, stop, start + duration_s))
        with Recorder(
            path,
            source.sensors,
            notes=notes,
            flush_interval_s=flush_interval_s,
            min_free_bytes=min_free_bytes,
        ) as recorder:
            summary = recorder.summary
            if on_start is not None:
                on_start(source)
            last_status = -float("inf")
            stopping = False
            drain = getattr(source, "drain_streams", None)
            async for block in source.blocks():
                if recorder.stopped:
                    continue  # stopping: let the source wind down, write nothing more
                recorder.append(block)
                if recorder.stopped:
                    if stop is None:
                        break
                    stop()
                    continue
                if drain is not None:
                    recorder.append_streams(drain())
                elapsed = (now() - start) if now is not None else summary.duration_s
                if on_status is not None and elapsed - last_status >= status_interval_s:
                    last_status = elapsed
                    on_status(source.status(), elapsed)
                if duration_s is not None and not stopping and elapsed >= duration_s:
                    stopping = True
                    if stop is None:
                        break
                    stop()  # the source yields what it already received, then ends
            if drain is not None and not recorder.stopped:
                recorder.append_streams(drain())
            summary.status = {k: _copy(v) for k, v in source.status().items()}
        if timer is not None:
            timer.cancel()
    return summary


async def stop_at(now: Callable[[], float], stop: Callable[[], None], t_stop: float) -> None:
    """Call ``stop()`` once ``now()`` (session time) reaches ``t_stop`` (checked every 0.1 s
    of wall time: it ends a run on time even while no block arrives)."""
    while now() < t_stop:
        await asyncio.sleep(0.1)
    stop()


def _copy(st: Any) -> SensorStatus:
    return SensorStatus(**vars(st))
