"""The pelvis analyzer's steps between contacts and rows (steps 4 and 5 of
:mod:`dsp.pelvis_analyzer`): the alternation, the side vote, the baseline.

* :class:`PelvisStep`: one analysed contact, waiting for its side and its row.
* :class:`StepLinker`: places each step in the alternation (run and step number), across a
  missed contact or a short gap when the time since the previous contact is a whole number
  of steps (:func:`whole_steps`).
* :func:`vote_sides`: the sides of the undecided steps (or early records) of a list, by
  :func:`dsp.pelvis_metrics.assign_sides`, once the steps that vote on them exist.
* :class:`Baseline` and :func:`baseline_from_steps`: the obliquity level the drops are measured
  against (standing posture, or from the running / walking steps,
  :func:`dsp.pelvis_metrics.running_baseline`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from dsp.pelvis_metrics import assign_sides, running_baseline

__all__ = [
    "Baseline",
    "PelvisStep",
    "StepLinker",
    "baseline_from_steps",
    "vote_sides",
    "whole_steps",
]


@dataclass
class PelvisStep:
    """One contact analysed in its epoch (times in s, angles in deg, ``vo_cm`` in cm)."""

    t_ic: float
    t_to: float
    next_ic: float
    next2_ic: float
    obl_max: float
    obl_min: float
    obl_ic: float
    obl_mean: float
    lat_mean: float
    vo_cm: float
    flight: bool
    flags: list[str] = field(default_factory=list)
    run: int = 0
    step_no: int = 0
    left: bool | None = None
    trace: np.ndarray | None = None  # obliquity IC -> same foot's next IC, 101 points, deg
    skip: set[str] = field(default_factory=set)  # silent feet not waited for


def whole_steps(dt: float, step_s: float | None) -> int:
    """How many steps of ``step_s`` (s) the time ``dt`` (s) between two contacts spans, when
    it is a whole number from 1 to 4 within 0.2 step (missed contacts: the alternation goes
    on); 0 otherwise, or without a step time."""
    x = dt / step_s if step_s else math.inf
    k = round(x) if math.isfinite(x) else 0
    return k if 1 <= k <= 4 and abs(x - k) < 0.2 else 0


@dataclass
class StepLinker:
    """Runs of alternating steps (module docstring): ``runs`` so far, ``step_s`` the duration
    of the last regular step, s."""

    runs: int = 0
    step_s: float | None = None

    def link(self, st: PelvisStep, prev: PelvisStep | None) -> None:
        """Same run (step number + 1) as ``prev``, across a missed contact or a short gap
        when the time since it is close to a whole number of steps (up to 4), or a new run."""
        if prev is None:
            self.runs += 1
            st.run, st.step_no = self.runs, 0
            return
        if math.isfinite(prev.next_ic) and abs(prev.next_ic - st.t_ic) < 1e-6:
            st.run, st.step_no = prev.run, prev.step_no + 1
            self.step_s = st.t_ic - prev.t_ic
            return
        k = whole_steps(st.t_ic - prev.t_ic, self.step_s)
        if k:
            st.run, st.step_no = prev.run, prev.step_no + k
            return
        self.runs += 1
        st.run, st.step_no = self.runs, prev.step_no + 1


class _Votable(Protocol):
    run: int
    step_no: int
    obl_mean: float
    lat_mean: float
    left: bool | None


def vote_sides(
    steps: Sequence[_Votable],
    lo: int,
    *,
    half_window: int,
    lookahead: int,
    open_segment: bool,
) -> None:
    """Sides (``left``) of the undecided steps (or early records) of ``steps`` from ``lo`` on.

    Steps alternate; the phase is voted by the side cues of the ``half_window`` steps before
    and ``lookahead`` after (:func:`dsp.pelvis_metrics.assign_sides`). With ``open_segment``
    the last run may still grow: a step of it is decided once the steps that vote on it exist
    (``lookahead`` later ones, and the first ``2 * half_window + 1`` of the run).
    """
    K = half_window
    A = min(lookahead, K)
    while lo < len(steps) and steps[lo].left is not None:
        lo += 1
    hi = len(steps)
    if lo >= hi:
        return
    open_run = steps[-1].run if open_segment else None
    # where the open run starts, looked for no further back than it can matter: a start at or
    # before hi - 2K - 1 decides nothing below (run_start + 2K < hi either way), and a long
    # run is not walked back step by step on every call
    floor = max(0, hi - 2 * K - 1)
    run_start = hi - 1
    while run_start > floor and steps[run_start - 1].run == open_run:
        run_start -= 1
    if open_run is not None and steps[lo].run == open_run:
        if max(lo + A, run_start + 2 * K) >= hi:
            return  # nothing decidable yet
    # the window reaches 2K before the first undecided step: a run that started before it
    # has >= 2K steps before every step decided now, so its cut start does not matter
    w0 = max(0, lo - 2 * K)
    win = steps[w0:hi]
    runs = np.array([s.run for s in win])
    ol = np.array([s.obl_mean for s in win])
    la = np.array([s.lat_mean for s in win])
    nos = np.array([s.step_no for s in win])
    left, _ = assign_sides(ol, la, runs, step_no=nos, half_window=K, after=A)
    for j in range(lo, hi):
        if (
            open_run is not None
            and steps[j].run == open_run
            and max(j + A, run_start + 2 * K) >= hi
        ):
            break
        steps[j].left = bool(left[j - w0])


def baseline_from_steps(
    steps: Iterable[Any], *, n_half: int, final: bool, stop_when_enough: bool
) -> float | None:
    """The running baseline (:func:`dsp.pelvis_metrics.running_baseline`) from steps with a
    side (``left``), ``obl_ic``, ``obl_max``, ``obl_min``: once both sides have ``n_half``
    usable steps (``stop_when_enough``: from the first ones only), or at the end (``final``)
    from whatever both sides have; None while it cannot be decided. Steps without a finite
    ``obl_ic`` and ``obl_max`` are not used."""
    il: list[float] = []
    ir: list[float] = []
    pl: list[float] = []
    mr: list[float] = []
    for s in steps:
        if not (math.isfinite(s.obl_ic) and math.isfinite(s.obl_max)):
            continue
        if s.left:
            il.append(s.obl_ic)
            pl.append(s.obl_max)
        else:
            ir.append(s.obl_ic)
            mr.append(s.obl_min)
        if stop_when_enough and min(len(il), len(ir)) >= n_half:
            break
    if min(len(il), len(ir)) >= n_half or (final and il and ir):
        return running_baseline(np.array(il), np.array(ir), np.array(pl), np.array(mr))
    return None


@dataclass
class Baseline:
    """The obliquity level the drops are measured against (module step 5), deg.

    Attributes
    ----------
    kind : str or None
        ``standing`` or ``running`` once the alignment is known.
    value : float or None
        For the running steps (0 for ``standing``: the alignment levels the standing posture).
    from_steps : bool
        ``value`` came from running steps (else from the posture, or a default).
    walk : float or None
        For the walking steps: ``value`` when it came from the posture or running steps, else
        from the walking steps the same way.
    """

    kind: str | None = None
    value: float | None = None
    from_steps: bool = False
    walk: float | None = None

    @property
    def deg(self) -> float:
        """``value``, 0 before it is known."""
        return self.value if self.value is not None else 0.0
