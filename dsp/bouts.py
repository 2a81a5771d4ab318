"""Activity bouts of a session: standing, walking, running, other.

A session is cut into bouts (analysis-output v1, SUMMARY.json ``bouts``) from whatever sensors
are present:

* **steps**: every row of every sensor carries its activity (``ContactRow.activity``): a pelvis
  step is ``run`` when its contact has a flight phase (:func:`dsp.pelvis_events.detect_stances`)
  and ``walk`` when it is a walking step (:func:`dsp.pelvis_events.detect_walk_steps`); a foot
  contact is classified by :func:`foot_activity` (from its contact time).
  Consecutive steps of one activity, less than ``max_step_gap_s`` apart, form a bout from the
  first contact to one step after the last (the step lasts until the next contact), or to the
  last contact itself when it closes a walk (``ContactRow.ends_walk``: the trailing foot set
  down beside the other, the walker still after it; :mod:`dsp.pelvis_walk`);
* **motion**: the time between step bouts is ``stand`` where the sensors are still (every
  sensor with data in a 1 s epoch rotates slower than ``still_max_dps`` and its
  specific-force magnitude varies by less than ``still_acc_range_g``), else ``other``
  (sitting down, shuffling, turning on the spot...); stretches shorter than
  ``min_stretch_s`` take the label of the stretch before them. A still sensor cannot tell
  standing from sitting still: both are ``stand``.
  Pauses shorter than ``min_pause_s`` between bouts of one activity do not break it, and
  fewer than ``min_bout_steps`` contacts of one activity (a switch's stride seen by one
  sensor, a hop, a lone flight contact while sitting down) make no bout: their rows keep
  their own ``activity``, the time goes to the bouts around them.

The bouts cover the recording without overlap; when the data end less than
``max_step_gap_s`` after the last contact, the last bout runs to the end (it was cut, not
ended). :class:`BoutTracker` collects the steps and
the motion epochs as a session is fed (any block sizes, any order of the sensors: epochs are
fixed 1 s slices of the shared time base, reduced by max/min, so they do not depend on the
chunking) and :meth:`BoutTracker.bouts` segments what it has: streaming = batch. The bouts of
a stream change only at its end (the last, open bout) until the data move on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dsp.block import STANDARD_GRAVITY
from dsp.contact import ContactRow
from dsp.filters import rows_all

#: A foot contact shorter than this is running, s (walking: over half a stride of >= 0.9 s).
MAX_RUN_CONTACT_S = 0.42

__all__ = [
    "ACTIVITIES",
    "Bout",
    "BoutSettings",
    "BoutTracker",
    "block_motion",
    "foot_activity",
    "segment_bouts",
]

#: The activities of a bout; rows carry only ``walk`` or ``run``.
ACTIVITIES = ("stand", "walk", "run", "other")


@dataclass(frozen=True)
class Bout:
    """One bout: ``[t0, t1)`` s on the recording's time base."""

    t0: float
    t1: float
    activity: str

    def as_dict(self) -> dict[str, object]:
        """``{"t0", "t1", "activity"}`` as in SUMMARY.json (times rounded to ms)."""
        return {"t0": round(self.t0, 3), "t1": round(self.t1, 3), "activity": self.activity}


@dataclass(frozen=True)
class BoutSettings:
    """Settings of the bout segmentation (times in s).

    Attributes
    ----------
    epoch_s : float
        Motion epoch length.
    still_max_dps : float
        An epoch is still when every sensor's rotation rate stays below this, deg/s.
    still_acc_range_g : float
        ... and its specific-force magnitude varies by less than this, g.
    min_stretch_s : float
        Shorter stretches of standing or other motion between step bouts join the one before.
    max_step_gap_s : float
        Longest time between two contacts of one bout (pooled over the sensors).
    min_pause_s : float
        Shorter pauses between two bouts of one activity are part of the bout.
    min_bout_steps : int
        Fewer contacts of one activity (after merging the sensors' views of one contact) are
        not a bout: their time goes to the bouts around them.
    max_run_contact_s : float
        A foot contact shorter than this is running (:func:`foot_activity`), s.
    """

    epoch_s: float = 1.0
    still_max_dps: float = 25.0
    still_acc_range_g: float = 0.2
    min_stretch_s: float = 2.0
    max_step_gap_s: float = 1.5
    min_pause_s: float = 1.0
    min_bout_steps: int = 3
    max_run_contact_s: float = MAX_RUN_CONTACT_S


def foot_activity(row: ContactRow, settings: BoutSettings | None = None) -> str | None:
    """``run`` or ``walk`` for a foot contact (``None`` without a contact time).

    From the contact time alone, so that a contact's early row (released before its flight
    time and stride time are known, for alerts) and its row get the same activity: a walking
    foot is on the ground for more than half of a stride of at least 0.9 s (over 0.45 s), a
    running foot for less than half of a stride of at most 0.8 s (under 0.4 s, well under at
    any running speed); ``max_run_contact_s`` lies between.
    """
    s = settings or BoutSettings()
    ct = row.contact_time
    if ct is None or not math.isfinite(ct) or "rejected" in row.flags:
        return None
    return "run" if ct < s.max_run_contact_s else "walk"


def segment_bouts(
    steps: list[tuple[float, str]],
    still: dict[int, bool],
    *,
    t_start: float,
    t_end: float,
    settings: BoutSettings | None = None,
    walk_ends: list[float] | tuple[float, ...] = (),
) -> list[Bout]:
    """Bouts covering ``[t_start, t_end)`` (see the module docstring).

    Parameters
    ----------
    steps : list of (t_ic, activity)
        Contacts of every sensor (``walk`` or ``run``), any order.
    walk_ends : list of float
        Contacts that close a walk (``ContactRow.ends_walk``), s: a walking bout whose last
        contact is one of them (within the 0.15 s of one contact seen by several sensors)
        ends at its last contact, not a step later.
    still : dict
        Motion epoch index (``floor(t / epoch_s)``) -> the sensors were still in it.
    t_start, t_end : float
        The recording's span, s.
    settings : BoutSettings, optional
    """
    s = settings or BoutSettings()
    if not t_end > t_start:
        return []
    st = sorted((t, a) for t, a in steps if a in ("walk", "run") and t_start <= t <= t_end)

    def group(items: list[tuple[float, str]]) -> list[list]:
        # step bouts: runs of one activity with contacts close together
        raw: list[list] = []  # [t_first, t_last, activity, contact times]
        for t, a in items:
            if raw and raw[-1][2] == a and t - raw[-1][1] <= s.max_step_gap_s:
                raw[-1][1] = t
                raw[-1][3].append(t)
                continue
            raw.append([t, t, a, [t]])
        return raw

    def distinct(ts: list[float]) -> list[float]:
        # one contact seen by several sensors counts once (within 0.15 s)
        u = sorted(ts)
        keep = [u[0]]
        for x in u[1:]:
            if x - keep[-1] > 0.15:
                keep.append(x)
        return keep

    # a few contacts of another activity inside a bout (the stride of a switch seen by one
    # sensor, a hop) do not make a bout of their own
    raw = group(st)
    small = {id(g) for g in raw if len(distinct(g[3])) < s.min_bout_steps}
    if small:
        raw = group([(t, g[2]) for g in raw if id(g) not in small for t in g[3]])
    ends = np.sort(np.asarray(walk_ends, dtype=np.float64))
    spans: list[Bout] = []
    for t0, t1, a, ts in raw:
        keep = distinct(ts)
        step = float(np.median(np.diff(keep))) if len(keep) > 1 else s.max_step_gap_s / 2
        if a == "walk" and len(keep) > 1 and _closes(ends, keep[-1], t1):
            spans.append(Bout(t0, t1, a))  # the walk stopped on its closing contact
            continue
        spans.append(Bout(t0, min(t_end, t1 + min(step, s.max_step_gap_s)), a))
    # bouts of one activity with a short pause between them are one bout
    merged: list[Bout] = []
    for b in spans:
        if merged and merged[-1].activity == b.activity and b.t0 - merged[-1].t1 < s.min_pause_s:
            merged[-1] = Bout(merged[-1].t0, max(merged[-1].t1, b.t1), b.activity)
        elif merged and b.t0 < merged[-1].t1:  # a switch: the new bout starts at its contact
            merged[-1] = Bout(merged[-1].t0, b.t0, merged[-1].activity)
            merged.append(b)
        else:
            merged.append(b)
    merged = [b for b in merged if b.t1 > b.t0]
    # the time between: standing or other
    out: list[Bout] = []
    cursor = float(t_start)

    def add(a: float, b: float, act: str) -> None:
        if b - a <= 1e-9:
            return
        if out and out[-1].activity == act:
            out[-1] = Bout(out[-1].t0, b, act)
        else:
            out.append(Bout(a, b, act))

    def pause(a: float, b: float) -> None:
        if b - a <= 1e-9:
            return
        if out and out[-1].activity in ("walk", "run") and b - a < 0.5:
            out[-1] = Bout(out[-1].t0, b, out[-1].activity)  # a sliver: the bout before
            return
        # per epoch still (stand) or not (other); stretches shorter than min_stretch_s take
        # the label of the stretch before them (or after, at the start)
        e0 = math.floor(a / s.epoch_s)
        e1 = max(e0 + 1, math.ceil(b / s.epoch_s))
        labels = ["stand" if still.get(e, False) else "other" for e in range(e0, e1)]
        runs: list[list] = []  # [start, end (s, within the pause), label]
        for k, lab in enumerate(labels):
            lo, hi = max(a, (e0 + k) * s.epoch_s), min(b, (e0 + k + 1) * s.epoch_s)
            if runs and runs[-1][2] == lab:
                runs[-1][1] = hi
            else:
                runs.append([lo, hi, lab])
        short = s.min_stretch_s - 1e-9
        merged_runs: list[list] = []
        for r in runs:
            if merged_runs and (r[1] - r[0] < short or merged_runs[-1][2] == r[2]):
                merged_runs[-1][1] = r[1]
            else:
                merged_runs.append(list(r))
        if len(merged_runs) > 1 and merged_runs[0][1] - merged_runs[0][0] < short:
            merged_runs[1][0] = merged_runs[0][0]
            merged_runs.pop(0)
        for r in merged_runs:
            add(r[0], r[1], r[2])

    for b in merged:
        pause(cursor, b.t0)
        if out and out[-1].activity == b.activity and b.t0 - out[-1].t1 < 1e-9:
            out[-1] = Bout(out[-1].t0, b.t1, b.activity)
        else:
            out.append(Bout(max(cursor, b.t0), b.t1, b.activity))
        cursor = b.t1
    if merged and float(t_end) - cursor < s.max_step_gap_s:
        # the data end within a step's gap of the last contact: the bout was cut, not ended
        out[-1] = Bout(out[-1].t0, float(t_end), out[-1].activity)
    else:
        pause(cursor, float(t_end))
    return out


def _closes(ends: np.ndarray, lo: float, hi: float) -> bool:
    """Some contact of ``ends`` (sorted) lies in ``[lo, hi]`` (the last contact, seen by one
    sensor or several)."""
    i = int(np.searchsorted(ends, lo - 1e-9))
    return i < ends.size and ends[i] <= hi + 1e-9


def block_motion(
    t: np.ndarray, acc: np.ndarray, gyr: np.ndarray, *, epoch_s: float = 1.0
) -> dict[int, tuple[float, float, float]]:
    """Motion of a block per epoch (``floor(t / epoch_s)``): the largest rotation rate
    (deg/s) and the smallest and largest specific-force magnitude (m/s²). Max and min, so the
    epochs of a sensor merged over any blocks are the same."""
    ok = np.isfinite(t) & rows_all(np.isfinite(acc)) & rows_all(np.isfinite(gyr))
    if not ok.all():
        t, acc, gyr = t[ok], acc[ok], gyr[ok]
    if t.shape[0] == 0:
        return {}
    e = np.floor(t / epoch_s).astype(np.int64)
    gn = np.sqrt(np.einsum("ij,ij->i", gyr, gyr))
    an = np.sqrt(np.einsum("ij,ij->i", acc, acc))
    starts = np.concatenate(([0], np.flatnonzero(np.diff(e)) + 1))
    gmax = np.maximum.reduceat(gn, starts).tolist()
    amin = np.minimum.reduceat(an, starts).tolist()
    amax = np.maximum.reduceat(an, starts).tolist()
    out: dict[int, tuple[float, float, float]] = {}
    for k, i in enumerate(starts.tolist()):
        v = (gmax[k], amin[k], amax[k])
        old = out.get(int(e[i]))
        if old is not None:  # times not increasing: merge
            v = (max(old[0], v[0]), min(old[1], v[1]), max(old[2], v[2]))
        out[int(e[i])] = v
    return out


class BoutTracker:
    """Collects steps and motion epochs of a session and segments them (module docstring)."""

    def __init__(self, settings: BoutSettings | None = None, *, gravity: float = STANDARD_GRAVITY):
        self.settings = settings or BoutSettings()
        self._g = float(gravity)
        self._steps: list[tuple[float, str]] = []
        self._walk_ends: list[float] = []
        # epoch -> sensor -> (max gyro norm, min |f|, max |f|)
        self._epochs: dict[int, dict[str, tuple[float, float, float]]] = {}
        self._t0 = math.inf
        self._t1 = -math.inf

    def add_motion(self, sensor_id: str, motion: dict[int, tuple[float, float, float]]) -> None:
        """One sensor's :func:`block_motion` of a block."""
        for e, v in motion.items():
            ep = self._epochs.setdefault(e, {})
            old = ep.get(sensor_id)
            if old is not None:
                v = (max(old[0], v[0]), min(old[1], v[1]), max(old[2], v[2]))
            ep[sensor_id] = v
            t0, t1 = e * self.settings.epoch_s, (e + 1) * self.settings.epoch_s
            self._t0 = min(self._t0, t0)
            self._t1 = max(self._t1, t1)

    def set_span(self, t0: float, t1: float) -> None:
        """The data span (s): the bouts cover it (default: the motion epochs seen)."""
        self._span = (float(t0), float(t1))

    def add_rows(self, rows: list[ContactRow]) -> None:
        """Rows released by the session (their ``activity`` set)."""
        for r in rows:
            if r.activity in ("walk", "run"):
                self._steps.append((float(r.t_ic), r.activity))
                if r.ends_walk:
                    self._walk_ends.append(float(r.t_ic))

    def still(self) -> dict[int, bool]:
        """Epoch -> every sensor with data in it was still."""
        s = self.settings
        out = {}
        for e, per in self._epochs.items():
            out[e] = all(
                g < s.still_max_dps and (a1 - a0) < s.still_acc_range_g * self._g
                for g, a0, a1 in per.values()
            )
        return out

    def bouts(self, t_start: float | None = None, t_end: float | None = None) -> list[Bout]:
        """Bouts from the steps and motion so far, over ``[t_start, t_end]`` (default: the
        span of the samples seen)."""
        span = getattr(self, "_span", (self._t0, self._t1))
        a = span[0] if t_start is None else float(t_start)
        b = span[1] if t_end is None else float(t_end)
        if not (math.isfinite(a) and math.isfinite(b)):
            return []
        return segment_bouts(
            self._steps,
            self.still(),
            t_start=a,
            t_end=b,
            settings=self.settings,
            walk_ends=self._walk_ends,
        )

    def current(self, t: float, *, recent_s: float = 3.0) -> str | None:
        """The activity at time ``t`` of the live stream: the activity of the last contacts
        when one came within ``recent_s`` before ``t``, else standing/other from the motion
        of the last epoch; ``None`` before any data."""
        if not math.isfinite(self._t1):
            return None
        last = max(self._steps, default=None)
        if last is not None and t - last[0] <= recent_s:
            return last[1]
        e = math.floor(t / self.settings.epoch_s) - 1
        st = self.still()
        if e in st:
            return "stand" if st[e] else "other"
        return None
