"""Ready-made virtual sensor sets: emulated DIY clips on a virtual link, streamed through bleak.

:func:`start_virtual_sensors` starts emulated peripherals (by default both feet and the pelvis)
fed by the simulator; :class:`VirtualBleSource` is a :class:`~dsp.source.BlockSource`
that starts them and streams them through a :class:`~firmware_bridge.ble_session.BleSession`
over the bumble bleak backend — the exact path ``runform record --simulate`` and
``runform live --simulate`` use.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dsp.block import SampleBlock, SensorInfo
from dsp.source import SensorStatus
from firmware_bridge.ble_session import BleSession, SensorSpec
from firmware_bridge.devices import StreamSettings
from firmware_bridge.emulator.base import (
    BlockSignal,
    DeviceClock,
    EmulatedPeripheral,
    RadioConditions,
    SignalSource,
    SyntheticSignal,
)
from firmware_bridge.emulator.diy import EmulatedDiyClip
from firmware_bridge.virtual_link import VirtualLink

__all__ = [
    "SIMULATED_DEVICE_MODELS",
    "VirtualBleSource",
    "VirtualSensors",
    "resolve_device_model",
    "simulated_signals",
    "start_virtual_sensors",
]

log = logging.getLogger(__name__)

DEFAULT_PLACEMENTS = ("left_foot", "right_foot", "pelvis")
_SHORT = {"left_foot": "L", "right_foot": "R", "pelvis": "P"}

#: Device models an emulated IMU sensor can be (``diy`` = the project's own clip), with the
#: short names accepted for them (``polar`` = ``polar-verity-sense``).
SIMULATED_DEVICE_MODELS: dict[str, str] = {
    "diy": "diy",
    "movesense": "movesense",
    "metawear": "metawear",
    "witmotion": "witmotion",
    "polar": "polar-verity-sense",
    "polar-verity-sense": "polar-verity-sense",
}


def resolve_device_model(name: str) -> str:
    """The emulated IMU ``device_model`` a user-given name means (``polar`` → ``polar-verity-sense``).

    Raises
    ------
    ValueError
        Unknown name (one line listing the accepted ones).
    """
    key = name.strip().lower()
    if key not in SIMULATED_DEVICE_MODELS:
        raise ValueError(
            f"device {name!r}: expected one of {', '.join(sorted(SIMULATED_DEVICE_MODELS))}"
        )
    return SIMULATED_DEVICE_MODELS[key]


def _signal_length_s(scenario: str, duration_s: float) -> float:
    """The length of the simulated signal for ``duration_s`` asked, s: at least what the
    scenario's program needs (:meth:`~firmware_bridge.simulator.scenarios.Scenario.min_duration_s`:
    a run/walk program squashed into a few seconds has no bout long enough to simulate); the
    signal loops, so a recording of any length gets the program from its start."""
    from firmware_bridge.simulator import get_scenario

    return max(float(duration_s), get_scenario(scenario).min_duration_s())


def _gait_seam(plan: Any, t_end: float, *, search_s: float = 15.0) -> tuple[float, float] | None:
    """Where a simulated run can loop without a jump, s: mid-stance of two left contacts, one
    early in the run (after the start from standing) and one near ``t_end``, at which the
    left foot's contact and the right foot's toe-off before and contact after lie at the same
    times (the best matched pair of those within ``search_s``). None when the run is too short.

    Looping from the second back to the first then adds a stride like the others; a loop
    back to the start of the session ends a stride mid-air and lands standing, which the
    analysis reads as a spurious stride (no pronation, a cadence of 190-240)."""
    st = plan.steps
    t_ic = np.asarray(st.t_ic, dtype=np.float64)
    t_to = np.asarray(st.t_to, dtype=np.float64)
    mid = t_ic + 0.5 * np.asarray(st.t_contact, dtype=np.float64)
    n = t_ic.size
    left = [i for i in range(3, n - 4) if int(st.side[i]) == 0]
    early = max(float(plan.t_go), 0.0) + 4.0
    starts = [i for i in left if early <= mid[i] <= early + search_s]
    ends = [i for i in left if t_end - 0.5 - search_s <= mid[i] <= t_end - 0.5]
    best: tuple[float, int, int] | None = None
    for i in starts:
        fi = np.concatenate((t_ic[i - 1 : i + 2], t_to[i - 1 : i + 2])) - mid[i]
        for j in ends:
            if mid[j] - mid[i] < 2.0:
                continue
            fj = np.concatenate((t_ic[j - 1 : j + 2], t_to[j - 1 : j + 2])) - mid[j]
            err = float(np.max(np.abs(fi - fj)))
            if best is None or err < best[0]:
                best = (err, i, j)
    if best is None:
        return None
    log.debug(
        "simulated signal loops %.3f -> %.3f s (events within %.1f ms)",
        mid[best[2]],
        mid[best[1]],
        1e3 * best[0],
    )
    return float(mid[best[1]]), float(mid[best[2]])


def simulated_signals(
    placements: Sequence[str],
    *,
    scenario: str = "easy",
    duration_s: float = 60.0,
    rate_hz: float = 833.0,
    seed: int = 0,
) -> dict[str, SignalSource]:
    """Truth signals from the simulator (looped by :class:`BlockSignal`: a run at a seam of
    :func:`_gait_seam`, so the repeats go on running; a program, which starts and ends
    standing, from its start).

    Falls back to :class:`SyntheticSignal` (logged) when the simulator package is not
    available in this installation.
    """
    try:
        from firmware_bridge.simulator import simulate_session
    except ImportError:
        log.warning("simulator not available: emulated sensors stream a synthetic signal")
        return {p: SyntheticSignal(phase=0.5 if p == "right_foot" else 0.0) for p in placements}
    # the radio's losses are the emulator's job: the simulator delivers every sample
    sim = simulate_session(
        scenario,
        duration_s=_signal_length_s(scenario, duration_s),
        rate_hz=rate_hz,
        seed=seed,
        truth=False,
        packet_loss=0.0,
    )
    seam = None
    if sim.generator is not None:
        seam = _gait_seam(sim.generator.plan, float(sim.scenario.duration_s))
    out: dict[str, SignalSource] = {}
    for p in placements:
        if p not in sim.blocks:
            raise ValueError(f"simulator scenario {scenario!r} has no sensor {p!r}")
        b = sim.blocks[p]
        t0 = float(b.t[0]) if len(b) else 0.0
        out[p] = BlockSignal(b, seam=None if seam is None else (seam[0] - t0, seam[1] - t0))
    return out


def simulated_footpod_profile(
    scenario: str = "easy", *, duration_s: float = 60.0
) -> Callable[[float], tuple[float, float, float]] | None:
    """A footpod profile (``t -> (speed_mps, cadence_spm, stride_length_m)``) following the
    simulated runner's speed and cadence schedules, looped like :class:`BlockSignal` (period
    ``duration_s``); standing still at the start reads 0. None when the simulator package is
    not available."""
    try:
        from firmware_bridge.simulator.session import resolve_scenario
    except ImportError:
        return None
    duration_s = _signal_length_s(scenario, duration_s)  # the signals' loop
    sc = resolve_scenario(scenario, duration_s=duration_s)
    standing = float(getattr(sc, "standing_s", 0.0) or 0.0)

    def profile(t: float) -> tuple[float, float, float]:
        tt = float(np.mod(t, duration_s))
        if tt < standing:
            return 0.0, 0.0, 0.0
        speed = float(sc.schedule(sc.speed_mps, tt))
        cadence = float(sc.schedule(sc.cadence_spm, tt))
        # stride length (two steps), as the emulator's default profile
        return speed, cadence, speed * 120.0 / cadence if cadence > 0 else 0.0

    return profile


@dataclass
class VirtualSensors:
    """Emulated sensors running on one virtual link."""

    link: VirtualLink
    peripherals: dict[str, EmulatedPeripheral]

    def specs(self) -> list[SensorSpec]:
        """One :class:`SensorSpec` per sensor (id = placement)."""
        return [SensorSpec(sid, p.address) for sid, p in self.peripherals.items()]

    def session(self, **kwargs: Any) -> BleSession:
        """A :class:`BleSession` streaming these sensors through the bumble bleak backend."""
        return BleSession.on_virtual_link(self.specs(), self.link, **kwargs)

    async def close(self) -> None:
        for p in self.peripherals.values():
            await p.close()


async def start_virtual_sensors(
    placements: Sequence[str] = DEFAULT_PLACEMENTS,
    *,
    link: VirtualLink | None = None,
    speed: float = 1.0,
    signals: dict[str, SignalSource] | None = None,
    scenario: str = "easy",
    signal_duration_s: float = 60.0,
    rate_hz: float = 833.0,
    seed: int = 0,
    radio: RadioConditions | None = None,
    max_drift_ppm: float = 50.0,
    footpod: bool = False,
    devices: Mapping[str, str] | None = None,
) -> VirtualSensors:
    """Start emulated sensors (DIY clips unless ``devices`` says otherwise) on a (new) virtual
    link, advertising and ready to connect.

    Each gets its own device clock (boot offset 10-600 s, drift up to ±``max_drift_ppm``) and
    connection interval (7.5, 15 or 30 ms).

    Parameters
    ----------
    placements : sequence of str
        One emulated sensor per placement.
    link : VirtualLink, optional
        Link to use (default: a new one at ``speed``).
    speed : float
        Session seconds per wall second for a new link.
    signals : dict, optional
        Signal per placement (default: :func:`simulated_signals`).
    scenario, signal_duration_s, rate_hz, seed
        For the simulator.
    radio : RadioConditions, optional
        Overrides the per-device radio conditions.
    footpod : bool
        Also start an emulated RSC footpod (sensor id ``footpod``).
    devices : mapping of str to str, optional
        Device model per placement (``diy``, ``movesense``, ``metawear``, ``witmotion``,
        ``polar``; see :data:`SIMULATED_DEVICE_MODELS`); placements not in it are DIY clips.
        Vendor devices are the emulators of :mod:`firmware_bridge.emulator` speaking their
        vendor's protocol, identified by the central from their GATT services like real ones;
        each streams at the nearest rate it supports (e.g. MetaWear ≤ 200 Hz, Polar ≤ 416 Hz).
    """
    models = {p: resolve_device_model(m) for p, m in (devices or {}).items()}
    unknown = set(models) - set(placements)
    if unknown:
        raise ValueError(
            f"devices for {', '.join(sorted(unknown))}: no such simulated sensor "
            f"(placements: {', '.join(placements)})"
        )
    link = link or VirtualLink(speed=speed)
    pod_profile = None
    if signals is None:
        if footpod:
            pod_profile = simulated_footpod_profile(scenario, duration_s=signal_duration_s)
        signals = simulated_signals(
            placements,
            scenario=scenario,
            duration_s=signal_duration_s,
            rate_hz=rate_hz,
            seed=seed,
        )
    rng = np.random.default_rng(seed + 1000)
    peripherals: dict[str, EmulatedPeripheral] = {}
    for i, p in enumerate(placements):
        clock = DeviceClock(
            offset_s=float(rng.uniform(10.0, 600.0)),
            drift_ppm=float(rng.uniform(-max_drift_ppm, max_drift_ppm)),
        )
        r = radio or RadioConditions(conn_interval_s=(0.0075, 0.015, 0.030)[i % 3])
        common: dict[str, Any] = {
            "signal": signals[p],
            "clock": clock,
            "radio": RadioConditions(r.conn_interval_s, r.skip_event_prob, r.loss_prob),
            "battery_pct": float(rng.uniform(40, 100)),
            "seed": seed + i,
        }
        model = models.get(p, "diy")
        per: EmulatedPeripheral
        if model == "diy":
            per = EmulatedDiyClip(link, name=f"rfclip-{_SHORT.get(p, str(i))}", **common)
        else:
            from firmware_bridge.emulator.vendor_harness import emulator_for

            per = emulator_for(model)(link, **common)
        await per.start()
        peripherals[p] = per
    if footpod:
        from firmware_bridge.emulator.rsc import EmulatedFootpod

        # the pod reads the simulated runner's speed and cadence (when simulated)
        pod = EmulatedFootpod(link, name="rfpod", seed=seed + 99, profile=pod_profile)
        await pod.start()
        peripherals["footpod"] = pod
    return VirtualSensors(link=link, peripherals=peripherals)


class VirtualBleSource:
    """A :class:`~dsp.source.BlockSource`: emulated sensors streamed through bleak.

    Parameters
    ----------
    placements : sequence of str
        Sensors to emulate (default both feet and the pelvis).
    speed : float
        Session seconds per wall second (1 = real time).
    rate_hz : float
        Output data rate asked of the sensors, Hz.
    **kwargs
        Passed to :func:`start_virtual_sensors`.
    """

    def __init__(
        self,
        placements: Sequence[str] = DEFAULT_PLACEMENTS,
        *,
        speed: float = 1.0,
        rate_hz: float = 833.0,
        session_kwargs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self.placements = tuple(placements)
        self.speed = speed
        self.rate_hz = rate_hz
        self.kwargs = kwargs
        self.session_kwargs = dict(session_kwargs or {})
        self.virtual: VirtualSensors | None = None
        self.session: BleSession | None = None

    @property
    def sensors(self) -> list[SensorInfo]:
        return self.session.sensors if self.session else []

    def status(self) -> dict[str, SensorStatus]:
        return self.session.status() if self.session else {}

    def now(self) -> float:
        """Session time, s."""
        return self.session.now() if self.session else 0.0

    def drain_streams(self) -> list:
        """Rows of non-IMU devices (the footpod); see :meth:`BleSession.drain_streams`."""
        return self.session.drain_streams() if self.session else []

    def stop(self) -> None:
        """End the stream (blocks already received are still yielded)."""
        if self.session:
            self.session.stop()

    async def __aenter__(self) -> VirtualBleSource:
        self.virtual = await start_virtual_sensors(
            self.placements, speed=self.speed, rate_hz=self.rate_hz, **self.kwargs
        )
        self.session_kwargs.setdefault("settings", StreamSettings(rate_hz=self.rate_hz))
        self.session = self.virtual.session(**self.session_kwargs)
        try:
            await self.session.__aenter__()
        except BaseException:
            await self.virtual.close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            if self.session is not None:
                await self.session.__aexit__(*exc)
        finally:
            if self.virtual is not None:
                await self.virtual.close()

    def blocks(self) -> AsyncIterator[SampleBlock]:
        assert self.session is not None, "enter the source first"
        return self.session.blocks()
