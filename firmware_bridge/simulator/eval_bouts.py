"""Scoring activity bouts against the simulator's truth (tests and
``scripts/walk_accuracy.py``)."""

from __future__ import annotations

import itertools

import numpy as np


def bout_agreement(
    bouts: list[dict], truth: list[list], *, t0: float, t1: float, step_s: float = 0.01
) -> float:
    """Share of the time in ``[t0, t1)`` where the bouts' activity is the truth's
    (``bouts``: ``{"t0", "t1", "activity"}``; ``truth``: ``[t0, t1, activity]``)."""
    grid = np.arange(t0, t1, step_s)

    def label(spans: list[tuple[float, float, str]]) -> np.ndarray:
        out = np.full(grid.size, "", dtype=object)
        for a, b, act in spans:
            out[(grid >= a) & (grid < b)] = act
        return out

    got = label([(b["t0"], b["t1"], b["activity"]) for b in bouts])
    want = label([(a, b, act) for a, b, act in truth])
    return float(np.mean(got == want))


def boundary_errors(bouts: list[dict], truth: list[list]) -> list[float]:
    """For each truth boundary between two bouts, the distance (s) to the nearest detected
    boundary into the same activity (inf when none)."""
    got = [(a["t1"], a["activity"], b["activity"]) for a, b in itertools.pairwise(bouts)]
    out = []
    for a, b in itertools.pairwise(truth):
        cands = [abs(t - a[1]) for t, _x, y in got if y == b[2]]
        out.append(min(cands, default=float("inf")))
    return out
