"""Sources of sample blocks: BLE devices (decoders + transport), time sync, the simulator."""

from firmware_bridge.errors import DeviceError

__all__ = ["DeviceError"]
