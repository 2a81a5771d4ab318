"""Emulated logging sensors that outlive one process: what ``runform sensors --simulate`` drives.

A :class:`LoggingRig` is a set of emulated sensors (DIY clips by default) on a virtual link, fed
by the simulator. Its state (each device's clock, address, what its log was started with and
when it stopped, the session clock) is saved to a JSON file, so ``runform sensors arm
--simulate`` in one process and ``runform sensors download --simulate`` in a later one talk to
the same devices. The session clock jumps forward between the two (the "run"): the devices'
logs are rebuilt from the simulator up to then, exactly as if they had logged all along, with
their clocks drifting.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from firmware_bridge.emulator.base import DeviceClock, EmulatedPeripheral, RadioConditions
from firmware_bridge.emulator.diy import EmulatedDiyClip
from firmware_bridge.virtual_link import VirtualLink

__all__ = ["LoggingRig", "RigSensor"]

_SHORT = {"left_foot": "L", "right_foot": "R", "pelvis": "P"}


@dataclass
class RigSensor:
    """One emulated logging sensor as saved between processes."""

    sensor_id: str
    model: str
    address: str
    offset_s: float
    drift_ppm: float
    battery_pct: float
    conn_interval_s: float
    seed: int
    log: dict[str, Any] | None = None


@dataclass
class LoggingRig:
    """Emulated logging sensors on a virtual link (see the module docstring).

    Build with :meth:`create` or :meth:`load`; ``async with rig.running(speed) as rig`` starts
    them; :meth:`save` keeps their state.
    """

    sensors: dict[str, RigSensor]
    scenario: str = "easy"
    signal_duration_s: float = 120.0
    signal_rate_hz: float = 833.0
    seed: int = 0
    session_t: float = 0.0
    host_epoch: float = field(default_factory=time.time)
    flash_bytes: int = 2 * 1024 * 1024
    #: Extra keyword arguments of emulated Verity Sense sensors (memory limits, file split, ...).
    polar_options: dict[str, Any] = field(default_factory=dict)
    link: VirtualLink | None = None
    peripherals: dict[str, EmulatedPeripheral] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        placements: Sequence[str] = ("left_foot", "right_foot", "pelvis"),
        *,
        models: Mapping[str, str] | None = None,
        seed: int = 0,
        scenario: str = "easy",
        signal_duration_s: float = 120.0,
        signal_rate_hz: float = 833.0,
        max_drift_ppm: float = 50.0,
        drift_ppm: Mapping[str, float] | None = None,
        flash_bytes: int = 2 * 1024 * 1024,
        polar_options: Mapping[str, Any] | None = None,
    ) -> LoggingRig:
        """New devices: boot offsets 10-600 s, drifts within ±``max_drift_ppm`` (or as given)."""
        rng = np.random.default_rng(seed + 2000)
        sensors = {}
        for i, p in enumerate(placements):
            sensors[p] = RigSensor(
                sensor_id=p,
                model=(models or {}).get(p, "diy"),
                address=f"C0:52:4C:00:00:{i + 1:02X}",
                offset_s=float(rng.uniform(10.0, 600.0)),
                drift_ppm=float(
                    (drift_ppm or {}).get(p, rng.uniform(-max_drift_ppm, max_drift_ppm))
                ),
                battery_pct=float(rng.uniform(40, 100)),
                conn_interval_s=(0.0075, 0.015, 0.030)[i % 3],
                seed=seed + i,
            )
        for s in sensors.values():
            if s.model not in ("diy", "metawear", "metawear-s", "polar"):
                raise ValueError(
                    f"{s.sensor_id}: emulated logging sensor {s.model!r}: expected diy, metawear "
                    "(MetaMotion R, BMI160), metawear-s (MetaMotion S, BMI270) or polar "
                    "(Verity Sense)"
                )
        return cls(
            sensors,
            scenario=scenario,
            signal_duration_s=signal_duration_s,
            signal_rate_hz=signal_rate_hz,
            seed=seed,
            flash_bytes=flash_bytes,
            polar_options=dict(polar_options or {}),
        )

    # --- persistence ---------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the rig's state (after :meth:`capture`) atomically."""
        self.capture()
        data = {
            "format": "runform-emulated-logging-sensors",
            "scenario": self.scenario,
            "signal_duration_s": self.signal_duration_s,
            "signal_rate_hz": self.signal_rate_hz,
            "seed": self.seed,
            "session_t": self.session_t,
            "host_epoch": self.host_epoch,
            "flash_bytes": self.flash_bytes,
            "polar_options": self.polar_options,
            "saved_wall": time.time(),
            "sensors": [s.__dict__ for s in self.sensors.values()],
        }
        p = Path(path)
        tmp = p.with_name(p.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, p)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> LoggingRig:
        """Read a saved rig (``ValueError`` with one line if it is not one)."""
        try:
            d = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: no emulated sensors saved here ({exc})") from None
        if d.get("format") != "runform-emulated-logging-sensors":
            raise ValueError(f"{path}: not an emulated-sensor state file")
        rig = cls(
            {s["sensor_id"]: RigSensor(**s) for s in d["sensors"]},
            scenario=d["scenario"],
            signal_duration_s=float(d["signal_duration_s"]),
            signal_rate_hz=float(d["signal_rate_hz"]),
            seed=int(d["seed"]),
            session_t=float(d["session_t"]),
            host_epoch=float(d["host_epoch"]),
            flash_bytes=int(d["flash_bytes"]),
            polar_options=dict(d.get("polar_options", {})),
        )
        return rig

    def capture(self) -> None:
        """Take the running devices' log state and the session clock into the saved state."""
        if self.link is not None:
            self.session_t = self.link.now()
        for sid, per in self.peripherals.items():
            self.sensors[sid].log = per.log_state()  # type: ignore[attr-defined]

    # --- running -------------------------------------------------------------------------
    def host_clock(self) -> float:
        """The emulated host's wall clock (UNIX s): continues across processes."""
        assert self.link is not None
        return self.host_epoch + self.link.now()

    @contextlib.asynccontextmanager
    async def running(self, speed: float = 10.0, *, at: float | None = None):
        """Start the devices on a new link whose session clock starts at ``at`` (default where
        it was saved); logs are rebuilt up to then."""
        from firmware_bridge.emulator.virtual import simulated_signals

        signals = simulated_signals(  # before the link exists: its clock runs from then
            list(self.sensors),
            scenario=self.scenario,
            duration_s=self.signal_duration_s,
            rate_hz=self.signal_rate_hz,
            seed=self.seed,
        )
        link = VirtualLink(speed=speed)
        link.advance(max(self.session_t, at if at is not None else self.session_t))
        self.link = link
        try:
            for sid, s in self.sensors.items():
                common: dict[str, Any] = {
                    "signal": signals[sid],
                    "address": s.address,
                    "clock": DeviceClock(s.offset_s, s.drift_ppm),
                    "radio": RadioConditions(conn_interval_s=s.conn_interval_s),
                    "battery_pct": s.battery_pct,
                    "seed": s.seed,
                }
                per: Any
                if s.model == "polar":
                    from firmware_bridge.emulator.polar import EmulatedPolarVeritySenseLogging

                    per = EmulatedPolarVeritySenseLogging(
                        link,
                        name=f"Polar Sense {_SHORT.get(sid, sid[:2])}0E12F",
                        **self.polar_options,
                        **common,
                    )
                elif s.model in ("metawear", "metawear-s"):
                    from firmware_bridge.emulator.metawear import EmulatedMetaWear

                    per = EmulatedMetaWear(
                        link,
                        chip="bmi270" if s.model == "metawear-s" else "bmi160",
                        name=f"MetaWear-{_SHORT.get(sid, sid[:2])}",
                        log_entries=self.flash_bytes // 9,
                        **common,
                    )
                else:
                    per = EmulatedDiyClip(
                        link,
                        name=f"rfclip-{_SHORT.get(sid, sid[:2])}",
                        flash_bytes=self.flash_bytes,
                        **common,
                    )
                if s.log is not None:
                    per.restore_log(s.log)
                await per.start()
                self.peripherals[sid] = per
            yield self
        finally:
            self.capture()
            for per in self.peripherals.values():
                await per.close()
            self.peripherals = {}
            self.link = None

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` of session time pass (nothing connected: the run)."""
        assert self.link is not None
        self.link.advance(seconds)

    def connector(self):
        """A :data:`~firmware_bridge.sensorlog.session.Connector` over the bumble backend."""
        link = self.link
        assert link is not None

        @contextlib.asynccontextmanager
        async def connect(address: str) -> AsyncIterator[Any]:
            from bleak import BleakClient

            from firmware_bridge.bumble_backend import BumbleClient

            async with BleakClient(address, backend=BumbleClient, link=link, timeout=10.0) as c:
                yield c

        return connect

    def addresses(self) -> dict[str, str]:
        return {sid: s.address for sid, s in self.sensors.items()}
