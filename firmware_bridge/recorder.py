"""Record any :class:`~firmware_bridge.source.BlockSource` to an HDF5 v1 file, with live status.

The consumer side of ``runform record``: every block is appended to a
:class:`recordings.RecordingWriter` as it arrives (rows of non-IMU devices such as footpods,
from ``source.drain_streams()`` when the source has it, go to ``/streams``) (the writer flushes at least every second, so
a kill loses at most the last second), gaps reported by the source go with their blocks, and a
status callback gets per-sensor diagnostics (rate, lost samples, battery) a few times a second.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from firmware_bridge.source import BlockSource, SensorStatus

__all__ = ["MIN_FREE_BYTES", "RecordSummary", "format_status", "free_bytes", "record_source"]

log = logging.getLogger(__name__)

#: The recorder stops cleanly when less than this much space is left on the recording's disk,
#: so that the file can still be closed and stays valid (``runform record --min-free-mb``).
MIN_FREE_BYTES = 32 << 20
#: Wall-clock seconds between two looks at the free space.
DISK_CHECK_INTERVAL_S = 0.25


def free_bytes(path: str | os.PathLike[str]) -> int:
    """Bytes available to this user on the file system holding ``path`` (its folder)."""
    folder = os.path.dirname(os.path.abspath(os.fspath(path)))
    return int(shutil.disk_usage(folder).free)


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


def format_status(status: dict[str, SensorStatus], elapsed_s: float) -> str:
    """One status line: elapsed time, then per sensor rate, lost samples, battery, link state."""
    parts = [f"{elapsed_s:7.1f} s"]
    for sid, st in status.items():
        batt = "--" if st.battery_pct is None else f"{st.battery_pct:.0f}%"
        link = "" if st.connected else " DISCONNECTED"
        extra = f" reconn {st.reconnects}" if st.reconnects else ""
        bad = f" bad {st.bad_packets}" if st.bad_packets else ""
        parts.append(
            f"{sid}: {st.rate_hz:6.1f} Hz lost {st.lost_samples}{bad} batt {batt}{extra}{link}"
        )
    return " | ".join(parts)


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
    from recordings import RecordingWriter

    summary = RecordSummary(path=os.fspath(path))
    async with source:
        now: Callable[[], float] | None = getattr(source, "now", None)
        stop: Callable[[], None] | None = getattr(source, "stop", None)
        # the duration counts from when every sensor streams, not from the first connect
        start = now() if now is not None else 0.0
        timer = None
        if duration_s is not None and now is not None and stop is not None:
            # ends the run on time even while no block arrives (every sensor gone)
            timer = asyncio.get_running_loop().create_task(_stop_at(now, stop, start + duration_s))
        with RecordingWriter(
            path, source.sensors, notes=notes, flush_interval_s=flush_interval_s
        ) as writer:
            if on_start is not None:
                on_start(source)
            last_status = -float("inf")
            t_max = 0.0
            stopping = False
            drain = getattr(source, "drain_streams", None)
            next_disk_check = 0.0
            async for block in source.blocks():
                if summary.stopped_by is not None:
                    continue  # stopping: let the source wind down, write nothing more
                wall = time.monotonic()
                if wall >= next_disk_check:
                    next_disk_check = wall + DISK_CHECK_INTERVAL_S
                    if free_bytes(path) < min_free_bytes:
                        _stop_early(summary, "disk full", stop, free=free_bytes(path))
                        if stop is None:
                            break
                        continue
                try:
                    writer.append(block)
                except writer.WriteFailed as exc:
                    _stop_early(summary, exc.reason, stop)
                    if stop is None:
                        break
                    continue
                if drain is not None:
                    _write_streams(writer, drain(), summary)
                summary.samples[block.sensor_id] = summary.samples.get(block.sensor_id, 0) + len(
                    block
                )
                if len(block.gaps):
                    summary.gaps[block.sensor_id] = summary.gaps.get(block.sensor_id, 0) + len(
                        block.gaps
                    )
                if len(block):
                    t_max = max(t_max, block.t_end)
                elapsed = (now() - start) if now is not None else t_max
                if on_status is not None and elapsed - last_status >= status_interval_s:
                    last_status = elapsed
                    on_status(source.status(), elapsed)
                if duration_s is not None and not stopping and elapsed >= duration_s:
                    stopping = True
                    if stop is None:
                        break
                    stop()  # the source yields what it already received, then ends
            if drain is not None and summary.stopped_by is None:
                _write_streams(writer, drain(), summary)
            summary.duration_s = t_max
            summary.status = {k: _copy(v) for k, v in source.status().items()}
        if timer is not None:
            timer.cancel()
    return summary


def _stop_early(
    summary: RecordSummary, reason: str, stop: Callable[[], None] | None, free: int | None = None
) -> None:
    summary.stopped_by = reason
    left = f" ({free / 1e6:.1f} MB left)" if free is not None else ""
    # the command prints the one line the user sees ("disk full: recording stopped at ...")
    log.info("%s: %s%s: stopping; the file keeps what was written", summary.path, reason, left)
    if stop is not None:
        stop()


async def _stop_at(now: Callable[[], float], stop: Callable[[], None], t_stop: float) -> None:
    while now() < t_stop:
        await asyncio.sleep(0.1)
    stop()


def _write_streams(writer: Any, rows: list, summary: RecordSummary) -> None:
    for stream_id, t, values, device_model, placement in rows:
        writer.append_stream(stream_id, t, values, device_model=device_model, placement=placement)
        summary.samples[stream_id] = summary.samples.get(stream_id, 0) + len(t)


def _copy(st: Any) -> SensorStatus:
    return SensorStatus(**vars(st))
