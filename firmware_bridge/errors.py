"""Errors of devices and transports meant for the user (naming the device and the problem)."""

__all__ = ["DeviceError", "no_bluetooth"]


def no_bluetooth(exc: BaseException) -> bool:
    """No adapter / no BlueZ (D-Bus socket missing): retrying cannot help."""
    return isinstance(exc, FileNotFoundError) or type(exc).__name__ in (
        "BleakBluetoothNotAvailableError",
    )


class DeviceError(RuntimeError):
    """A device cannot be used as asked; the message names the device and what was expected."""
