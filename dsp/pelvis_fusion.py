"""What the pelvis analyzer knows of the feet: their contacts, for fusion (step 6 of
:mod:`dsp.pelvis_analyzer`) and the side of the early rows (step 9).

When foot sensors are analysed in the same session, the session hands each foot's
:class:`dsp.feed.FeedResult` to the pelvis (``pelvis.feed(block, feet=[...])``, after every call
of a foot analyzer). :class:`FeetFusion` keeps, per foot (:class:`FootTrack`), the contacts it
detected, its rows and early rows, and its watermarks, and answers the pelvis' questions:

* :meth:`FeetFusion.decide_early`: which foot contact gives an early record its side and events
  (the nearest foot early row, not rejected, within ``tolerance_s``), once every foot's
  watermark is past it;
* :meth:`FeetFusion.ready`: whether every foot has decided about a step (a foot that detected
  no contact within ``silence_s`` after it was silent and is left out);
* :meth:`FeetFusion.match` and :meth:`FeetFusion.stride`: the foot row that replaces a step's
  events, and its stride time.

Every rule looks at data times only, so any chunking and any order of the sensors' blocks give
the same answers.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from dsp.feed import FeedResult

__all__ = ["FeetFusion", "FootTrack"]


@dataclass
class FootTrack:
    """One foot as the pelvis knows it (times in s).

    Attributes
    ----------
    side : str
    rows : list of (t_ic, t_to, stride_time, rejected)
        The foot's rows, in IC order (``ics`` holds their IC times).
    detected : list of float
        Contacts detected (before their rows), sorted; until the foot's ``finish()``.
    wm : float
        Last finite watermark (contacts before it are known).
    wm_now : float
        The latest watermark (``inf`` once the foot has finished).
    row_pre : float
        Latest row IC reported before the foot's ``finish()``.
    skipped : int
        Steps for which the foot was left out (silent).
    early, early_t : list
        The foot's first early rows ``(t_ic, t_to, rejected)`` and their IC times, sorted.
    """

    side: str
    rows: list[tuple[float, float | None, float | None, bool]] = field(default_factory=list)
    ics: list[float] = field(default_factory=list)
    detected: list[float] = field(default_factory=list)
    wm: float = -math.inf
    wm_now: float = -math.inf
    row_pre: float = -math.inf
    skipped: int = 0
    early: list[tuple[float, float, bool]] = field(default_factory=list)
    early_t: list[float] = field(default_factory=list)


class FeetFusion:
    """The feet of a session as seen by the pelvis (see the module docstring).

    Parameters
    ----------
    feet : mapping
        Foot sensor id -> side (``left``/``right``).
    tolerance_s : float
        Largest distance between a pelvis contact and the foot contact that replaces it, s.
    silence_s : float
        A foot takes part in a step only if it detected a contact within this time after it, s.
    lockstep : bool
        The sensors are fed together in time (at most ``feed_skew_s`` apart): a silent foot
        is given up on once the pelvis data are ``silence_s + feed_skew_s`` past the step.
    feed_skew_s : float
    """

    def __init__(
        self,
        feet: Mapping[str, str],
        *,
        tolerance_s: float,
        silence_s: float,
        lockstep: bool,
        feed_skew_s: float,
    ) -> None:
        self.tracks: dict[str, FootTrack] = {sid: FootTrack(str(s)) for sid, s in feet.items()}
        self.tolerance_s = float(tolerance_s)
        self.silence_s = float(silence_s)
        self.lockstep = bool(lockstep)
        self.feed_skew_s = float(feed_skew_s)

    def __bool__(self) -> bool:
        return bool(self.tracks)

    def skipped(self) -> dict[str, int]:
        """Steps for which each foot was left out (diagnostics)."""
        return {sid: tr.skipped for sid, tr in self.tracks.items()}

    def take(self, res: FeedResult) -> bool:
        """Note a foot's result (every call of its analyzer, in order). False: not a foot of
        this session."""
        tr = self.tracks.get(res.sensor_id)
        if tr is None:
            return False
        finished = res.watermark == math.inf
        det = tr.detected
        for t in () if finished else res.detected_ics:
            t = float(t)
            k = bisect.bisect_left(det, t)
            if k == len(det) or det[k] != t:  # each once, sorted
                det.insert(k, t)
        tr.wm_now = float(res.watermark)
        if math.isfinite(tr.wm_now) and tr.wm_now > tr.wm:
            tr.wm = tr.wm_now
        rows = res.rows
        if rows and not finished:
            tr.row_pre = max(tr.row_pre, max(r.t_ic for r in rows))
        # the foot's early rows (contacts just detected): the side of a step before its row
        for r in res.early_rows:
            if r.stride_time is not None:
                continue  # the contact's second early row (its stride time): already seen
            k = bisect.bisect_right(tr.early_t, r.t_ic)
            tr.early_t.insert(k, r.t_ic)
            tr.early.insert(k, (r.t_ic, r.t_to, "rejected" in r.flags))  # type: ignore[arg-type]
        lst, ics = tr.rows, tr.ics
        for r in rows:
            item = (r.t_ic, r.t_to, r.stride_time, "rejected" in r.flags)
            if ics and r.t_ic < ics[-1]:  # keep the list sorted (rows come in IC order)
                k = bisect.bisect_left(ics, r.t_ic)
                ics.insert(k, r.t_ic)
                lst.insert(k, item)
                continue
            ics.append(r.t_ic)
            lst.append(item)
        return True

    def decide_early(self, t_ic: float) -> tuple[bool, tuple[str, str, float, float] | None]:
        """The foot contact nearest to a contact at ``t_ic`` within ``tolerance_s`` (from the
        feet's early rows, not rejected): ``(decided, (sensor id, side, t_ic, t_to) or None)``.

        Decided once every foot's contacts up to there are known (its last finite watermark is
        past them): a contact a foot finds only at its end of data is left to the step's
        fusion (:meth:`match`), as it is in a live session where that foot went silent.
        """
        tol = self.tolerance_s
        for tr in self.tracks.values():
            if tr.wm <= t_ic + tol:
                return False, None
        best = None
        for sid, tr in self.tracks.items():
            ts = tr.early_t
            i = bisect.bisect_left(ts, t_ic - tol)
            while i < len(ts) and ts[i] <= t_ic + tol:
                f_ic, f_to, rej = tr.early[i]
                d = abs(f_ic - t_ic)
                if not rej and (best is None or d < best[0]):
                    best = (d, sid, f_ic, f_to)
                i += 1
        if best is None:
            return True, None
        return True, (best[1], self.tracks[best[1]].side, best[2], best[3])

    def ready(self, t: float, skip: set[str], *, now: float, final: bool) -> bool:
        """Whether every foot has decided about the step at ``t``; feet left out go to
        ``skip``.

        A foot takes part in the step if it detected a contact (before its ``finish()``) in
        ``(t + tol, t + silence_s]``: it was alive after the step. Then the step waits for
        that foot's rows of the contacts near it. Without such a contact the foot is left out,
        decided once its watermark passes the window, with ``lockstep`` once the pelvis data
        (``now``) are ``feed_skew_s`` past the window, or at the pelvis' ``finish()``
        (``final``) when its data reach past the window (steps in the last seconds use the
        feet's final rows).
        """
        tol, win = self.tolerance_s, self.silence_s
        for sid, tr in self.tracks.items():
            if sid in skip:
                continue
            wm = tr.wm  # last finite watermark: contacts before it are known
            det = tr.detected
            done = final or tr.wm_now == math.inf
            k = bisect.bisect_right(det, t + tol)
            alive = k < len(det) and det[k] <= t + win and det[k] < wm
            if alive:
                if done:
                    continue  # all its rows are in
                near = det[k - 1] if k and det[k - 1] >= t - tol else -math.inf
                if wm > t + tol and tr.row_pre >= near:
                    continue  # rows come in IC order: those near the step are in
                return False
            if (
                wm > t + win
                or (self.lockstep and math.isfinite(wm) and now >= t + win + self.feed_skew_s)
                or (final and now >= t + win)
            ):
                skip.add(sid)
                tr.skipped += 1
                continue
            if final:
                continue  # the data end inside the window: the foot's final rows are used
            return False
        return True

    def match(
        self, t: float, skip: set[str]
    ) -> tuple[str, str, float, float | None, float | None] | None:
        """The nearest foot row within ``tolerance_s`` of a step at ``t``, not rejected, of a
        foot not in ``skip``: ``(sensor id, side, t_ic, t_to, stride_time)``."""
        best = None
        tol = self.tolerance_s
        for sid, tr in self.tracks.items():
            if sid in skip:
                continue
            rows, ics = tr.rows, tr.ics
            i = bisect.bisect_left(ics, t - tol)
            while i < len(rows) and ics[i] <= t + tol:
                f_ic, f_to, stride, rej = rows[i]
                dtt = abs(f_ic - t)
                if not rej and (best is None or dtt < best[0]):
                    best = (dtt, sid, tr.side, f_ic, f_to, stride)
                i += 1
            # forget foot contacts long before this step (steps are released in time order)
            if i > 512:
                cut = bisect.bisect_left(ics, t - 10.0)
                if cut > 256:
                    del rows[:cut]
                    del ics[:cut]
        if best is None:
            return None
        return best[1], best[2], best[3], best[4], best[5]

    def stride(self, skip: set[str], sid: str, t_ic: float) -> float | None:
        """Stride time of the foot row of the contact at ``t_ic`` (None: rejected, not in,
        or the foot was left out of the step)."""
        tr = self.tracks.get(sid)
        if sid in skip or tr is None:
            return None
        ics = tr.ics
        i = bisect.bisect_left(ics, t_ic)
        if i < len(ics) and ics[i] == t_ic:
            _, _, stride, rej = tr.rows[i]
            return None if rej else stride
        return None

    def forget(self, old: float) -> None:
        """Drop detected contacts and rows before ``old`` (s) once the lists are long."""
        for tr in self.tracks.values():
            det = tr.detected
            if len(det) > 512:
                del det[: bisect.bisect_left(det, old)]
        for tr in self.tracks.values():
            ics = tr.ics
            if len(ics) > 512:
                cut = bisect.bisect_left(ics, old)
                del ics[:cut]
                del tr.rows[:cut]

    def forget_early(self, old: float) -> None:
        """Drop the feet's early rows before ``old`` (s) once the lists are long."""
        for tr in self.tracks.values():
            ts = tr.early_t
            if len(ts) > 512:
                k = bisect.bisect_left(ts, old)
                del ts[:k]
                del tr.early[:k]
