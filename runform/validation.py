"""Checks of command-line numbers shared by several commands (one-line UsageError if bad).

``float`` arguments accept ``inf``, ``nan`` and ``1e-9``; each check here bounds a value to what
can work, so that no option can make a command hang or allocate without bound.
"""

from __future__ import annotations

import math

from runform.errors import UsageError

__all__ = [
    "ANALYSIS_CHUNK_S",
    "CHUNK_S_RANGE",
    "RECORD_RATE_RANGE_HZ",
    "check_chunk_s",
    "check_range",
    "check_seed",
]

#: Seconds of recording read at a time: below 0.5 s the per-chunk overhead dominates (a tiny
#: value made ``analyze`` run for ever); above an hour a chunk no longer bounds memory.
CHUNK_S_RANGE = (0.5, 3600.0)
#: Window of the analysis loop (blocks of every sensor read and analysed together), s: the
#: default of ``--chunk-s`` and of :func:`runform.analysis_run.analyse_recording`.
ANALYSIS_CHUNK_S = 60.0
#: Sample rates a recording can be made at, Hz (the devices runform knows stream 12.5-3332 Hz).
RECORD_RATE_RANGE_HZ = (10.0, 4000.0)


def check_range(option: str, value: float, lo: float, hi: float, unit: str = "") -> float:
    """``value`` if finite and ``lo <= value <= hi``, else a UsageError naming the option."""
    u = f" {unit}" if unit else ""
    if not (isinstance(value, (int, float)) and math.isfinite(value) and lo <= value <= hi):
        raise UsageError(f"{option} {value}: expected a number from {lo:.10g} to {hi:.10g}{u}")
    return float(value)


def check_chunk_s(chunk_s: float) -> float:
    return check_range("--chunk-s", chunk_s, *CHUNK_S_RANGE, unit="s")


def check_seed(seed: int) -> int:
    """``--seed``: a whole number 0 or more (numpy's seeds), else a UsageError naming it."""
    if seed < 0:
        raise UsageError(f"--seed {seed}: expected a whole number 0 or more")
    return seed
