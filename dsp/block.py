"""The one currency between layers: a block of IMU samples from one sensor.

Every source (BLE decoder + time sync, HDF5 replay, simulator) yields :class:`SampleBlock`
objects; every consumer (recorder, streaming analysis, viewer) takes them. It lives in ``dsp``
because ``dsp`` may import nothing else of the project, while every other package may import
``dsp``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

__all__ = ["PLACEMENTS", "SENSOR_ID_PATTERN", "STANDARD_GRAVITY", "SampleBlock", "SensorInfo"]

#: Standard gravity in m/s² (used to convert g to m/s² and back).
STANDARD_GRAVITY = 9.80665

#: Placements a sensor group may have (recording format v1).
PLACEMENTS = ("left_foot", "right_foot", "pelvis")

#: Allowed sensor ids (recording format v1).
SENSOR_ID_PATTERN = re.compile(r"^[a-z0-9_]{1,32}$")


@dataclass(frozen=True)
class SensorInfo:
    """Static description of one sensor in a session.

    Parameters
    ----------
    sensor_id : str
        Short unique name, ``[a-z0-9_]{1,32}``.
    placement : str
        One of :data:`PLACEMENTS`.
    device_model : str
        E.g. ``"movesense"``, ``"runform-diy"``, ``"simulated"``.
    sample_rate_hz : float
        Nominal output data rate in Hz.
    acc_range_g, gyr_range_dps : float or None
        Full-scale ranges in g and deg/s, for saturation checks.
    firmware : str or None
        Firmware version string, if known.
    """

    sensor_id: str
    placement: str
    device_model: str
    sample_rate_hz: float
    acc_range_g: float | None = None
    gyr_range_dps: float | None = None
    firmware: str | None = None

    def __post_init__(self) -> None:
        if not SENSOR_ID_PATTERN.match(self.sensor_id):
            raise ValueError(f"sensor id {self.sensor_id!r}: expected 1-32 characters of [a-z0-9_]")
        if self.placement not in PLACEMENTS:
            raise ValueError(
                f"sensor {self.sensor_id}: placement {self.placement!r}, expected one of "
                + ", ".join(PLACEMENTS)
            )
        if not (np.isfinite(self.sample_rate_hz) and self.sample_rate_hz > 0):
            raise ValueError(
                f"sensor {self.sensor_id}: sample_rate_hz {self.sample_rate_hz!r}, "
                "expected a positive number"
            )

    @property
    def side(self) -> str | None:
        """``"left"``/``"right"`` for a foot sensor, ``None`` for the pelvis."""
        if self.placement == "left_foot":
            return "left"
        if self.placement == "right_foot":
            return "right"
        return None


def _empty_gaps() -> np.ndarray:
    return np.empty((0, 2), dtype=np.float64)


@dataclass(frozen=True)
class SampleBlock:
    """A contiguous run of samples from one sensor, on the session's shared time base.

    Parameters
    ----------
    sensor_id : str
        Which sensor (see :class:`SensorInfo`).
    t : ndarray, shape (N,), float64
        Sample times in s since the session start, strictly increasing.
    acc : ndarray, shape (N, 3)
        Specific force in m/s², sensor frame.
    gyr : ndarray, shape (N, 3)
        Angular rate in deg/s, sensor frame.
    seq : ndarray, shape (N,), uint32, optional
        The device's own sample/packet counter.
    gaps : ndarray, shape (M, 2), float64
        ``[t_start, t_end]`` intervals in s in which data were lost, reported with this block
        (a gap ends before ``t[0]`` or lies between two samples of the block).
    """

    sensor_id: str
    t: np.ndarray
    acc: np.ndarray
    gyr: np.ndarray
    seq: np.ndarray | None = None
    gaps: np.ndarray = field(default_factory=_empty_gaps)

    def __post_init__(self) -> None:
        n = self.t.shape[0]
        if self.t.ndim != 1:
            raise ValueError(f"sensor {self.sensor_id}: t must be 1-D, got shape {self.t.shape}")
        for name in ("acc", "gyr"):
            arr = getattr(self, name)
            if arr.shape != (n, 3):
                raise ValueError(
                    f"sensor {self.sensor_id}: {name} shape {arr.shape}, expected ({n}, 3)"
                )
        if self.seq is not None and self.seq.shape != (n,):
            raise ValueError(
                f"sensor {self.sensor_id}: seq shape {self.seq.shape}, expected ({n},)"
            )
        if self.gaps.ndim != 2 or self.gaps.shape[1] != 2:
            raise ValueError(
                f"sensor {self.sensor_id}: gaps shape {self.gaps.shape}, expected (M, 2)"
            )

    def __len__(self) -> int:
        return int(self.t.shape[0])

    @property
    def t_end(self) -> float:
        """Time of the last sample in s (NaN for an empty block)."""
        return float(self.t[-1]) if len(self) else float("nan")

    def slice(self, start: int, stop: int) -> SampleBlock:
        """Samples ``start:stop`` as a new block; gaps go with the first piece only."""
        return SampleBlock(
            sensor_id=self.sensor_id,
            t=self.t[start:stop],
            acc=self.acc[start:stop],
            gyr=self.gyr[start:stop],
            seq=None if self.seq is None else self.seq[start:stop],
            gaps=self.gaps if start == 0 else _empty_gaps(),
        )

    @staticmethod
    def concatenate(blocks: list[SampleBlock]) -> SampleBlock:
        """Join consecutive blocks of one sensor into one block."""
        if not blocks:
            raise ValueError("concatenate needs at least one block")
        sid = blocks[0].sensor_id
        seqs = [b.seq for b in blocks]
        return SampleBlock(
            sensor_id=sid,
            t=np.concatenate([b.t for b in blocks]),
            acc=np.concatenate([b.acc for b in blocks]),
            gyr=np.concatenate([b.gyr for b in blocks]),
            seq=None if any(s is None for s in seqs) else np.concatenate(seqs),  # type: ignore[arg-type]
            gaps=np.concatenate([b.gaps for b in blocks]) if blocks else _empty_gaps(),
        )
