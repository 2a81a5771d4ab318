"""Before/after comparison of two runs (or two parts of one run): the numbers behind
``runform compare``.

Both runs are analysed by :func:`runform.analysis_run.analyse_recording` (the code of
``runform analyze``); this module only groups the stride rows, calls :mod:`runform.stats` per
metric and writes a plain-language summary. Groups and metrics:

* ``left foot``, ``right foot``, ``both feet`` (foot sensors): shares of rearfoot / midfoot /
  forefoot strikes, foot strike angle, cadence, contact time, max pronation velocity, pronation
  excursion, speed;
* ``pelvis``: pelvic drop in left stance and in right stance, vertical oscillation, cadence.

Each metric gets both medians (or shares), the difference B - A with a 95 % circular block
bootstrap interval, an effect size, a block permutation p-value and its Holm-adjusted value
over all metrics of the comparison; "significant" means Holm-adjusted p < 0.05.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from dsp.metrics import METRIC_LIST, METRICS, SHARE_SMALLEST_CHANGE, metric
from runform.analysis_run import AnalysisResult
from runform.findings import ACTIVITY_WORDS, UNITS, in_units
from runform.stats import Difference, compare_series, holm

__all__ = [
    "ALPHA",
    "FOOT_METRICS",
    "PELVIS_METRICS",
    "STRIKE_TYPES",
    "Comparison",
    "MetricComparison",
    "Run",
    "compare_runs",
    "no_common_placement",
    "run_from_result",
    "split_result",
]

#: Significance level applied to the Holm-adjusted p-values.
ALPHA = 0.05

STRIKE_TYPES = ("rearfoot", "midfoot", "forefoot")

#: (column, label, unit) of the foot metrics compared by their medians (:mod:`dsp.metrics`).
FOOT_METRICS: tuple[tuple[str, str, str], ...] = tuple(
    (c, metric(c).label, metric(c).unit)
    for c in (
        "foot_strike_angle",
        "cadence",
        "contact_time",
        "max_pronation_velocity",
        "pronation_excursion",
        "speed",
        "stride_length",
        "flight_time",
        "peak_impact",
    )
)

#: (column, stance side or None, label, unit) of the pelvis metrics.
PELVIS_METRICS: tuple[tuple[str, str | None, str, str], ...] = tuple(
    (c, side, metric(c).label + (f", {side} stance" if side else ""), metric(c).unit)
    for c, side in (
        ("pelvic_drop", "left"),
        ("pelvic_drop", "right"),
        ("vertical_oscillation", None),
        ("cadence", None),
    )
)

GROUPS = ("both feet", "left foot", "right foot", "pelvis", "speed-matched")

#: Median speeds differing by more than this fraction are called different.
SPEED_TOLERANCE = 0.05
#: Foot metrics that depend on speed, compared again on speed-matched strides.
SPEED_DEPENDENT = ("cadence", "contact_time", "stride_length", "flight_time")
#: Fewest strides per run in the common speed range for a speed-matched comparison.
MIN_MATCHED = 30


@dataclass
class Run:
    """One side of a comparison.

    Attributes
    ----------
    label : str
        Name shown in the report (e.g. ``"A: easy.h5"`` or ``"before midfoot drill"``).
    recording : str
    strides : pandas.DataFrame
        Rows of ``runform analyze`` (possibly a time slice), plus a ``placement`` column.
    t0, t1 : float
        Time span of the rows considered, s on the recording's time base.
    summary : dict or None
        SUMMARY.json of the whole recording.
    markers : list of (t, label, kind)
    """

    label: str
    recording: str
    strides: pd.DataFrame
    t0: float
    t1: float
    summary: dict[str, Any] | None = None
    markers: list[tuple[float, str, str]] = field(default_factory=list)

    def rows(self, group: str) -> pd.DataFrame:
        """Rows of a group (see :data:`GROUPS`), in time order."""
        df = self.strides
        pl = df["placement"]
        if group == "both feet":
            sel = pl.isin(["left_foot", "right_foot"])
        elif group == "left foot":
            sel = pl == "left_foot"
        elif group == "right foot":
            sel = pl == "right_foot"
        elif group == "pelvis":
            sel = pl == "pelvis"
        elif group == "speed-matched":
            sel = pl.isin(["left_foot", "right_foot"])
        else:
            raise ValueError(f"unknown group {group!r}, expected one of {', '.join(GROUPS)}")
        return df[sel].sort_values("t_ic", kind="stable")


def no_common_placement(a: Run, b: Run) -> str | None:
    """Why no metric of ``a`` and ``b`` can be compared (the feet are compared with the feet,
    the pelvis with the pelvis: :func:`compare_runs`), or None when they share a placement.

    ``"A: p.h5 holds pelvis contacts only and B: f.h5 left_foot and right_foot contacts only"``.
    """
    feet = {"left_foot", "right_foot"}
    held = [set(r.strides["placement"]) - {""} for r in (a, b)]
    if (held[0] & feet and held[1] & feet) or ("pelvis" in held[0] and "pelvis" in held[1]):
        return None
    what = [" and ".join(sorted(h)) or "no" for h in held]
    return (
        f"{a.label} holds {what[0]} contacts only and {b.label} {what[1]} contacts only: no "
        "sensor placement in common, nothing to compare (feet are compared with feet, the "
        "pelvis with the pelvis)"
    )


def _with_placement(res: AnalysisResult) -> pd.DataFrame:
    df = res.strides.copy()
    placements = {s.sensor_id: s.placement for s in res.sensors}
    df["placement"] = df["sensor_id"].map(placements).fillna("")
    return df


def run_from_result(res: AnalysisResult, label: str) -> Run:
    """A whole analysed recording as one side of a comparison."""
    return Run(
        label=label,
        recording=res.recording,
        strides=_with_placement(res),
        t0=res.t_start,
        t1=res.t_start + res.duration_s,
        summary=res.summary,
        markers=list(res.markers),
    )


def split_result(
    res: AnalysisResult, t_split: float, *, what: str | None = None
) -> tuple[Run, Run]:
    """Two runs from one recording: contacts before ``t_split`` (A) and from it on (B).

    Parameters
    ----------
    res : AnalysisResult
    t_split : float
        Split time, s on the recording's time base (contacts are assigned by ``t_ic``).
    what : str, optional
        What happens at the split (a marker label), for the run labels.
    """
    df = _with_placement(res)
    t_end = res.t_start + res.duration_s
    name = f"'{what}'" if what else f"{t_split:.1f} s"
    a = Run(
        label=f"before {name}",
        recording=res.recording,
        strides=df[df["t_ic"] < t_split].reset_index(drop=True),
        t0=res.t_start,
        t1=t_split,
        summary=res.summary,
        markers=list(res.markers),
    )
    b = Run(
        label=f"after {name}",
        recording=res.recording,
        strides=df[df["t_ic"] >= t_split].reset_index(drop=True),
        t0=t_split,
        t1=t_end,
        summary=res.summary,
        markers=list(res.markers),
    )
    return a, b


@dataclass
class MetricComparison:
    """One metric of one group compared between the runs."""

    group: str
    metric: str
    label: str
    unit: str
    result: Difference
    p_holm: float = math.nan

    @property
    def key(self) -> str:
        return f"{self.group}/{self.label}"

    @property
    def significant(self) -> bool:
        return math.isfinite(self.p_holm) and self.p_holm < ALPHA

    @property
    def smallest_change(self) -> float | None:
        """Smallest worthwhile change of the metric (registry), in its unit."""
        if self.unit == "fraction":
            return SHARE_SMALLEST_CHANGE
        m = METRICS.get(self.metric)
        return m.smallest_change if m is not None else None

    @property
    def practical(self) -> str:
        """Honest size words: ``trivial`` when the difference is below the smallest
        worthwhile change (however clear statistically), else the effect size's word."""
        swc = self.smallest_change
        d = self.result.diff
        if not math.isfinite(d):
            return ""
        if swc is not None and abs(d) < swc:
            return "trivial"
        return self.result.effect_size or ""

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "group": self.group,
            "metric": self.metric,
            "label": self.label,
            "unit": self.unit,
        }
        d.update(self.result.as_dict())
        d["p_holm"] = self.p_holm if math.isfinite(self.p_holm) else None
        d["significant"] = self.significant
        d["smallest_change"] = self.smallest_change
        d["practical"] = self.practical
        return d


@dataclass
class Comparison:
    """All metrics compared between run A and run B, plus the plain-language summary."""

    a: Run
    b: Run
    metrics: list[MetricComparison]
    sentences: list[str]
    n_boot: int
    n_perm: int
    seed: int
    speed_a: float = math.nan
    speed_b: float = math.nan
    matched_range: tuple[float, float] | None = None
    profile: Any = None
    activity: str | None = None
    #: ``(activity of A, activity of B)`` when the runs share none (a walk against a run):
    #: every contact is compared, and nothing is judged against the running limits.
    unlike: tuple[str, str] | None = None
    #: ``metric`` or ``imperial``: the units of the sentences (lengths and speeds)
    units: str = "metric"

    @property
    def speed_change(self) -> float:
        """Relative difference of the median speeds, (B - A) / A (NaN without speeds)."""
        if not (math.isfinite(self.speed_a) and math.isfinite(self.speed_b) and self.speed_a > 0):
            return math.nan
        return (self.speed_b - self.speed_a) / self.speed_a

    @property
    def speeds_differ(self) -> bool:
        """The median speeds differ by more than :data:`SPEED_TOLERANCE`."""
        c = self.speed_change
        return math.isfinite(c) and abs(c) > SPEED_TOLERANCE

    def get(self, group: str, label: str) -> MetricComparison | None:
        for m in self.metrics:
            if m.group == group and m.label == label:
                return m
        return None

    def method_text(self) -> str:
        return (
            "Medians (shares for strike types) of each run; difference = B - A. "
            "Per-stride values are autocorrelated, so every series is handled in blocks of "
            "consecutive strides: block length by the Politis-White (2004/2009) rule; 95 % "
            f"interval from a circular block bootstrap ({self.n_boot} resamples per run, each "
            "run resampled in blocks on its own); two-sided p-value from the same bootstrap "
            "(differences centred on the observed one as the no-change distribution, Hall & "
            "Wilson 1991), which agrees with the interval unless the bootstrap distribution is "
            "skewed; effective sample sizes "
            "n_eff = n / (1 + 2 Σ autocorrelations) show how many independent strides a series "
            "is worth. "
            "When fewer than 10 resampled differences reach the observed one, p comes from the "
            "normal tail of the bootstrap distribution, so it is not floored by the number of "
            "resamples. "
            "Effect size: Cliff's delta (share of stride pairs where B > A minus B < A; "
            "|d| < 0.147 negligible, < 0.33 small, < 0.474 medium, else large) or Cohen's h "
            "for shares; a difference smaller than the metric's smallest worthwhile change "
            "(e.g. 3 steps/min, 10 ms, 1° of pelvic drop, 10 points of a strike share) is "
            "called trivial however clear it is. "
            "Speed: cadence, contact time, stride length, flight time and oscillation change "
            "with speed; when the median speeds differ by more than 5 %, these are compared "
            "again on the strides of the common speed range (group 'speed-matched': strides "
            "whose speed lies between the larger of the two 10th percentiles and the smaller "
            "of the two 90th). Significance: Holm-adjusted p < 0.05 over all "
            f"{sum(1 for m in self.metrics if math.isfinite(m.result.p))} metrics tested. "
            f"Seed {self.seed}: the same input gives the same numbers."
        )

    def as_dict(self) -> dict[str, Any]:
        """The ``--json`` document."""

        def side(r: Run) -> dict[str, Any]:
            return {
                "label": r.label,
                "recording": r.recording,
                "t0": round(r.t0, 6),
                "t1": round(r.t1, 6),
                "contacts": {g: len(r.rows(g)) for g in GROUPS if len(r.rows(g)) or g != "pelvis"},
            }

        return {
            "format": "runform-compare",
            "format_version": 1,
            "a": side(self.a),
            "b": side(self.b),
            "speed": {
                "a_median": None if math.isnan(self.speed_a) else round(self.speed_a, 4),
                "b_median": None if math.isnan(self.speed_b) else round(self.speed_b, 4),
                "differ": self.speeds_differ,
                "matched_range": (
                    None
                    if self.matched_range is None
                    else [round(x, 4) for x in self.matched_range]
                ),
            },
            "activity": self.activity,
            **({"activities": list(self.unlike)} if self.unlike else {}),
            "summary": list(self.sentences),
            "method": self.method_text(),
            "metrics": [m.as_dict() for m in self.metrics],
        }


# ----------------------------------------------------------------------------- building
def _values(df: pd.DataFrame, col: str) -> np.ndarray:
    if col not in df.columns:
        return np.empty(0)
    return pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=np.float64)


def _share_indicator(df: pd.DataFrame, strike: str) -> np.ndarray:
    st = df["strike_type"].fillna("").astype(str)
    st = st[st != ""]
    return (st == strike).to_numpy(dtype=np.float64)


def _finite(x: np.ndarray) -> int:
    return int(np.isfinite(x).sum())


def _activity_rows(df: pd.DataFrame, activity: str) -> pd.DataFrame:
    if "activity" not in df.columns:
        return df
    act = df["activity"].fillna("").astype(str)
    # rows without an activity (e.g. a pelvis step the bouts did not cover) stay with running
    return df[(act == activity) | ((act == "") & (activity == "run"))]


def _only_activity(df: pd.DataFrame) -> str | None:
    """``run`` or ``walk`` when every labelled contact of a stride table is of that one."""
    if "activity" not in df.columns:
        return None
    acts = set(df["activity"].fillna("").astype(str)) - {""}
    return acts.pop() if len(acts) == 1 and acts <= {"run", "walk"} else None


def like_with_like(a: Run, b: Run) -> tuple[Run, Run, str | None]:
    """Runs restricted to one activity both share (running first), when the stride tables
    say which contacts were running and which walking (the ``activity`` column); unchanged
    otherwise. Returns the runs and the activity compared (``None``: not known)."""
    if "activity" not in a.strides.columns or "activity" not in b.strides.columns:
        return a, b, None
    for act in ("run", "walk"):
        ra, rb = _activity_rows(a.strides, act), _activity_rows(b.strides, act)
        if len(ra) and len(rb):
            return replace(a, strides=ra), replace(b, strides=rb), act
    return a, b, None


def _vertical_ratios(run: Run) -> np.ndarray:
    from dsp.runner_metrics import vertical_ratio

    p, f = run.rows("pelvis"), run.rows("both feet")
    if p.empty or f.empty:
        return np.empty(0)
    return vertical_ratio(
        _values(p, "t_ic"),
        _values(p, "vertical_oscillation"),
        _values(f, "t_ic"),
        _values(f, "stride_length"),
    )


def _median_speed(run: Run) -> float:
    v = _values(run.rows("both feet"), "speed")
    v = v[np.isfinite(v)]
    return float(np.median(v)) if v.size else math.nan


def speed_range(a: Run, b: Run) -> tuple[float, float] | None:
    """The common speed range of two runs: from the larger of their 10th percentiles to the
    smaller of their 90th (``None`` when they do not overlap)."""
    va, vb = (_values(r.rows("both feet"), "speed") for r in (a, b))
    va, vb = va[np.isfinite(va)], vb[np.isfinite(vb)]
    if va.size < MIN_MATCHED or vb.size < MIN_MATCHED:
        return None
    lo = max(np.percentile(va, 10), np.percentile(vb, 10))
    hi = min(np.percentile(va, 90), np.percentile(vb, 90))
    return (float(lo), float(hi)) if hi > lo else None


def compare_runs(
    a: Run,
    b: Run,
    *,
    n_boot: int = 2000,
    n_perm: int = 2000,
    seed: int = 0,
    profile: Any = None,
    units: str = "metric",
) -> Comparison:
    """Compare every metric of every group present in both runs.

    Parameters
    ----------
    a, b : Run
        Reference (before) and second (after) run. When their stride tables carry an
        ``activity`` column, running is compared with running (walking with walking when
        neither ran).
    n_boot, n_perm : int
        Bootstrap resamples and block permutations per metric.
    seed : int
        Random seed (the numbers are reproducible).
    profile : dsp.alerts.Profile, optional
        Alert profile whose limits the sentences mention ("still above the 7° limit").
    units : {"metric", "imperial"}
        Units of the sentences' lengths and speeds (the numbers of :meth:`Comparison.as_dict`
        stay in the metrics' own units).
    """
    if units not in UNITS:
        raise ValueError(f"units {units!r}: expected one of {', '.join(UNITS)}")
    a, b, activity = like_with_like(a, b)
    unlike = None
    if activity is None:
        only = (_only_activity(a.strides), _only_activity(b.strides))
        if only[0] and only[1] and only[0] != only[1]:
            unlike = (only[0], only[1])
    out: list[MetricComparison] = []

    def add(group: str, metric: str, label: str, unit: str, x, y, statistic: str) -> None:
        if _finite(x) == 0 or _finite(y) == 0:
            return
        res = compare_series(
            x, y, statistic=statistic, n_boot=n_boot, n_perm=n_perm, seed=seed + len(out)
        )
        out.append(MetricComparison(group, metric, label, unit, res))

    for group in ("both feet", "left foot", "right foot"):
        ra, rb = a.rows(group), b.rows(group)
        if ra.empty or rb.empty:
            continue
        for strike in STRIKE_TYPES:
            add(
                group,
                "strike_type",
                f"{strike} share",
                "fraction",
                _share_indicator(ra, strike),
                _share_indicator(rb, strike),
                "share",
            )
        for col, label, unit in FOOT_METRICS:
            add(group, col, label, unit, _values(ra, col), _values(rb, col), "median")
    ra, rb = a.rows("pelvis"), b.rows("pelvis")
    if not ra.empty and not rb.empty:
        for col, stance, label, unit in PELVIS_METRICS:
            xa = ra[ra["side"] == stance] if stance else ra
            xb = rb[rb["side"] == stance] if stance else rb
            add("pelvis", col, label, unit, _values(xa, col), _values(xb, col), "median")
        # vertical ratio of each pelvis step (its oscillation over half the nearest foot stride)
        vra, vrb = _vertical_ratios(a), _vertical_ratios(b)
        add("pelvis", "vertical_ratio", "vertical ratio", "%", vra, vrb, "median")
    speed_a, speed_b = _median_speed(a), _median_speed(b)
    matched = None
    rel = (speed_b - speed_a) / speed_a if speed_a > 0 else math.nan
    if math.isfinite(rel) and abs(rel) > SPEED_TOLERANCE:
        rng_ = speed_range(a, b)
        if rng_ is not None:
            lo, hi = rng_
            fa, fb = a.rows("both feet"), b.rows("both feet")
            sa, sb = _values(fa, "speed"), _values(fb, "speed")
            ma, mb = fa[(sa >= lo) & (sa <= hi)], fb[(sb >= lo) & (sb <= hi)]
            if len(ma) >= MIN_MATCHED and len(mb) >= MIN_MATCHED:
                matched = rng_
                for col, label, unit in FOOT_METRICS:
                    if col in SPEED_DEPENDENT or col == "speed":
                        xa, xb = _values(ma, col), _values(mb, col)
                        add("speed-matched", col, label, unit, xa, xb, "median")
    adj = holm([m.result.p for m in out])
    for m, p in zip(out, adj, strict=True):
        m.p_holm = p
    comp = Comparison(
        a=a,
        b=b,
        metrics=out,
        sentences=[],
        n_boot=n_boot,
        n_perm=n_perm,
        seed=seed,
        speed_a=speed_a,
        speed_b=speed_b,
        matched_range=matched,
        profile=profile,
        activity=activity,
        unlike=unlike,
        units=units,
    )
    comp.sentences = summary_sentences(comp)
    return comp


# ----------------------------------------------------------------------------- language
_UNIT_TEXT = {m.unit: m.symbol for m in METRIC_LIST}


def _scaled(v: float, unit: str) -> tuple[str, str]:
    """The number as written in the report (shares in %, times in ms) and its unit suffix."""
    if unit == "fraction":
        return f"{100 * v:.0f}", " %"
    if unit == "s":
        return f"{1000 * v:.0f}", " ms"
    if unit in ("steps/min", "deg/s"):
        return f"{v:.0f}", _UNIT_TEXT[unit]
    if unit in ("m/s", "m"):
        return f"{v:.2f}", _UNIT_TEXT.get(unit, " " + unit)
    if unit == "%":
        return f"{v:.1f}", " %"
    return f"{v:.1f}", _UNIT_TEXT.get(unit, " " + unit)


def format_value(
    v: float | None, unit: str, *, with_unit: bool = True, units: str = "metric"
) -> str:
    """A metric value with its unit, as written in the report (contact time in ms; lengths and
    speeds in ft, in and mph with ``units="imperial"``)."""
    v, unit = in_units(v, unit, units)
    if v is None or not math.isfinite(v):
        return "–"
    number, suffix = _scaled(v, unit)
    return number + suffix if with_unit else number


def format_diff(v: float | None, unit: str, *, units: str = "metric") -> str:
    """A signed difference with its unit (``pp``: percentage points, for shares)."""
    v, unit = in_units(v, unit, units)
    if v is None or not math.isfinite(v):
        return "–"
    number, suffix = _scaled(abs(v), unit)
    if not any(c in "123456789" for c in number):  # rounds to zero: '−0.0 mph' read as a fall
        sign = "±"
    else:
        sign = "+" if v > 0 else ("−" if v < 0 else "±")
    return f"{sign}{number}{' pp' if unit in ('fraction', '%') else suffix}"


def format_p(p: float | None) -> str:
    if p is None or not math.isfinite(p):
        return "–"
    if p < 0.001:
        return "< 0.001"
    return f"{p:.3f}" if p < 0.01 else f"{p:.2f}"


def _limit_note(m: MetricComparison, profile: Any, units: str = "metric") -> str:
    """``"; still above the 7° limit"`` when the profile has a rule on the metric."""
    from dsp.form_ranges import rate

    if profile is None or m.unit == "fraction":
        return ""
    side = None
    if m.group == "pelvis" and "stance" in m.label:
        side = m.label.split(",")[1].split()[0]
    elif m.group in ("left foot", "right foot"):
        side = m.group.split()[0]
    la = rate(m.metric, m.result.a, profile=profile, side=side)
    lb = rate(m.metric, m.result.b, profile=profile, side=side)
    if lb.limit is None or lb.level == "info":
        return ""
    lim = format_value(lb.limit, m.unit, units=units)
    word = "above" if lb.direction == "above" else "below"
    if lb.level == "red":
        return f"; {'still ' if la.level == 'red' else ''}{word} the {lim} limit"
    if la.level == "red":
        return f"; now within the {lim} limit"
    return ""


def _metric_sentence(
    m: MetricComparison, name: str | None = None, profile: Any = None, units: str = "metric"
) -> str:
    r = m.result
    name = name or m.label
    note = _limit_note(m, profile, units)

    def value(v: float | None, with_unit: bool = True) -> str:
        return format_value(v, m.unit, with_unit=with_unit, units=units)

    if not math.isfinite(r.p):
        return f"{name} {value(r.a)} vs {value(r.b)} (too few contacts to test){note}"
    if m.significant and m.practical == "trivial":
        return (
            f"{name} about the same ({value(r.a)} vs "
            f"{value(r.b)}: a clear but trivial difference, under "
            f"{value(m.smallest_change)}){note}"
        )
    if m.significant:
        return (
            f"{name} {format_diff(r.diff, m.unit, units=units)} "
            f"({value(r.a, False)} → {value(r.b)}, "
            f"{m.practical}){note}"
        )
    if _beyond_smallest_change(m):  # large but the test cannot tell it from noise
        return (
            f"{name} {value(r.a)} vs {value(r.b)}: not a clear change (the difference could "
            f"be run-to-run noise){note}"
        )
    return f"{name} unchanged ({value(r.a)} vs {value(r.b)}, difference not significant){note}"


def _beyond_smallest_change(m: MetricComparison) -> bool:
    """The difference is at least the metric's smallest worthwhile change (whatever its
    significance): not significant, it is 'not a clear change', not 'unchanged'."""
    swc = m.smallest_change
    return swc is not None and math.isfinite(m.result.diff) and abs(m.result.diff) >= swc


def speed_sentence(comp: Comparison) -> str | None:
    """What the speed difference means for the comparison, when the speeds differ > 5 %."""
    if not comp.speeds_differ:
        return None
    pct = 100 * comp.speed_change
    u = comp.units
    txt = (
        f"speeds differ by {pct:+.0f} % ({format_value(comp.speed_a, 'm/s', units=u)} vs "
        f"{format_value(comp.speed_b, 'm/s', units=u)}): cadence, contact time, stride length and "
        "flight time change with speed, so compare them at matched speed"
    )
    if comp.matched_range is None:
        return txt + " (the runs share too few strides at a common speed to do that here)"
    lo, hi = comp.matched_range
    parts = []
    for label in ("cadence", "contact time", "stride length"):
        m = comp.get("speed-matched", label)
        if m is not None:
            parts.append(_metric_sentence(m, units=u))
    between = f"{format_value(lo, 'm/s', with_unit=False, units=u)} and {format_value(hi, 'm/s', units=u)}"
    return txt + f"; on the strides between {between}: " + "; ".join(parts)


def _strike_sentence(comp: Comparison, group: str) -> str | None:
    shares = [m for m in (comp.get(group, f"{s} share") for s in STRIKE_TYPES) if m is not None]
    if not shares:
        return None
    # the type that changed most; on a tie (two types trading places) the one that rose
    big = max(shares, key=lambda m: (round(abs(m.result.diff), 9), m.result.diff > 0))
    strike = big.label.split()[0]
    r = big.result
    where = "" if group == "both feet" else f" ({group})"
    if not any(math.isfinite(m.result.p) for m in shares):  # e.g. a split near an end
        return (
            f"strike pattern{where}: {strike} on {format_value(r.a, 'fraction')} vs "
            f"{format_value(r.b, 'fraction')} of contacts (too few contacts to test)"
        )
    if big.significant:
        verb = "rose" if r.diff > 0 else "fell"
        return (
            f"{strike} strikes {verb} from {format_value(r.a, 'fraction')} to "
            f"{format_value(r.b, 'fraction')} of contacts{where}"
        )
    if _beyond_smallest_change(big):
        return (
            f"strike pattern{where}: {strike} on {format_value(r.a, 'fraction')} vs "
            f"{format_value(r.b, 'fraction')} of contacts, not a clear change (the difference "
            "could be run-to-run noise)"
        )
    main = max(shares, key=lambda m: m.result.a + m.result.b)
    return (
        f"strike pattern unchanged{where}: {main.label.split()[0]} on "
        f"{format_value(main.result.a, 'fraction')} vs {format_value(main.result.b, 'fraction')} "
        "of contacts (difference not significant)"
    )


def _nothing_compared(comp: Comparison) -> str:
    """Why no finding could be said: no placement in common, or too few strides (a run of a
    few seconds: its contacts have no full stride, so no cadence)."""
    why = no_common_placement(comp.a, comp.b)
    if why is not None:
        return f"no metric could be compared: {why}"
    counts = []
    for run in (comp.a, comp.b):
        feet, pelvis = len(run.rows("both feet")), len(run.rows("pelvis"))
        counts.append(f"{run.label} has {feet} foot and {pelvis} pelvis contacts")
    return f"no metric could be compared: too few strides ({'; '.join(counts)})"


def summary_sentences(comp: Comparison) -> list[str]:
    """Plain-language findings, most important first (strike pattern, cadence, pelvis...)."""
    out: list[str] = []
    feet = "both feet" if comp.get("both feet", "cadence") else None
    if feet is None:
        for g in ("left foot", "right foot"):
            if comp.get(g, "cadence"):
                feet = g
                break
    # the profile's limits are running limits: walking is compared, not judged (as in the
    # report's walking segments)
    prof = comp.profile if comp.activity in (None, "run") and not comp.unlike else None
    if comp.unlike:
        wa, wb = (ACTIVITY_WORDS[x] for x in comp.unlike)
        out.append(
            f"A is {wa} and B {wb}, no activity in common: these differences are between "
            f"{wa} and {wb}, not a change of form"
        )
    sp = speed_sentence(comp)
    if sp:
        out.append(sp)
    if feet:
        s = _strike_sentence(comp, feet)
        if s:
            out.append(s)
        for label in ("foot strike angle", "cadence", "contact time", "speed", "stride length"):
            m = comp.get(feet, label)
            if m:
                out.append(_metric_sentence(m, profile=prof, units=comp.units))
        for g in ("left foot", "right foot"):
            for label in ("max pronation velocity", "pronation excursion"):
                m = comp.get(g, label)
                if m and (m.significant or _limit_note(m, prof)):
                    name = f"{g.split()[0]} {label}"
                    out.append(_metric_sentence(m, name, profile=prof, units=comp.units))
    elif (m := comp.get("pelvis", "cadence")) is not None:  # no foot sensor: the pelvis'
        out.append(_metric_sentence(m, profile=prof, units=comp.units))
    for label, name in (
        ("pelvic drop, left stance", "left-stance pelvic drop"),
        ("pelvic drop, right stance", "right-stance pelvic drop"),
        ("vertical oscillation", "vertical oscillation"),
        ("vertical ratio", "vertical ratio"),
    ):
        m = comp.get("pelvis", label)
        if m:
            out.append(_metric_sentence(m, name, profile=prof, units=comp.units))
    if not out:
        out.append(_nothing_compared(comp))
    return out
