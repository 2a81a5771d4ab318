"""Findings first: what a runner should take from a session, in plain words and a runner's units.

A session is cut into **segments** at its markers and at its activity bouts (the ``activity``
column / SUMMARY ``bouts`` of the analysis, when present), so a median never mixes the strides
before a drill with those after it, nor walking with running. Per segment every metric gets its
typical value and a traffic light (:func:`dsp.form_ranges.rate`: the alert profile's limits,
else a published range), every alert rule the share of the segment's time it was on, and every
problem one evidence-based cue (:data:`CUES`). :func:`next_step` says in one sentence what to
work on next. Walking segments are shown, not judged against running limits.

Everything is computed from the stride table ``runform analyze`` writes (the same numbers).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dsp.form_ranges import Light, rate
from dsp.metrics import METRICS
from dsp.runner_metrics import contact_time_balance, foot_metrics, vertical_ratio

__all__ = [
    "ACTIVITY_WORDS",
    "CUES",
    "IMPERIAL",
    "MIN_CONTACTS",
    "UNITS",
    "Finding",
    "Segment",
    "alert_shares",
    "alert_shares_over",
    "contacts_per_sensor",
    "fmt",
    "in_units",
    "make_segments",
    "next_step",
    "running_contacts",
    "segment_findings",
    "share_cell",
    "summary_by_activity",
    "watched_alerts",
]

UNITS = ("metric", "imperial")
_MILE_M = 1609.344
_FOOT_M = 0.3048
_INCH_CM = 2.54
#: The fewest contacts of one sensor a stretch of running needs to be judged (a report
#: segment, :func:`make_segments`; an activity's Summary table, :func:`summary_by_activity`)
#: and a session to count in ``runform history``'s trends. Per sensor, as its medians are:
#: each sensor's are of its own contacts (a foot's strides, the pelvis's steps), and counted
#: over all sensors a 5 s run with three sensors (8 + 7 + 15 contacts) was judged.
MIN_CONTACTS = 20


# ----------------------------------------------------------------------------- units
def _clock(seconds: float) -> str:
    """``m:ss`` (rounded to the second, so never ``1:60``)."""
    s = round(seconds)
    return f"{s // 60}:{s % 60:02d}"


#: ``--units imperial``: a metric unit -> (factor, imperial unit) of the lengths and speeds
#: (the one place of these conversions: :func:`fmt`, the report's tables and the comparison's
#: sentences all use :func:`in_units`).
IMPERIAL = {
    "m": (1 / _FOOT_M, "ft"),
    "cm": (1 / _INCH_CM, "in"),
    "m/s": (3600 / _MILE_M, "mph"),
    "s/km": (_MILE_M / 1000, "s/mi"),
}


def in_units(v: float | None, unit: str, units: str = "metric") -> tuple[float | None, str]:
    """A value and its unit as ``--units`` asks: lengths and speeds in ft, in and mph with
    ``imperial`` (any other unit, and ``metric``, unchanged)."""
    if units != "imperial" or unit not in IMPERIAL:
        return v, unit
    factor, new = IMPERIAL[unit]
    return (None if v is None else v * factor), new


def fmt(key: str, v: float | None, units: str = "metric") -> str:
    """A value of a metric (canonical unit) as a runner reads it, with its unit."""
    if v is None or not math.isfinite(v):
        return "–"
    imperial = units == "imperial"
    if key == "pace":
        return f"{_clock(v * _MILE_M / 1000)} /mi" if imperial else f"{_clock(v)} /km"
    if key == "distance":
        return f"{v / _MILE_M:.2f} mi" if imperial else f"{v / 1000:.2f} km"
    if key == "stride_length":
        return f"{in_units(v, 'm', units)[0]:.1f} ft" if imperial else f"{v:.2f} m"
    if key == "speed":
        return f"{in_units(v, 'm/s', units)[0]:.1f} mph" if imperial else f"{v * 3.6:.1f} km/h"
    if key == "vertical_oscillation":
        return f"{in_units(v, 'cm', units)[0]:.1f} in" if imperial else f"{v:.1f} cm"
    if key in ("rearfoot_share", "midfoot_share", "forefoot_share"):
        return f"{v:.0f} %"
    if key in ("vertical_ratio", "contact_time_balance"):
        return f"{v:.1f} %"
    m = METRICS.get(key)
    if m is None:
        return f"{v:.3g}"
    unit = m.shown_unit
    sep = "" if unit in ("°",) else " "
    return f"{m.shown(v):.{m.show_decimals}f}{sep}{unit}"


# ----------------------------------------------------------------------------- segments
#: How an activity of the analysis (``activity`` column, SUMMARY ``bouts``) reads in a title.
ACTIVITY_WORDS = {"run": "running", "walk": "walking"}


def summary_by_activity(
    summary: dict[str, Any], *, min_contacts: int = MIN_CONTACTS
) -> list[tuple[str | None, dict[str, Any]]]:
    """SUMMARY.json as the tables of medians should show it: walking and running apart.

    ``[(None, summary)]`` when the session holds one activity (or the analysis did not tell
    them apart); else ``[("running", part), ("walking", part)]``, each part a SUMMARY whose
    sensors are the sensors' ``by_activity`` entries of that activity (the contact time
    balance, a running metric, only in the running part). A median over both would show e.g.
    a walking cadence beside a running pace. A walk alone is shown as walking (the
    session-level pace and flight time are of running only, so empty there). An activity with
    fewer than ``min_contacts`` contacts of every sensor is left out, as in
    :func:`make_segments`: a lone contact taken for running on a staircase gets no table of
    its own.
    """
    sensors = summary.get("sensors", {})

    def part_of(s: dict[str, Any], act: str) -> dict[str, Any] | None:
        got = (s.get("by_activity") or {}).get(act)
        return got if got and got.get("contacts") else None

    def count(act: str) -> int:  # per sensor, as MIN_CONTACTS means
        return max(
            (int(p["contacts"]) for s in sensors.values() if (p := part_of(s, act))), default=0
        )

    present = [a for a in ACTIVITY_WORDS if count(a) > 0]
    acts = [a for a in present if count(a) >= min_contacts]
    if not acts or present == ["run"]:
        return [(None, summary)]
    out: list[tuple[str | None, dict[str, Any]]] = []
    for act in acts:
        sub = {sid: p for sid, s in sensors.items() if (p := part_of(s, act)) is not None}
        doc = {k: v for k, v in summary.items() if k != "balance" or act == "run"}
        out.append((ACTIVITY_WORDS[act], {**doc, "sensors": sub}))
    return out


@dataclass
class Segment:
    """A stretch of one activity between markers: ``t0 <= t_ic < t1``."""

    t0: float
    t1: float
    activity: str | None
    label: str
    rows: pd.DataFrame

    @property
    def running(self) -> bool:
        return self.activity in (None, "run")


def _bouts(df: pd.DataFrame, summary: dict[str, Any] | None) -> list[tuple[float, float, str]]:
    """Activity bouts ``(t0, t1, activity)`` from SUMMARY ``bouts``, else from the rows'
    ``activity`` column; ``[]`` when the analysis did not tell activities apart."""
    got = (summary or {}).get("bouts") or []
    if got:
        return [(float(b["t0"]), float(b["t1"]), str(b["activity"])) for b in got]
    if "activity" not in df.columns or df.empty:
        return []
    s = df.sort_values("t_ic", kind="stable")
    act = s["activity"].fillna("").astype(str).to_numpy()
    t = s["t_ic"].to_numpy(dtype=float)
    ok = act != ""
    act, t = act[ok], t[ok]
    if act.size == 0:
        return []
    out = []
    start = 0
    for i in range(1, act.size + 1):
        if i == act.size or act[i] != act[start]:
            t1 = t[i] if i < act.size else math.inf
            out.append((float(t[start]), float(t1), str(act[start])))
            start = i
    return out


def make_segments(
    df: pd.DataFrame,
    *,
    t_start: float,
    t_end: float,
    markers: list[tuple[float, str, str]] = (),  # type: ignore[assignment]
    summary: dict[str, Any] | None = None,
    min_contacts: int = MIN_CONTACTS,
) -> list[Segment]:
    """Cut a stride table (with a ``placement`` column) at markers and activity bouts.

    Segments in which no sensor has ``min_contacts`` contacts (:func:`contacts_per_sensor`),
    and bouts that are neither running nor walking (standing, other), are left out.
    """
    cuts = sorted({float(t) for t, _l, _k in markers if t_start < float(t) < t_end})
    names = {float(t): lab for t, lab, _k in markers}
    bounds = [t_start, *cuts, t_end]
    bouts = _bouts(df, summary)
    pieces: list[tuple[float, float, str | None]] = []
    for a, b in itertools.pairwise(bounds):
        if not bouts:
            pieces.append((a, b, None))
            continue
        for b0, b1, bout in bouts:
            lo, hi = max(a, b0), min(b, b1)
            if hi > lo and bout in ("run", "walk"):
                pieces.append((lo, hi, bout))
    t = df["t_ic"].to_numpy(dtype=float) if len(df) else np.empty(0)
    # a contact's own activity (the ``activity`` column) decides where it counts: near a bout
    # edge a running contact can fall inside a walking bout's span, and would put e.g. its
    # flight time into the walking segment
    own = (
        df["activity"].fillna("").astype(str).to_numpy()
        if "activity" in df.columns
        else np.full(len(df), "", dtype=object)
    )
    out: list[Segment] = []
    for lo, hi, act in pieces:
        inside = (t >= lo) & (t < hi)
        if act is not None:
            inside &= (own == act) | (own == "")
        rows = df[inside]
        if contacts_per_sensor(rows) < min_contacts:
            continue
        before = [names[c] for c in cuts if c <= lo]
        after = [names[c] for c in cuts if c >= hi]
        where = (
            f"after '{before[-1]}'"
            if before
            else (f"before '{after[0]}'" if after else "whole session")
        )
        kind = ACTIVITY_WORDS.get(act or "", "")
        label = f"{_clock(lo - t_start)}–{_clock(min(hi, t_end) - t_start)}"
        label += f" {kind}" if kind else ""
        label += f", {where}" if where != "whole session" else ""
        out.append(Segment(lo, min(hi, t_end), act, label.strip(), rows))
    return out


# ----------------------------------------------------------------------------- values
def _num(df: pd.DataFrame, col: str) -> np.ndarray:
    if col not in df.columns:
        return np.empty(0)
    return pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)


def _med(x: np.ndarray) -> float | None:
    x = x[np.isfinite(x)]
    return float(np.median(x)) if x.size else None


def segment_values(rows: pd.DataFrame) -> dict[str, float | None]:
    """Typical values of one segment (keys: metric names, ``<metric>/<side>`` per side)."""
    if "flags" in rows.columns:
        rows = rows[~rows["flags"].fillna("").astype(str).str.contains("rejected")]
    pl = rows["placement"]
    feet = rows[pl.isin(["left_foot", "right_foot"])]
    pelvis = rows[pl == "pelvis"]
    v: dict[str, float | None] = {}
    if len(feet):
        per_foot = [
            foot_metrics(
                stride_length=_num(g, "stride_length"),
                speed=_num(g, "speed"),
                flight_time=_num(g, "flight_time"),
                peak_impact=_num(g, "peak_impact"),
            )
            for _, g in feet.groupby("sensor_id")
        ]
        fm = foot_metrics(
            stride_length=_num(feet, "stride_length"),
            speed=_num(feet, "speed"),
            flight_time=_num(feet, "flight_time"),
            peak_impact=_num(feet, "peak_impact"),
        )
        dist = [f["distance"] for f in per_foot if f["distance"] is not None]
        v["pace"] = fm["pace_median"]
        v["distance"] = float(np.mean(dist)) if dist else None
        v["speed"] = _med(_num(feet, "speed"))
        v["cadence"] = _med(_num(feet, "cadence"))
        v["stride_length"] = fm["stride_length_median"]
        v["contact_time"] = _med(_num(feet, "contact_time"))
        v["flight_time"] = fm["flight_time_median"]
        v["peak_impact"] = fm["peak_impact_median"]
        v["foot_strike_angle"] = _med(_num(feet, "foot_strike_angle"))
        st = feet["strike_type"].fillna("").astype(str)
        st = st[st != ""]
        if len(st):
            for k in ("rearfoot", "midfoot", "forefoot"):
                v[f"{k}_share"] = 100.0 * float((st == k).mean())
        for side in ("left", "right"):
            s = feet[feet["side"] == side]
            v[f"max_pronation_velocity/{side}"] = _med(_num(s, "max_pronation_velocity"))
            v[f"pronation_excursion/{side}"] = _med(_num(s, "pronation_excursion"))
        left = feet[feet["placement"] == "left_foot"]
        right = feet[feet["placement"] == "right_foot"]
        v["contact_time_balance"] = contact_time_balance(
            _num(left, "contact_time"), _num(right, "contact_time")
        )
    if len(pelvis):
        if "cadence" not in v:
            v["cadence"] = _med(_num(pelvis, "cadence"))
        for side in ("left", "right"):
            v[f"pelvic_drop/{side}"] = _med(_num(pelvis[pelvis["side"] == side], "pelvic_drop"))
        v["vertical_oscillation"] = _med(_num(pelvis, "vertical_oscillation"))
        if len(feet):
            v["vertical_ratio"] = _med(
                vertical_ratio(
                    _num(pelvis, "t_ic"),
                    _num(pelvis, "vertical_oscillation"),
                    _num(feet, "t_ic"),
                    _num(feet, "stride_length"),
                )
            )
    return v


#: (key, label) in the order the findings table lists them.
ROWS: tuple[tuple[str, str], ...] = (
    ("pace", "pace"),
    ("distance", "distance"),
    ("cadence", "cadence"),
    ("stride_length", "stride length"),
    ("rearfoot_share", "heel strikes (rearfoot share)"),
    ("foot_strike_angle", "foot strike angle"),
    ("contact_time", "ground contact time"),
    ("contact_time_balance", "contact time balance (left share)"),
    ("flight_time", "flight time"),
    ("peak_impact", "impact at the shoe"),
    ("max_pronation_velocity/left", "left-foot pronation velocity"),
    ("max_pronation_velocity/right", "right-foot pronation velocity"),
    ("pelvic_drop/left", "left-stance pelvic drop"),
    ("pelvic_drop/right", "right-stance pelvic drop"),
    ("vertical_oscillation", "vertical oscillation"),
    ("vertical_ratio", "vertical ratio"),
)


@dataclass
class Finding:
    """One metric of one segment: value, light and (for a problem) its cue key."""

    key: str
    label: str
    value: float | None
    light: Light
    text: str

    @property
    def metric(self) -> str:
        return self.key.split("/")[0]

    @property
    def side(self) -> str | None:
        return self.key.split("/")[1] if "/" in self.key else None

    @property
    def problem(self) -> bool:
        return self.light.level in ("red", "amber")


@dataclass
class SegmentFindings:
    segment: Segment
    findings: list[Finding]
    alert_share: dict[str, float] = field(default_factory=dict)

    def get(self, key: str) -> Finding | None:
        return next((f for f in self.findings if f.key == key), None)


def segment_findings(
    seg: Segment,
    *,
    profile: Any = None,
    alerts: Sequence[dict[str, Any]] = (),
    units: str = "metric",
) -> SegmentFindings:
    """Values, lights and alert shares of one segment."""
    vals = segment_values(seg.rows)
    out = []
    for key, label in ROWS:
        if key not in vals:
            continue
        value = vals[key]
        metric, _, side = key.partition("/")
        light = (
            rate(metric, value, profile=profile, side=side or None)
            if seg.running
            else Light("info")
        )
        out.append(Finding(key, label, value, light, fmt(metric, value, units)))
    shares = alert_shares(watched_alerts(alerts, profile, seg.activity), seg.t0, seg.t1)
    return SegmentFindings(seg, out, shares)


# ----------------------------------------------------------------------------- alerts
def watched_alerts(
    alerts: Sequence[dict[str, Any]], profile: Any, activity: str | None
) -> list[dict[str, Any]]:
    """The alerts of the rules that watch ``activity`` (``run``/``walk``; ``None``: all).

    A rule watches one activity (:attr:`dsp.alerts.Rule.activity`): a running rule that was on
    when a walk break began is not evaluated during the walk, so its time there says nothing
    (the interval report showed ``heel_strike`` on 100 % of every walking segment, and the
    walking pelvic-drop rule 100 % of every running one).
    """
    if profile is None:
        return list(alerts)
    return [a for a in alerts if profile.watches(str(a.get("rule")), activity)]


def share_cell(share: float | None) -> str:
    """A cell of the alert time shares: ``–`` where the rule does not watch the activity."""
    return "–" if share is None else f"{100 * share:.0f} % of the time"


def alert_intervals(
    alerts: list[dict[str, Any]], t_end: float
) -> dict[str, list[tuple[float, float]]]:
    """``rule`` (``rule (side)`` for per-side rules) -> intervals it was on, s.

    An alert is on from its ``t`` to its ``t_clear`` (SUMMARY.json), or to the end of the
    recording when it never cleared.
    """
    out: dict[str, list[tuple[float, float]]] = {}
    for a in alerts:
        if a.get("t") is None:
            continue
        name = str(a.get("rule", "alert"))
        if a.get("side"):
            name += f" ({a['side']})"
        t1 = a.get("t_clear")
        out.setdefault(name, []).append((float(a["t"]), float(t1) if t1 is not None else t_end))
    return out


def alert_shares(alerts: Sequence[dict[str, Any]], t0: float, t1: float) -> dict[str, float]:
    """Share (0-1) of ``[t0, t1)`` each alert rule was on."""
    span = t1 - t0
    if not span > 0:
        return {}
    out = {}
    for name, ivs in alert_intervals(list(alerts), t1).items():
        on = sum(max(0.0, min(b, t1) - max(a, t0)) for a, b in ivs)
        out[name] = min(1.0, on / span)
    return out


def alert_shares_over(
    alerts: Sequence[dict[str, Any]], spans: Sequence[tuple[float, float]]
) -> dict[str, float]:
    """Share (0-1) of the total time of ``spans`` (``[(t0, t1)]``, not overlapping) each alert
    rule was on, e.g. over the running bouts of a run/walk session only."""
    total = sum(max(0.0, b - a) for a, b in spans)
    out: dict[str, float] = {}
    if not total > 0:
        return out
    for a, b in spans:
        for rule, share in alert_shares(alerts, a, b).items():
            out[rule] = out.get(rule, 0.0) + share * (b - a) / total
    return out


# ----------------------------------------------------------------------------- cues
@dataclass(frozen=True)
class Cue:
    """What to do about a problem, in plain words, and the evidence behind it."""

    title: str
    action: str
    evidence: str


CUES: dict[str, Cue] = {
    "rearfoot_share": Cue(
        "heel striking",
        "raise your cadence by 5-10 % (a metronome at the new rate for a few minutes of each "
        "run) so each foot lands closer under your hips; let the strike follow, do not force "
        "your toes down",
        "a 5-10 % higher step rate reduced hip and knee loading and heel-first overstriding "
        "(Heiderscheit et al. 2011, Med Sci Sports Exerc 43(2)); changing the strike type "
        "itself has no proven injury benefit and loads the calf more, so change it gradually "
        "(Hamill & Gruber 2017, J Sport Health Sci 6(2))",
    ),
    "cadence": Cue(
        "low cadence",
        "raise your cadence by 5-10 % at the same pace: shorter, quicker steps",
        "+5-10 % step rate lowers hip and knee loading and vertical excursion "
        "(Heiderscheit et al. 2011)",
    ),
    "pelvic_drop": Cue(
        "pelvic drop",
        "strengthen the hip abductors of the stance leg 2-3 times a week (side-lying leg "
        "raises, side planks, single-leg squats with the pelvis level), and run a few minutes "
        "in front of a mirror keeping the pelvis level",
        "runners with more contralateral pelvic drop are more often injured, about 80 % higher "
        "odds per degree (Bramah et al. 2018, Am J Sports Med 46(12)); mirror gait retraining "
        "reduced pelvic drop and hip adduction (Willy et al. 2012, Clin Biomech 27(10))",
    ),
    "max_pronation_velocity": Cue(
        "fast pronation",
        "no change needed if nothing hurts; land closer under the body (a slightly higher "
        "cadence) and keep calf and foot strength work in the plan",
        "fast or large pronation alone did not raise the injury risk of novice runners in "
        "neutral shoes (Nielsen et al. 2014, Br J Sports Med 48(6)): watch it, do not chase it",
    ),
    "contact_time": Cue(
        "long ground contact",
        "quicker, lighter steps: a 5 % higher cadence shortens the contact",
        "contact time falls as cadence and speed rise; most runners are at 160-300 ms (Garmin)",
    ),
    "contact_time_balance": Cue(
        "uneven contact time",
        "single-leg strength work (step-ups, single-leg squats) on the side that stays longer "
        "on the ground; if the imbalance persists or grows, have it checked",
        "a contact-time imbalance beyond about 2 points often follows an injury or a one-sided "
        "weakness (coaching use of Garmin/Stryd balance)",
    ),
    "vertical_ratio": Cue(
        "bouncy running",
        "run 'low and quick': a 5-10 % higher cadence reduces the bounce",
        "a higher step rate reduced the vertical excursion of the centre of mass "
        "(Heiderscheit et al. 2011); a lower vertical ratio is more economical (Garmin)",
    ),
}
CUES["foot_strike_angle"] = CUES["rearfoot_share"]

#: Order in which problems are put first (the one to work on next first).
PRIORITY = (
    "pelvic_drop",
    "rearfoot_share",
    "cadence",
    "contact_time_balance",
    "max_pronation_velocity",
    "contact_time",
    "vertical_ratio",
)


def problems(sf: SegmentFindings) -> list[Finding]:
    """Rated problems of a segment, red before amber, then by :data:`PRIORITY`."""
    got = [f for f in sf.findings if f.problem and f.metric in CUES]
    rank = {m: i for i, m in enumerate(PRIORITY)}
    return sorted(
        got,
        key=lambda f: (f.light.level != "red", rank.get(f.metric, 99), -(f.value or 0.0)),
    )


def _limit_text(f: Finding, units: str) -> str:
    lim = f.light.limit
    if lim is None:
        return ""
    word = {"above": "above", "below": "below"}.get(f.light.direction, "beyond")
    if f.metric == "contact_time_balance":
        word = "beyond"
    return f"{word} the {fmt(f.metric, lim, units)} limit"


def problem_sentence(f: Finding, units: str = "metric") -> str:
    """``"pelvic drop, left stance 7.6° (above the 7.0° limit)"``."""
    lim = _limit_text(f, units)
    return f"{f.label} {f.text}" + (f" ({lim})" if lim else "")


def contacts_per_sensor(df: pd.DataFrame) -> int:
    """The contacts of the sensor with the most in a stride table (rows per ``sensor_id``, else
    per ``placement``): the count :data:`MIN_CONTACTS` is a minimum of."""
    if not len(df):
        return 0
    for col in ("sensor_id", "placement"):
        if col in df.columns:
            return int(df.groupby(col, sort=False, dropna=False).size().max())
    return len(df)


def running_contacts(df: pd.DataFrame) -> int:
    """Contacts of the sensor with the most (:func:`contacts_per_sensor`) taken for running
    (the ``activity`` column; every contact when there is none), as :func:`make_segments`
    counts them."""
    if "activity" not in df.columns:
        return contacts_per_sensor(df)
    return contacts_per_sensor(df[df["activity"].fillna("").astype(str).isin(["run", ""])])


def next_step(
    all_findings: list[SegmentFindings],
    units: str = "metric",
    *,
    running_contacts: int = 0,
    no_contacts: bool = False,
) -> str:
    """One sentence: what to work on next, judged on the latest running segment, with what
    improved since the first one. ``running_contacts``: of the session
    (:func:`running_contacts`), to say why there is no segment at all; ``no_contacts``: no
    sensor gave a contact (the report says why under the sentence)."""
    if no_contacts:
        return (
            "No contacts were found in this recording (why, per sensor, below), so there is "
            "nothing to judge yet."
        )
    running = [sf for sf in all_findings if sf.segment.running]
    if not all_findings and running_contacts > 0:  # (a walk with a few contacts taken for
        # running has its walking segments: not "too few")
        return (
            f"Too few running contacts to judge: {running_contacts} in this recording (of the "
            f"sensor with the most), at least {MIN_CONTACTS} of one sensor in one stretch of "
            "running are needed; record a longer run."
        )
    if not running:
        return "No running was recognised in this recording, so there is nothing to judge yet."
    last = running[-1]
    probs = problems(last)
    where = f" in {last.segment.label}" if len(all_findings) > 1 else ""
    fixed = []
    if len(running) > 1:
        first = running[0]
        for f in problems(first):
            g = last.get(f.key)
            if g is not None and not g.problem:
                fixed.append(f"{f.label} {f.text} → {g.text}")
    gain = f" Already better: {'; '.join(fixed)}." if fixed else ""
    if not probs:
        return (
            f"Nothing to fix{where}: every judged metric is within its limits; keep the form "
            f"and build the distance.{gain}"
        )
    top = probs[0]
    cue = CUES[top.metric]
    return (
        f"Work on {cue.title} next: your {problem_sentence(top, units)}{where}. "
        f"What to do: {cue.action}.{gain}"
    )
