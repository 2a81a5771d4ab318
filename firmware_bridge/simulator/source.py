"""A simulated session as a live :class:`~dsp.source.BlockSource`.

Generates the signals piece by piece as (simulated) time passes: nothing of the session is
generated ahead of the clock by more than one block, so an hour-long source costs no memory.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

from dsp.block import SampleBlock, SensorInfo
from dsp.source import SensorStatus
from firmware_bridge.simulator.scenarios import Scenario
from firmware_bridge.simulator.session import SignalGenerator, resolve_scenario

__all__ = ["SimulatedSource"]

log = logging.getLogger(__name__)


class SimulatedSource:
    """Stream a simulated session.

    Parameters
    ----------
    scenario : str or Scenario
        Name of a named scenario, or a Scenario.
    rate_hz : float, optional
        Output data rate (default: the scenario's).
    seed : int
    realtime : bool
        Pace the blocks by the wall clock (``True``), or yield them as fast as possible.
    speed : float
        Simulated seconds per wall-clock second when ``realtime``.
    duration_s : float, optional
        Length of the session (default: the scenario's). ``float("inf")`` is not supported;
        use a long duration (e.g. 4 h): only the gait plan (a few kB per minute) is made ahead.
    block_s : float
        Length of the blocks, s.
    **overrides
        Other :class:`Scenario` fields.
    """

    def __init__(
        self,
        scenario: str | Scenario = "easy",
        rate_hz: float | None = None,
        seed: int = 0,
        realtime: bool = True,
        speed: float = 1.0,
        duration_s: float | None = None,
        block_s: float = 0.05,
        **overrides: object,
    ) -> None:
        if speed <= 0:
            raise ValueError(f"speed {speed}: expected > 0")
        if block_s <= 0:
            raise ValueError(f"block_s {block_s}: expected > 0")
        self.scenario = resolve_scenario(
            scenario, duration_s=duration_s, rate_hz=rate_hz, **overrides
        )
        self.seed = int(seed)
        self.realtime = bool(realtime)
        self.speed = float(speed)
        self.block_s = float(block_s)
        self._gen: SignalGenerator | None = None
        self._status: dict[str, SensorStatus] = {}
        self._stopped = False
        self._sensors: list[SensorInfo] = []

    @property
    def sensors(self) -> list[SensorInfo]:
        return list(self._sensors)

    @property
    def markers(self) -> list[tuple[float, str, str]]:
        """The scenario's markers ``(t, label, kind)``."""
        return self.scenario.marker_list()

    async def __aenter__(self) -> SimulatedSource:
        self._gen = SignalGenerator(self.scenario, self.seed)
        self._sensors = list(self._gen.sensors)
        self._status = {s.sensor_id: SensorStatus(sensor_id=s.sensor_id) for s in self._sensors}
        self._stopped = False
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stopped = True
        for st in self._status.values():
            st.connected = False

    def stop(self) -> None:
        """End :meth:`blocks` after the current block."""
        self._stopped = True

    async def blocks(self) -> AsyncIterator[SampleBlock]:
        """Blocks of all sensors in time order, paced by the clock when ``realtime``."""
        gen = self._gen
        if gen is None:
            raise RuntimeError("SimulatedSource: use 'async with' before iterating blocks()")
        t0_wall = time.monotonic()
        t_sim = 0.0
        last_t: dict[str, float] = {}
        while not gen.done and not self._stopped:
            t_sim = min(t_sim + self.block_s, gen.horizon_s)
            if self.realtime:
                delay = t0_wall + t_sim / self.speed - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            else:
                await asyncio.sleep(0)
            pieces = gen.advance(t_sim)
            for sid, lst in pieces.items():
                st = self._status[sid]
                for b in lst:
                    st.samples += len(b)
                    if b.seq is not None and len(b):
                        st.lost_samples = int(b.seq[-1]) + 1 - st.samples
                    if len(b) > 1:
                        span = b.t_end - last_t.get(sid, b.t[0])
                        if span > 0:
                            st.rate_hz = (
                                0.8 * st.rate_hz + 0.2 * (len(b) / span)
                                if st.rate_hz
                                else len(b) / span
                            )
                    last_t[sid] = b.t_end
                    yield b
        for st in self._status.values():
            st.connected = False

    def status(self) -> dict[str, SensorStatus]:
        return dict(self._status)
