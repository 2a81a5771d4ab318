"""The SUMMARY.json document of ``runform analyze`` (analysis-output v1), as a plain dict."""

from __future__ import annotations

from array import array
from typing import Any

import numpy as np

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "build_summary", "median_or_none"]

FORMAT_NAME = "runform-analysis"
FORMAT_VERSION = 1


def build_summary(
    *,
    recording: str,
    duration_s: float,
    sensors: dict[str, dict[str, Any]],
    alerts: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Assemble SUMMARY.json.

    Parameters
    ----------
    recording : str
        The recording's path as given on the command line.
    duration_s : float
        Recording duration, s.
    sensors : dict
        :meth:`dsp.session.SessionAnalyzer.summary` output.
    alerts : list of dict, optional
        ``{"t", "rule", "message"}`` per alert; ``[]`` when none.
    """
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "recording": recording,
        "duration_s": round(float(duration_s), 6),
        "sensors": sensors,
        "alerts": list(alerts or []),
    }


def median_or_none(values: array) -> float | None:
    """Median of the finite values of a float64 ``array('d')`` (rounded to 6 decimals), or
    ``None`` when there is none: the ``*_median`` entries of SUMMARY.json."""
    arr = np.frombuffer(values, dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        return None
    return round(float(np.median(arr)), 6)
