"""Walking steps of a pelvis sensor: stance side, initial contact, pelvic drop, oscillation.

While walking the pelvis never leaves the ground support, so the running contacts of
:func:`dsp.pelvis_events.detect_stances` (a hump between two flight phases) do not exist. The
steps come from :func:`dsp.pelvis_events.detect_walk_steps` instead (one vertical specific-force
peak per step, inside a run of regular steps), and everything else follows the running method
(``docs/dsp_pelvis.md``):

* **attitude**: :func:`dsp.pelvis_orientation.stride_gravity_attitude` over the walking steps
  (over a whole stride the pelvis' acceleration averages out in walking too), computed from
  the gyroscope chained once over the segment (:func:`dsp.pelvis_orientation.chained_stride_rows`,
  the same attitude up to rounding) and only on the samples the window's steps use;
* **pelvic drop** (analysis-output v1): the peak obliquity of a ``left`` step (minus the trough
  of a ``right`` step) against the standing level, over the stance of that foot. From the
  pelvis alone a walking step's toe-off is not measured; its stance is taken from its initial
  contact to ``stance_end_step`` of a step after the next contact (the other foot's double
  support ends there), which holds the single support, where the swing side drops. (So it
  does on 101 of 108 real Voisard walks; on the Mobilise-D HA/001 walks the sensor tilts toward
  the stance side instead, and the value is no drop there: ``scripts/walk_obliquity.py``,
  ``docs/dsp_pelvis.md``.)
* **vertical oscillation**: peak to peak of the doubly integrated world-vertical acceleration
  from this contact to the next (as running);
* **side**: the vote of :func:`dsp.pelvis_metrics.assign_sides` over the run of alternating
  steps, on the mean world sideways specific force over the stance: the foot is planted beside
  the centre of mass, so the ground pushes the pelvis back toward the midline, to the right in
  a left stance (the lateral sway of the inverted pendulum; in turns too). The running vote's
  obliquity cue is left out (``WalkSettings.obliquity_cue``): on real lower-back walks the
  sensor's frontal-plane tilt runs against the pelvic-drop pattern (see the setting).
* **contacts missed in turns**: a turning step's vertical bounce fades (the pelvis pivots over
  the foot); an interval of 1.5-3 of the run's step times over which the pelvis turns at 60
  deg/s or more gets a contact half-way (:meth:`PelvisWalk._turn_fill`).

Streaming = batch: the data of a segment are cut into epochs of ``epoch_s`` at fixed sample
indices; epoch ``k`` is analysed on its samples plus ``pad_s`` before and ``lookahead_s``
after (more than :func:`dsp.pelvis_events.walk_context_s`) once they have arrived, and owns
the steps whose peak lies in it. Every value of a step is thus a function of one fixed window
of data, whatever the block sizes. Sides are decided once the ``side_half_window`` following
steps of the run exist or the run has ended.

The caller (:class:`dsp.pelvis_analyzer.PelvisAnalyzer`) aligns the data (sensor to pelvis
frame ``ap, ml, vt``), feeds it here and turns the decided steps into rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from dsp.block import STANDARD_GRAVITY
from dsp.contact import ContactRow
from dsp.filters import samples_for
from dsp.metrics import cadence_spm
from dsp.pelvis_events import (
    WALK_MAX_STEP_S,
    WALK_SMOOTH_S,
    detect_walk_steps,
    flight_runs,
    may_hold_walk_runs,
    walk_context_s,
    walk_flight_level,
)
from dsp.pelvis_fusion import FeetFusion
from dsp.pelvis_metrics import _one_step_ptp_cm, assign_sides
from dsp.pelvis_orientation import chained_stride_rows
from dsp.pelvis_segment import GyroChain, chain_sums

__all__ = ["PelvisWalk", "WalkSettings", "WalkStep", "fuse_walk_step", "walk_row"]


@dataclass(frozen=True)
class WalkSettings:
    """Settings of :class:`PelvisWalk` (times in s).

    Attributes
    ----------
    epoch_s : float
        Analysis epoch: the steps whose peak lies in it are analysed together.
    pad_s, lookahead_s : float
        Context before and after an epoch (at least the steps' own context, see
        :func:`dsp.pelvis_events.walk_context_s`, and a stride for the attitude).
    side_half_window : int
        Steps on either side of a step that vote on its side.
    stance_end_step : float
        The stance of a step ends this fraction of a step after the next contact.
    max_step_s : float
        Longest step of a walk (as :func:`dsp.pelvis_events.detect_walk_steps`).
    yaw_window_step : float
        The yaw cue's window: this fraction of a step before each contact.
    yaw_cue, obliquity_cue : bool
        Also vote with the mean rate of turn before the contact (lower before a left
        contact) / the mean obliquity over the stance (higher in a left stance), as well as
        the sideways specific force. Both off (issue 17, real Mobilise-D lower-back walks,
        INDIP reference): each step's cue against the mean of its two neighbours gave the
        reference side for all steps with the sideways force (38 steps of test11, 15 of them
        in turns, and 17 of test5), 97-100 % with the rate of turn, and 18 % (test11) and
        41 % (test5) with the obliquity: there the sensor (belt at L4/L5) tilts toward the
        stance side in mid-stance (test11: -2.5 to -3 deg at 20-30 % of a left stride), the
        opposite of a pelvic drop of the swing side, so with it the vote went wrong on whole
        runs (test11 side 61 % with the running cues). Sides of test11: 96.5 % with the
        sideways force alone (the two misses are reference quirks), 94.7 % adding the rate
        of turn (a slow last step of a walk), 93.0 % with all three; simulated walks 100 %
        with any (``scripts/walk_side_cues.py``).
    turn_fill_ratio, turn_fill_dps : (float, float), float
        A contact missed in a turn (:meth:`PelvisWalk._turn_fill`): an interval between the
        run's last step and the next found contact of this many times the run's step time,
        over which the pelvis turns at this mean rate or more (deg/s), gets a contact
        half-way.
    closing_rest_s : float
        A walk that ends at rest (this long from half a step after its last step) without a
        weak last step gets its closing contact by timing
        (:func:`dsp.pelvis_events.detect_walk_steps`), whose row ends the walking bout
        (``ContactRow.ends_walk``, :mod:`dsp.bouts`); 0: never. Whoever stops walking sets
        the trailing foot down beside the other, a contact that barely lifts the pelvis: the
        real Voisard walks, pelvis alone, find 3672 instead of 3625 of 3746 contacts with 1.0
        s (subjects 1-10: 1918 -> 1938 of 1976; 11-19, held out: 1707 -> 1734 of 1770) for 3
        false rows more; mobgap test5 and test11 unchanged in the reference's bouts (its
        bouts leave the closing contacts out). The simulator's walks stop the same way
        (``Scenario.walk_stop_s``): the interval session's last walking bout ends at its
        closing contact (issue 17, session 9).
    """

    epoch_s: float = 2.0
    pad_s: float = 4.7
    lookahead_s: float = 3.5
    side_half_window: int = 4
    stance_end_step: float = 0.2
    max_step_s: float = WALK_MAX_STEP_S
    yaw_window_step: float = 0.3
    yaw_cue: bool = False
    obliquity_cue: bool = False
    turn_fill_ratio: tuple[float, float] = (1.5, 3.0)
    turn_fill_dps: float = 60.0
    closing_rest_s: float = 1.0


@dataclass
class WalkStep:
    """One walking step with its raw per-step values (angles deg, ``vo_cm`` cm)."""

    t_ic: float
    next_ic: float  # the next contact (other foot), nan at the end of a walk
    next2_ic: float  # the contact after it (same foot), nan if none
    obl_max: float
    obl_min: float
    obl_ic: float
    obl_mean: float
    lat_mean: float
    vo_cm: float
    segment: int
    yaw_rate: float = math.nan  # mean rate of turn over the swing's end before it, deg/s
    edge: int = 0  # +1: a weak last step of a walk, +2: its closing contact (WalkSteps.edge)
    flags: list[str] = field(default_factory=list)
    trace: np.ndarray | None = None  # obliquity IC -> same foot's next IC, 101 points, deg
    run: int = 0
    step_no: int = 0
    left: bool | None = None
    skip: set[str] = field(default_factory=set)  # feet left out of its fusion (silent)


@dataclass(frozen=True)
class _Window:
    """The aligned samples of an analysis window and what the steps' values are taken from
    (world obliquity, deg; sideways and vertical specific force, m/s²; None without an
    attitude)."""

    t: np.ndarray
    gyr: np.ndarray
    gap: np.ndarray
    sat: np.ndarray
    obl: np.ndarray | None
    lat: np.ndarray | None
    a_z: np.ndarray | None


#: The foot contact a walking step takes its events from: (sensor id, side, t_ic, t_to,
#: stride time), see :meth:`dsp.pelvis_fusion.FeetFusion.match`.
FootMatch = tuple[str, str, float, float | None, float | None]


def fuse_walk_step(
    feet: FeetFusion | None, step: WalkStep, *, now: float, final: bool
) -> FootMatch | Literal[False] | None:
    """The foot contact that gives a walking step its side and events, as for a running step
    (:mod:`dsp.pelvis_fusion`): the nearest foot row within the fusion tolerance, once every
    foot has decided about the step. ``None``: no feet, or none matches (the pelvis' own
    events stand); ``False``: a foot's rows near the step are not all in yet (ask again)."""
    if not feet:
        return None
    if not feet.ready(step.t_ic, step.skip, now=now, final=final):
        return False
    return feet.match(step.t_ic, step.skip)


def walk_row(sensor_id: str, step: WalkStep, fused: FootMatch | None) -> ContactRow:
    """A walking step's row with its side and events: the foot's (``events_source`` feet:
    side, IC, toe-off, contact and stride time) or the pelvis' own (side vote, IC, stride time
    from the same foot's next contact; no toe-off)."""
    if fused is not None:
        _, side, t_ic, t_to, stride = fused
        row = ContactRow(sensor_id=sensor_id, side=side, t_ic=t_ic, t_to=t_to)
        row.events_source = "feet"
        if t_to is not None:
            row.contact_time = t_to - t_ic
    else:
        side = "left" if step.left else "right"
        row = ContactRow(sensor_id=sensor_id, side=side, t_ic=step.t_ic)
        row.events_source = "pelvis"
        stride = step.next2_ic - step.t_ic if math.isfinite(step.next2_ic) else None
    row.activity = "walk"
    row.ends_walk = step.edge == 2
    if stride is not None and stride > 0:
        row.stride_time = stride
        row.cadence = cadence_spm(stride)
    return row


class PelvisWalk:
    """Streaming walking-step analysis of aligned pelvis data (see the module docstring).

    Parameters
    ----------
    sampling_rate_hz : float
    gravity : float
        m/s².
    settings : WalkSettings, optional
    traces : bool
        Compute the steps' obliquity traces (``WalkStep.trace``; off: None, the attitude
        only as far as the other values need it).
    """

    def __init__(
        self,
        sampling_rate_hz: float,
        *,
        gravity: float = STANDARD_GRAVITY,
        settings: WalkSettings | None = None,
        traces: bool = True,
    ) -> None:
        s = settings or WalkSettings()
        self.settings = s
        self.traces = traces
        self.fs = float(sampling_rate_hz)
        self.gravity = float(gravity)
        ctx_before = walk_context_s(max_step_s=s.max_step_s, before=True)
        ctx = walk_context_s(max_step_s=s.max_step_s)
        if s.pad_s < ctx_before or s.lookahead_s < ctx:
            raise ValueError(
                f"pad_s and lookahead_s must be at least {ctx_before:.2f} s and {ctx:.2f} s"
            )
        self._W = samples_for(s.epoch_s, sampling_rate_hz=self.fs)
        self._P = samples_for(s.pad_s, sampling_rate_hz=self.fs)
        self._L = samples_for(s.lookahead_s, sampling_rate_hz=self.fs)
        self._fl_level2 = walk_flight_level(gravity=self.gravity) ** 2
        self._segment = 0
        self._open = False
        self._steps: list[WalkStep] = []  # the last decided ones (vote context) + pending
        self._n_decided = 0  # steps of _steps before this index are decided
        self._out: list[WalkStep] = []
        self._run = 0
        self._step_T: float | None = None  # the recent step time (half a stride), s
        self._step_dts: list[float] = []  # the last two linked step times, s
        self._t_done = -math.inf  # epochs own the data before this time: no later peak there
        self.n_steps = 0

    # ------------------------------------------------------------------ input
    def feed(
        self,
        t: np.ndarray,
        acc_b: np.ndarray,
        gyr_b: np.ndarray,
        gap: np.ndarray,
        sat: np.ndarray,
        *,
        new_segment: bool,
        chain: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        """Append aligned samples (body frame ``ap, ml, vt``: m/s², deg/s) of a segment.

        ``chain``: the samples' gyroscope chain from the segment start and the running sum of
        the specific force in its frame (``q`` and ``cs`` of
        :class:`dsp.pelvis_segment.SegmentSamples`, whose segments these are), if the caller
        has them; else they are computed here the same way.
        """
        if new_segment and self._open:
            self.close_segment()
        if not self._open:
            self._open = True
            self._segment += 1
            self._base = 0
            self._n = 0
            self._epoch = 0
            self._t = np.empty(0)
            self._acc = np.empty((0, 3))
            self._gyr = np.empty((0, 3))
            self._q = np.empty((0, 4))
            self._cs = np.empty((0, 3))
            self._gap = np.empty(0, dtype=bool)
            self._sat = np.empty(0, dtype=bool)
            # the runs of raw flight samples (running) of the segment: first and after last
            # sample, segment indices (found once per fed block, for may_hold_walk_runs)
            self._fl_s = np.empty(0, dtype=np.intp)
            self._fl_e = np.empty(0, dtype=np.intp)
            self._nrm2 = np.empty(0)
            self._chain = GyroChain()
            self._cs_next = np.zeros(3)
        if chain is None:
            q, cs, self._cs_next = chain_sums(self._chain, self._cs_next, t, acc_b, gyr_b)
        else:
            q, cs = chain
        self._t = np.concatenate((self._t, t))
        self._acc = np.concatenate((self._acc, acc_b))
        self._gyr = np.concatenate((self._gyr, gyr_b))
        self._q = np.concatenate((self._q, q))
        self._cs = np.concatenate((self._cs, cs))
        self._gap = np.concatenate((self._gap, gap))
        self._sat = np.concatenate((self._sat, sat))
        # the squared specific-force magnitude, once per sample (the walking steps' signal),
        # and its runs of raw flight samples (running), for the cheap test of may_hold_walk
        nrm2 = np.einsum("ij,ij->i", acc_b, acc_b)
        self._nrm2 = np.concatenate((self._nrm2, nrm2))
        s_new, e_new = flight_runs(nrm2 < self._fl_level2)
        s_new, e_new = s_new + self._n, e_new + self._n
        if s_new.size and self._fl_e.size and self._fl_e[-1] == self._n and s_new[0] == self._n:
            self._fl_e[-1] = e_new[0]  # a run going on from the last block
            s_new, e_new = s_new[1:], e_new[1:]
        self._fl_s = np.concatenate((self._fl_s, s_new))
        self._fl_e = np.concatenate((self._fl_e, e_new))
        self._n += t.shape[0]
        self._advance(final=False)

    def close_segment(self) -> None:
        """The segment ended (a long gap, or the end of the data)."""
        if not self._open:
            return
        self._advance(final=True)
        self._open = False
        self._t_done = math.inf
        self._decide(closed=True)
        self._t_done = -math.inf

    def horizon_s(self, pending: list[WalkStep]) -> float:
        """Earliest contact time a walking step not yet turned into a row can have, s (its
        caller's ``pending`` steps, the undecided ones, and those of epochs still to come)."""
        ts = [st.t_ic for st in pending]
        ts += [st.t_ic for st in self._out]
        ts += [st.t_ic for st in self._steps[self._n_decided :]]
        ts.append(self._t_done - self.settings.max_step_s)
        return min(ts)

    def take(self, *, final: bool = False) -> list[WalkStep]:
        """The steps whose side is decided since the last call, in time order."""
        if final:
            self.close_segment()
        out, self._out = self._out, []
        return out

    # ------------------------------------------------------------------ epochs
    def _advance(self, *, final: bool) -> None:
        W, P, L, n = self._W, self._P, self._L, self._n
        while True:
            k = self._epoch
            lo_own, hi_own = k * W, (k + 1) * W
            if lo_own >= n or (not final and hi_own + L > n):
                break
            self._analyse(max(0, lo_own - P), min(n, hi_own + L), lo_own, hi_own)
            self._epoch += 1
            self._t_done = float(self._t[min(hi_own, n) - 1 - self._base])
            cut = max(0, self._epoch * W - P) - self._base
            if cut > 0:
                self._t = self._t[cut:]
                self._acc = self._acc[cut:]
                self._gyr = self._gyr[cut:]
                self._q = self._q[cut:]
                self._cs = self._cs[cut:]
                self._gap = self._gap[cut:]
                self._sat = self._sat[cut:]
                old = int(np.searchsorted(self._fl_e, self._base + cut, side="right"))
                self._fl_s, self._fl_e = self._fl_s[old:], self._fl_e[old:]
                self._nrm2 = self._nrm2[cut:]
                self._base += cut
        self._decide(closed=False)

    def _analyse(self, lo: int, hi: int, lo_own: int, hi_own: int) -> None:
        b = self._base
        t = self._t[lo - b : hi - b]
        acc = self._acc[lo - b : hi - b]
        g = self.gravity
        # the window's runs of flight: those of the segment it overlaps, cut at its edges
        j0 = int(np.searchsorted(self._fl_e, lo, side="right"))
        j1 = int(np.searchsorted(self._fl_s, hi, side="left"))
        fs_w = np.maximum(self._fl_s[j0:j1], lo) - lo
        fe_w = np.minimum(self._fl_e[j0:j1], hi) - lo
        if not may_hold_walk_runs(fs_w, fe_w, hi - lo, sampling_rate_hz=self.fs):
            return  # running: a flight phase every step
        nrm = np.sqrt(self._nrm2[lo - b : hi - b])
        w = detect_walk_steps(
            t,
            nrm,
            sampling_rate_hz=self.fs,
            max_step_s=self.settings.max_step_s,
            closing_rest_s=self.settings.closing_rest_s,
            gravity=g,
        )
        if not len(w):
            return
        own = np.flatnonzero((w.i_peak + lo >= lo_own) & (w.i_peak + lo < hi_own))
        if not own.size:
            return
        gyr = self._gyr[lo - b : hi - b]
        gap = self._gap[lo - b : hi - b]
        sat = self._sat[lo - b : hi - b]
        tic = w.t_ic
        k = len(w)
        dmax = self.settings.max_step_s
        nxt = np.full(k, np.nan)
        if k > 1:
            d = np.diff(tic)
            # the step after a walk's weak last step is not its next contact: the walks stay
            # apart (their sides are voted on apart)
            apart = w.edge[:-1] > 0
            nxt[:-1] = np.where((d <= dmax) & ~apart, tic[1:], np.nan)
        nxt2 = np.full(k, np.nan)
        if k > 2:
            nxt2[:-2] = np.where(np.isfinite(nxt[:-2]) & np.isfinite(nxt[1:-1]), tic[2:], np.nan)
        ctx = _Window(t, gyr, gap, sat, None, None, None)
        made: list[tuple[WalkStep, int, int]] = []  # the new steps, i0, i1 (see _new_step)
        for j in own.tolist():
            if j > 0 and tic[j] - tic[j - 1] <= dmax:
                t_prev = float(tic[j - 1])
            else:
                t_prev = math.nan
            fill = self._turn_fill(ctx, float(tic[j]))
            if fill is not None:
                # the missed contact of a turn, half-way between the last step and this one
                fst = self._new_step(
                    ctx,
                    fill,
                    int(np.searchsorted(t, fill)),
                    self._steps[-1].t_ic,
                    tic[j],
                    nxt[j],
                    int(w.i_ic[j]),
                    edge=0,
                )
                made.append((fst, int(np.searchsorted(t, fill)), int(w.i_ic[j])))
                self._link_fill(fst)
                self._steps.append(fst)
                self.n_steps += 1
                t_prev = fill
            i1 = int(w.i_ic[j + 1]) if j + 1 < k else -1
            st = self._new_step(
                ctx,
                float(tic[j]),
                int(w.i_ic[j]),
                t_prev,
                nxt[j],
                nxt2[j],
                i1,
                edge=int(w.edge[j]),
            )
            made.append((st, int(w.i_ic[j]), i1))
            self._link(st)
            self._steps.append(st)
            self.n_steps += 1
        # the attitude of the samples the new steps use (the rest of the window is context)
        need = [r for st, i0, i1 in made if (r := self._rows_needed(t, st, i0, i1)) is not None]
        if not need:
            return
        r0, r1 = min(r[0] for r in need), max(r[1] for r in need)
        rows = chained_stride_rows(
            t,
            acc,
            self._q[lo - b : hi - b],
            self._cs[lo - b : hi - b],
            w.i_ic,
            (r0, r1),
            gravity=g,
        )
        if rows is None:
            return
        n = t.shape[0]
        obl, lat, a_z = (np.full(n, np.nan) for _ in range(3))
        obl[r0 : r1 + 1], lat[r0 : r1 + 1], a_z[r0 : r1 + 1] = rows
        ctx = _Window(t, gyr, gap, sat, obl, lat, a_z)
        for st, i0, i1 in made:
            self._step_values(ctx, st, i0, i1)

    def _turn_fill(self, ctx: _Window, t_ic: float) -> float | None:
        """The time of a contact missed in a turn before the contact ``t_ic``, or None.

        Turning steps are short and their vertical bounce fades (the pelvis pivots over the
        stance foot instead of vaulting over it), so a contact of a turn is often not found:
        the run then shows an interval of about two of its steps between two found contacts.
        A contact is put half-way into an interval of ``turn_fill_ratio`` times the run's
        step time (half its last stride) over which the pelvis turns at ``turn_fill_dps`` or
        more on average (straight walking's yaw oscillation averages out over a step). A
        long step in a straight walk (a hesitation, uneven left and right steps) turns the
        pelvis little and gets no contact; standing and turning on the spot make no run, so
        nothing is filled there. Only after a run's regular steps (a stride at least), in one
        segment, not after a walk's weak last step.
        """
        s = self.settings
        if self._step_T is None or len(self._step_dts) < 2 or not self._steps:
            return None
        prev = self._steps[-1]
        if prev.segment != self._segment or prev.edge > 0:
            return None
        dt = t_ic - prev.t_ic
        lo, hi = s.turn_fill_ratio
        if not (lo * self._step_T <= dt <= hi * self._step_T):
            return None
        t = ctx.t
        ia, ib = int(np.searchsorted(t, prev.t_ic)), int(np.searchsorted(t, t_ic))
        if ia == 0 or ib - ia < 4:
            return None  # the interval is not wholly in this window
        if abs(float(ctx.gyr[ia:ib, 2].mean())) < s.turn_fill_dps:
            return None
        return prev.t_ic + 0.5 * dt

    def _new_step(
        self,
        ctx: _Window,
        t_ic: float,
        i0: int,
        t_prev: float,
        next_ic: float,
        next2_ic: float,
        i1: int,
        *,
        edge: int,
    ) -> WalkStep:
        """A step and its flags from the window (``i0``, ``i1``: samples at or just after its
        contact and the next one; ``t_prev``: the previous contact, nan if none); the values
        that need the attitude come with :meth:`_step_values`."""
        t, n = ctx.t, ctx.t.shape[0]
        nan = math.nan
        st = WalkStep(
            t_ic=float(t_ic),
            next_ic=float(next_ic),
            next2_ic=float(next2_ic),
            obl_max=nan,
            obl_min=nan,
            obl_ic=nan,
            obl_mean=nan,
            lat_mean=nan,
            vo_cm=nan,
            segment=self._segment,
            edge=edge,
        )
        if math.isfinite(t_prev):
            ia = int(np.searchsorted(t, t_ic - self.settings.yaw_window_step * (t_ic - t_prev)))
            st.yaw_rate = float(ctx.gyr[ia : i0 + 1, 2].mean())
        if math.isfinite(st.next_ic):
            i_end = self._stance_end(t, st)
            # lost samples (bridged) from the reach of the contact's smoothing before it to
            # the next contact: its timing or its values came through them
            i_lo = min(i0 - 2, int(np.searchsorted(t, t_ic - WALK_SMOOTH_S)))
            if ctx.gap[max(0, i_lo) : min(n, i1 + 3)].any():
                st.flags.append("gap")
            if ctx.sat[i0 : i_end + 1].any():
                st.flags.append("saturated")
        return st

    def _stance_end(self, t: np.ndarray, st: WalkStep) -> int:
        """The last sample of a step's stance (``stance_end_step`` after the next contact)."""
        t_end = st.next_ic + self.settings.stance_end_step * (st.next_ic - st.t_ic)
        return min(t.shape[0] - 1, int(np.searchsorted(t, t_end)))

    def _rows_needed(self, t: np.ndarray, st: WalkStep, i0: int, i1: int) -> tuple[int, int] | None:
        """The first and last sample whose attitude :meth:`_step_values` reads for a step
        (None: it reads none)."""
        if not math.isfinite(st.next_ic):
            return None
        i_end = self._stance_end(t, st)
        if i_end <= i0:
            return None
        hi = max(i_end, i1)
        if self.traces and math.isfinite(st.next2_ic) and st.next2_ic <= t[-1]:  # the trace
            hi = max(hi, min(t.shape[0] - 1, int(np.searchsorted(t, st.next2_ic))))
        return max(0, i0 - 1), hi

    def _step_values(self, ctx: _Window, st: WalkStep, i0: int, i1: int) -> None:
        """A step's obliquity statistics and trace, side cue and vertical oscillation, from
        the window's attitude (arguments as :meth:`_new_step`)."""
        t = ctx.t
        obl, lat, a_z = ctx.obl, ctx.lat, ctx.a_z
        if not math.isfinite(st.next_ic) or obl is None or lat is None or a_z is None:
            return
        i_end = self._stance_end(t, st)
        if i_end <= i0:
            return
        seg = obl[i0 : i_end + 1]
        st.obl_max, st.obl_min = float(seg.max()), float(seg.min())
        st.obl_mean = float(seg.mean())
        st.lat_mean = float(lat[i0 : i_end + 1].mean())
        st.obl_ic = float(
            np.interp(st.t_ic, t[max(0, i0 - 1) : i0 + 1], obl[max(0, i0 - 1) : i0 + 1])
        )
        if i1 - i0 >= 4:
            st.vo_cm = _one_step_ptp_cm(t, a_z, i0, i1)
        if self.traces and math.isfinite(st.next2_ic) and st.next2_ic <= t[-1]:
            pts = np.linspace(st.t_ic, st.next2_ic, 101)
            st.trace = np.interp(pts, t, obl)

    def _link_fill(self, st: WalkStep) -> None:
        """Run and step number of a filled contact: the next step of the last step's run."""
        prev = self._steps[-1]
        st.run, st.step_no = prev.run, prev.step_no + 1
        self._step_dts = [*self._step_dts, st.t_ic - prev.t_ic][-2:]
        self._step_T = float(np.mean(self._step_dts))

    def _link(self, st: WalkStep) -> None:
        """Run and step number: as the previous step's next contact, or a whole number of
        steps after it (missed steps), else a new run."""
        prev = self._steps[-1] if self._steps else None
        if prev is None or prev.segment != st.segment or prev.edge > 0:
            self._run += 1
            st.run, st.step_no = self._run, 0
            self._step_T, self._step_dts = None, []
            return
        dt = st.t_ic - prev.t_ic
        x = dt / self._step_T if self._step_T else math.inf
        kk = round(x) if math.isfinite(x) else 0
        if math.isfinite(prev.next_ic) and abs(prev.next_ic - st.t_ic) < 1e-6:
            # the next detected contact; twice the step time after the last one (short,
            # weak steps in a turn): one contact was missed between them, the run goes on.
            # The step time is half the last stride (the mean of the last two steps), not one
            # step: real contacts come early and late alternately by up to 0.1 s, and
            # steps of a limp alternate short and long, so a short step taken as the step
            # time made the next normal one "two steps", flipping the sides of the run
            if kk >= 2 and abs(x - kk) < 0.2 and len(self._step_dts) >= 2:
                st.run, st.step_no = prev.run, prev.step_no + kk
                self._step_dts += [dt / kk] * kk
            else:
                st.run, st.step_no = prev.run, prev.step_no + 1
                self._step_dts.append(dt)
            self._step_dts = self._step_dts[-2:]
            self._step_T = float(np.mean(self._step_dts))
            return
        if 1 <= kk <= 4 and abs(x - kk) < 0.2:
            st.run, st.step_no = prev.run, prev.step_no + kk
            return
        self._run += 1
        st.run, st.step_no = self._run, prev.step_no + 1
        self._step_T, self._step_dts = None, []

    # ------------------------------------------------------------------ sides
    def _decide(self, *, closed: bool) -> None:
        steps = self._steps
        if self._n_decided >= len(steps):
            return
        hw = self.settings.side_half_window
        run = np.array([s.run for s in steps])
        left, _ = assign_sides(
            np.array([s.obl_mean if self.settings.obliquity_cue else math.nan for s in steps]),
            np.array([s.lat_mean for s in steps]),
            run,
            step_no=np.array([s.step_no for s in steps]),
            half_window=hw,
            yaw_rate=np.array([s.yaw_rate for s in steps]) if self.settings.yaw_cue else None,
        )
        last = steps[-1]
        # the last run can still grow while a step may join it: up to 4 steps after its last
        # contact (missed steps), peaks up to a step after the contact
        can_grow = not closed and self._t_done < last.t_ic + 5.0 * self.settings.max_step_s
        j = self._n_decided
        while j < len(steps):
            st = steps[j]
            ahead = sum(1 for s in steps[j + 1 : j + 1 + hw] if s.run == st.run)
            if ahead < hw and st.run == last.run and can_grow:
                break
            st.left = bool(left[j])
            self._out.append(st)
            j += 1
        self._n_decided = j
        keep = max(0, j - hw)
        if keep:
            del steps[:keep]
            self._n_decided -= keep
