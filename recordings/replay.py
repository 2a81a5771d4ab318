"""Replay a recording as a :class:`dsp.source.BlockSource`.

Replay and live differ only in the source: the viewer and the streaming analysis take the same
blocks from a file as from sensors. Playback is paced against the wall clock at ``speed`` times
real time (or as fast as possible with ``realtime=False``) and can be paused or moved.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator

from dsp.block import SampleBlock, SensorInfo
from dsp.source import SensorStatus
from recordings.errors import RecordingError
from recordings.reader import Recording, open_recording

__all__ = ["ReplaySource"]

log = logging.getLogger(__name__)


class ReplaySource:
    """Blocks of a recording, in time order, paced like the original session.

    Parameters
    ----------
    path : str or os.PathLike
        The recording.
    speed : float
        Playback speed, 0.25 to 16 times real time.
    realtime : bool
        Pace blocks against the wall clock; ``False`` yields as fast as the consumer takes them.
    block_s : float
        Length of each yielded window in s of recording time.
    start_s : float, optional
        Recording time to start from (default: its first sample).
    """

    MIN_SPEED = 0.25
    MAX_SPEED = 16.0

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        speed: float = 1.0,
        realtime: bool = True,
        block_s: float = 0.05,
        start_s: float | None = None,
    ) -> None:
        self.path = os.fspath(path)
        self._check_speed(speed)
        self.speed = float(speed)
        self.realtime = realtime
        self.block_s = float(block_s)
        self._rec: Recording | None = None
        self._position = start_s
        self._paused = False
        self._seek_to: float | None = None

    def _check_speed(self, speed: float) -> None:
        if not (self.MIN_SPEED <= speed <= self.MAX_SPEED):
            raise RecordingError(
                f"{self.path}: replay speed {speed}, expected {self.MIN_SPEED} to {self.MAX_SPEED}"
            )

    @property
    def recording(self) -> Recording:
        if self._rec is None:
            raise RecordingError(f"{self.path}: replay source is not open")
        return self._rec

    @property
    def sensors(self) -> list[SensorInfo]:
        return self.recording.sensors

    @property
    def position_s(self) -> float:
        """Recording time up to which blocks have been yielded, s."""
        return self._position if self._position is not None else 0.0

    def set_speed(self, speed: float) -> None:
        self._check_speed(speed)
        self.speed = float(speed)

    def pause(self, paused: bool = True) -> None:
        self._paused = paused

    def seek(self, t_s: float) -> None:
        """Continue playback from recording time ``t_s`` (consumers see a jump in ``t``)."""
        self._seek_to = float(t_s)

    async def __aenter__(self) -> ReplaySource:
        self._rec = open_recording(self.path)
        if self._position is None:
            self._position = self._rec.t_start
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._rec is not None:
            self._rec.close()
            self._rec = None

    def status(self) -> dict[str, SensorStatus]:
        rec = self.recording
        return {
            s.sensor_id: SensorStatus(
                sensor_id=s.sensor_id,
                connected=True,
                rate_hz=s.sample_rate_hz * self.speed,
                samples=rec.n_samples(s.sensor_id),
            )
            for s in rec.sensors
        }

    async def blocks(self) -> AsyncIterator[SampleBlock]:
        rec = self.recording
        end = rec.t_end
        wall0 = time.monotonic()
        rec0 = self.position_s
        while self.position_s <= end:
            if self._seek_to is not None:
                self._position = self._seek_to
                self._seek_to = None
                wall0, rec0 = time.monotonic(), self.position_s
            if self._paused:
                await asyncio.sleep(0.05)
                wall0, rec0 = time.monotonic(), self.position_s
                continue
            w0 = self.position_s
            w1 = w0 + self.block_s
            for block in rec.iter_blocks(self.block_s, t0=w0, t1=w1):
                yield block
            self._position = w1
            if self.realtime:
                due = wall0 + (w1 - rec0) / self.speed
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                else:
                    await asyncio.sleep(0)
