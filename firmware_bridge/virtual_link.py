"""An in-process Bluetooth LE "air": bumble virtual controllers on one shared link.

Emulated peripherals (:mod:`firmware_bridge.emulator`) and the central used by the bleak
backend (:mod:`firmware_bridge.bumble_backend`) each get their own
:class:`bumble.controller.Controller` on one :class:`bumble.link.LocalLink`, with a full bumble
host stack (HCI, L2CAP, ATT/GATT, SMP) on top. Nothing leaves the process: no socket, no port.

The link also owns the **session clock**: :meth:`VirtualLink.now` is the host time every party
uses (the session stamps arrivals with it, emulated devices derive their own drifting clocks and
the true sample times from it). With ``speed > 1`` this clock runs faster than the wall clock, so
tests can stream minutes of data in seconds while every timing relation stays realistic.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bumble.device import Device

__all__ = ["VirtualLink", "default_link", "set_default_link"]

log = logging.getLogger(__name__)

_default: VirtualLink | None = None


def default_link() -> VirtualLink:
    """The link the bleak backend uses when none is passed (created on first use)."""
    global _default
    if _default is None:
        _default = VirtualLink()
    return _default


def set_default_link(link: VirtualLink | None) -> None:
    """Make ``link`` the one the bleak backend uses by default (``None`` resets)."""
    global _default
    _default = link


class VirtualLink:
    """Shared virtual radio for in-process bumble controllers, with a (possibly fast) clock.

    Parameters
    ----------
    speed : float
        How many seconds of session time pass per wall-clock second (1 = real time).
    """

    def __init__(self, speed: float = 1.0) -> None:
        from bumble.link import LocalLink

        if not speed > 0:
            raise ValueError(f"virtual link speed {speed!r}: expected a positive number")
        self.speed = float(speed)
        # the virtual controllers warn about packets in flight when a connection is torn
        # down (normal at the end of a session); keep that out of the user's terminal unless
        # someone configured bumble's logging
        ctl_log = logging.getLogger("bumble.controller")
        if ctl_log.level == logging.NOTSET:
            ctl_log.setLevel(logging.ERROR)
        self.link = LocalLink()
        self._t0 = time.monotonic()
        self._addresses = itertools.count(1)
        self._central: Device | None = None
        self._central_lock: asyncio.Lock | None = None
        self.devices: list[Device] = []
        self._advertising: dict[str, bool] = {}

    # --- clock ---------------------------------------------------------------------------------
    def now(self) -> float:
        """Session clock in s (monotonic; ``speed`` times the wall clock since creation)."""
        return (time.monotonic() - self._t0) * self.speed

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` of session time."""
        await asyncio.sleep(max(0.0, seconds) / self.speed)

    async def sleep_until(self, t: float) -> None:
        """Sleep until the session clock reaches ``t``."""
        await self.sleep(t - self.now())

    def advance(self, seconds: float) -> None:
        """Jump the session clock forward by ``seconds`` (while nothing is connected: a run
        that emulated logging sensors spend away from the host)."""
        if seconds < 0:
            raise ValueError(f"virtual link: cannot go back {seconds} s")
        self._t0 -= seconds / self.speed

    # --- devices -------------------------------------------------------------------------------
    def new_address(self, prefix: int = 0xC0) -> str:
        """A fresh static random address (top two bits set), e.g. ``C0:52:46:00:00:01``."""
        n = next(self._addresses)
        return (
            f"{prefix | 0xC0:02X}:52:46:{(n >> 16) & 0xFF:02X}:{(n >> 8) & 0xFF:02X}:{n & 0xFF:02X}"
        )

    def new_device(self, name: str, address: str | None = None) -> Device:
        """A bumble :class:`~bumble.device.Device` with its own controller on this link.

        The device is not powered on yet (call ``await device.power_on()``).
        """
        from bumble.controller import Controller
        from bumble.device import Device
        from bumble.hci import Address
        from bumble.host import Host
        from bumble.transport.common import AsyncPipeSink

        address = address or self.new_address()
        controller = Controller(name, link=self.link, public_address=address)
        device = Device(
            name=name,
            address=Address(address),
            host=Host(controller, AsyncPipeSink(controller)),
        )
        self.devices.append(device)
        return device

    def set_advertising(self, address: str, on: bool) -> None:
        """Emulated peripherals report here whether they are connectable right now."""
        self._advertising[address.upper()] = on

    def is_advertising(self, address: str) -> bool:
        """Whether the peripheral at ``address`` is connectable now (peripherals report it with
        :meth:`set_advertising`, as :class:`~firmware_bridge.emulator.EmulatedPeripheral` does).

        The central connects only to a device it can see, as BlueZ does (bumble's virtual
        controller would otherwise keep a connection to an absent device pending forever).
        """
        return self._advertising.get(address.upper(), False)

    async def central(self) -> Device:
        """The one central (the "host adapter") of this link, powered on on first use."""
        if self._central_lock is None:
            self._central_lock = asyncio.Lock()
        async with self._central_lock:
            if self._central is None:
                dev = self.new_device("runform-host", "F0:52:46:00:00:00")
                await dev.power_on()
                self._central = dev
        return self._central
