"""Footpod streams (BLE Running Speed and Cadence) next to the IMU-derived speed and cadence.

A footpod (Stryd, Polar, Zwift RunPod, ...) writes ``/streams/<id>`` with ``speed_mps`` and
``cadence_spm`` (see :mod:`firmware_bridge.devices.rsc`). The RSC service's "instantaneous
cadence" is specified in 1/min without saying of what: most pods send steps/min, some send
strides/min (one foot's cycles, half the number). :func:`cadence_factor` finds out by comparing
with the IMU cadence (``120 / stride_time``, steps/min) instead of guessing, and says so.
Pure numpy; used by the report (``runform report``) and the viewer.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["CadenceCheck", "cadence_factor", "footpod_streams"]

#: Ratio pod / IMU cadence accepted as "the same unit" (±15 %: pods smooth over seconds, the
#: IMU value is per stride).
SAME_UNIT_TOLERANCE = 0.15


@dataclass(frozen=True)
class CadenceCheck:
    """How a footpod's cadence relates to the IMU cadence.

    Attributes
    ----------
    factor : float
        Multiply the pod's cadence by this to get steps/min (1, 2 or 0.5).
    ratio : float
        Median pod cadence / median IMU cadence (NaN when either is missing).
    note : str
        One sentence for the user ("" when the pod agrees in steps/min).
    """

    factor: float
    ratio: float
    note: str


def cadence_factor(pod_cadence: Any, imu_cadence: Any, *, name: str = "footpod") -> CadenceCheck:
    """Compare a footpod's cadence with the IMU cadence (steps/min) and find the pod's unit.

    Parameters
    ----------
    pod_cadence : array_like (N,)
        The pod's cadence values (1/min, as sent).
    imu_cadence : array_like (M,)
        IMU cadence per stride, steps/min.
    name : str
        The stream's name, used in the note.

    Returns
    -------
    CadenceCheck
        ``factor`` 2 when the pod reads half the IMU cadence (±15 %: it sends strides/min),
        0.5 when it reads twice, else 1 (with a note when they disagree by more than 15 %).
    """
    pod = np.asarray(pod_cadence, dtype=float)
    imu = np.asarray(imu_cadence, dtype=float)
    pod = pod[np.isfinite(pod) & (pod > 0)]
    imu = imu[np.isfinite(imu) & (imu > 0)]
    if not pod.size:
        return CadenceCheck(1.0, math.nan, f"{name}: no cadence values")
    if not imu.size:
        return CadenceCheck(1.0, math.nan, "")
    ratio = float(np.median(pod) / np.median(imu))
    tol = SAME_UNIT_TOLERANCE
    if abs(ratio - 1.0) <= tol:
        return CadenceCheck(1.0, ratio, "")
    if abs(ratio - 0.5) <= 0.5 * tol:
        return CadenceCheck(
            2.0,
            ratio,
            f"{name} cadence is half the IMU cadence (ratio {ratio:.2f}): the pod reports "
            "strides/min; shown ×2 as steps/min",
        )
    if abs(ratio - 2.0) <= 2.0 * tol:
        return CadenceCheck(
            0.5,
            ratio,
            f"{name} cadence is twice the IMU cadence (ratio {ratio:.2f}): shown ×½ to compare",
        )
    return CadenceCheck(
        1.0,
        ratio,
        f"{name} cadence differs from the IMU cadence by {100 * (ratio - 1):+.0f} % "
        "(not a steps/strides unit mix-up)",
    )


def footpod_streams(streams: Iterable[Any]) -> list[Any]:
    """The streams that carry speed or cadence (``speed_mps`` / ``cadence_spm``), by id."""
    out = [s for s in streams if {"speed_mps", "cadence_spm"} & set(s.values)]
    return sorted(out, key=lambda s: s.stream_id)
