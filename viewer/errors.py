"""Errors of the viewer meant for the user."""

__all__ = ["ViewerError"]


class ViewerError(RuntimeError):
    """The viewer cannot start or show what was asked; the message says why."""
