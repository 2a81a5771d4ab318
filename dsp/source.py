"""The one interface every source of sample blocks implements: BLE, HDF5 replay, simulator.

A source is an async context manager; once entered, :meth:`BlockSource.blocks` yields
:class:`~dsp.block.SampleBlock` objects of any of its sensors as they arrive, and
:meth:`BlockSource.status` reports per-sensor diagnostics that consumers (status line, viewer,
recorder) read instead of re-deriving them.

It lives in ``dsp`` beside :class:`~dsp.block.SampleBlock`, the currency it yields: a protocol
and a dataclass, no I/O and no asyncio. The sources (``firmware_bridge`` for BLE and the
simulator, ``recordings`` for replay) and the consumers (the recorder, the viewer) all import it
from here, so neither of those packages needs the other.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from dsp.block import SampleBlock, SensorInfo

__all__ = ["BlockSource", "SensorStatus"]


@dataclass
class SensorStatus:
    """Live diagnostics of one sensor of a source.

    Parameters
    ----------
    sensor_id : str
    connected : bool
        The transport is up (always True for replay and simulation while running).
    rate_hz : float
        Measured sample rate over the last seconds, Hz.
    samples : int
        Samples delivered so far.
    lost_samples : int
        Samples the device sent (by its counters) that never arrived.
    bad_packets : int
        Packets that could not be decoded (counted, never raised).
    battery_pct : float or None
        Battery level in percent, if the device reports it.
    reconnects : int
        How often the transport had to reconnect.
    """

    sensor_id: str
    connected: bool = True
    rate_hz: float = 0.0
    samples: int = 0
    lost_samples: int = 0
    bad_packets: int = 0
    battery_pct: float | None = None
    reconnects: int = 0


@runtime_checkable
class BlockSource(Protocol):
    """Anything that yields sample blocks on one shared time base."""

    @property
    def sensors(self) -> list[SensorInfo]:
        """The sensors this source delivers (known once the source is entered)."""
        ...

    async def __aenter__(self) -> BlockSource: ...

    async def __aexit__(self, *exc: object) -> None: ...

    def blocks(self) -> AsyncIterator[SampleBlock]:
        """Blocks of all sensors as they arrive; ends when the source is exhausted or stopped."""
        ...

    def status(self) -> dict[str, SensorStatus]:
        """Diagnostics per sensor id."""
        ...
