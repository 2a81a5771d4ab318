"""Device drivers: one module per device family, each exporting ``DRIVER`` (a
:class:`~firmware_bridge.devices.base.DeviceDriver` instance).

:data:`DRIVERS` lists every driver found, in detection order (the open DIY protocol first);
:func:`detect` names the driver an advertisement belongs to; :func:`driver_by_name` looks one up
by its ``device_model`` name.
"""

from __future__ import annotations

import importlib
import logging

from firmware_bridge.devices.base import (
    Advertisement,
    DecodedSamples,
    DecodeError,
    DecoderState,
    DeviceDriver,
    StreamSettings,
    normalize_uuid,
)
from firmware_bridge.errors import DeviceError

__all__ = [
    "DRIVERS",
    "Advertisement",
    "DecodeError",
    "DecodedSamples",
    "DecoderState",
    "DeviceDriver",
    "StreamSettings",
    "detect",
    "driver_by_name",
    "normalize_uuid",
]

log = logging.getLogger(__name__)

#: Driver modules in detection order; a module not (yet) present in this tree is skipped.
_DRIVER_MODULES = ("diy", "movesense", "metawear", "witmotion", "polar", "rsc")


def _load_drivers() -> list[DeviceDriver]:
    drivers: list[DeviceDriver] = []
    for mod_name in _DRIVER_MODULES:
        full = f"{__name__}.{mod_name}"
        try:
            mod = importlib.import_module(full)
        except ModuleNotFoundError as exc:
            if exc.name == full:  # the family is not part of this tree
                continue
            raise
        driver = getattr(mod, "DRIVER", None)
        if isinstance(driver, DeviceDriver):
            drivers.append(driver)
        else:
            log.warning("%s has no DRIVER (a DeviceDriver instance); skipped", full)
    return drivers


#: Every available driver, in detection order.
DRIVERS: list[DeviceDriver] = _load_drivers()


def detect(adv: Advertisement) -> DeviceDriver | None:
    """The driver whose family an advertisement belongs to, or None."""
    for driver in DRIVERS:
        if driver.matches(adv):
            return driver
    return None


def driver_by_name(name: str) -> DeviceDriver:
    """The driver with ``device_model`` ``name``.

    Raises
    ------
    DeviceError
        No such driver (the message lists the known ones).
    """
    for driver in DRIVERS:
        if driver.name == name:
            return driver
    known = ", ".join(d.name for d in DRIVERS) or "none"
    raise DeviceError(f"device type {name!r}: unknown, expected one of {known}")
