"""Errors of devices and transports meant for the user (naming the device and the problem)."""

__all__ = ["DeviceError"]


class DeviceError(RuntimeError):
    """A device cannot be used as asked; the message names the device and what was expected."""
