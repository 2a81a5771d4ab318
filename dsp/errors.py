"""Errors of the analysis that are meant for the user (one clear line each)."""

__all__ = ["AnalysisError"]


class AnalysisError(ValueError):
    """The data cannot be analysed as asked; the message names the sensor and the reason."""
