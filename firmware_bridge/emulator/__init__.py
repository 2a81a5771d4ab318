"""Emulated BLE sensors on an in-process bumble link (see :mod:`firmware_bridge.emulator.base`).

:func:`start_virtual_sensors` starts a set of them; :class:`VirtualBleSource` streams them
through bleak (bumble backend) as a :class:`~dsp.source.BlockSource`.
"""

from firmware_bridge.emulator.base import (
    BlockSignal,
    DeviceClock,
    EmulatedPeripheral,
    RadioConditions,
    SampleChunk,
    SignalSource,
    SyntheticSignal,
    quantize,
)
from firmware_bridge.emulator.diy import EmulatedDiyClip
from firmware_bridge.emulator.virtual import (
    VirtualBleSource,
    VirtualSensors,
    simulated_signals,
    start_virtual_sensors,
)

__all__ = [
    "BlockSignal",
    "DeviceClock",
    "EmulatedDiyClip",
    "EmulatedPeripheral",
    "RadioConditions",
    "SampleChunk",
    "SignalSource",
    "SyntheticSignal",
    "VirtualBleSource",
    "VirtualSensors",
    "quantize",
    "simulated_signals",
    "start_virtual_sensors",
]
