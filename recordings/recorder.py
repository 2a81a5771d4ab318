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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dsp.block import SampleBlock, SensorInfo
from dsp.source import BlockSource, SensorStatus
from recordings.writer import RecordingWriter

__all__ = ["RecordSummary", "Recorder", "format_status", "record_source"]

log = logging.getLogger(__name__)


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
    ) -> None:
        self.summary = RecordSummary(path=os.fspath(path))
        self.writer = RecordingWriter(path, sensors, notes=notes, flush_interval_s=flush_interval_s)
        self._t_max = 0.0

    def append(self, block: SampleBlock) -> None:
        """Write a block (with its gaps)."""
        self.writer.append(block)
        summary = self.summary
        summary.samples[block.sensor_id] = summary.samples.get(block.sensor_id, 0) + len(block)
        if len(block.gaps):
            summary.gaps[block.sensor_id] = summary.gaps.get(block.sensor_id, 0) + len(block.gaps)
        if len(block):
            self._t_max = max(self._t_max, block.t_end)
            summary.duration_s = self._t_max

    def append_streams(self, rows: list | None) -> None:
        """Write rows of non-IMU devices: ``(stream_id, t, values, device_model, placement)``."""
        for stream_id, t, values, device_model, placement in rows or ():
            self.writer.append_stream(
                stream_id, t, values, device_model=device_model, placement=placement
            )
            self.summary.samples[stream_id] = self.summary.samples.get(stream_id, 0) + len(t)

    def add_marker(self, t: float, label: str, kind: str = "user") -> None:
        """Write a marker at session time ``t`` (s)."""
        self.writer.add_marker(t, label, kind=kind)

    def close(self) -> None:
        """Flush and close the file."""
        self.writer.close()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
            timer = asyncio.get_running_loop().create_task(_stop_at(now, stop, start + duration_s))
        with Recorder(
            path, source.sensors, notes=notes, flush_interval_s=flush_interval_s
        ) as recorder:
            summary = recorder.summary
            if on_start is not None:
                on_start(source)
            last_status = -float("inf")
            stopping = False
            drain = getattr(source, "drain_streams", None)
            async for block in source.blocks():
                recorder.append(block)
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
            if drain is not None:
                recorder.append_streams(drain())
            summary.status = {k: _copy(v) for k, v in source.status().items()}
        if timer is not None:
            timer.cancel()
    return summary


async def _stop_at(now: Callable[[], float], stop: Callable[[], None], t_stop: float) -> None:
    while now() < t_stop:
        await asyncio.sleep(0.1)
    stop()


def _copy(st: Any) -> SensorStatus:
    return SensorStatus(**vars(st))
