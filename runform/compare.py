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
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dsp.metrics import METRIC_LIST, metric
from runform.analysis_run import AnalysisResult
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

GROUPS = ("both feet", "left foot", "right foot", "pelvis")


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
        else:
            raise ValueError(f"unknown group {group!r}, expected one of {', '.join(GROUPS)}")
        return df[sel].sort_values("t_ic", kind="stable")


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
            "Effect size: Cliff's delta (share of stride pairs where B > A minus B < A; "
            "|d| < 0.147 negligible, < 0.33 small, < 0.474 medium, else large) or Cohen's h "
            "for shares. Significance: Holm-adjusted p < 0.05 over all "
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


def compare_runs(
    a: Run, b: Run, *, n_boot: int = 2000, n_perm: int = 2000, seed: int = 0
) -> Comparison:
    """Compare every metric of every group present in both runs.

    Parameters
    ----------
    a, b : Run
        Reference (before) and second (after) run.
    n_boot, n_perm : int
        Bootstrap resamples and block permutations per metric.
    seed : int
        Random seed (the numbers are reproducible).
    """
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
    adj = holm([m.result.p for m in out])
    for m, p in zip(out, adj, strict=True):
        m.p_holm = p
    comp = Comparison(a=a, b=b, metrics=out, sentences=[], n_boot=n_boot, n_perm=n_perm, seed=seed)
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
    if unit == "m/s":
        return f"{v:.2f}", _UNIT_TEXT[unit]
    return f"{v:.1f}", _UNIT_TEXT.get(unit, " " + unit)


def format_value(v: float | None, unit: str, *, with_unit: bool = True) -> str:
    """A metric value with its unit, as written in the report (contact time in ms)."""
    if v is None or not math.isfinite(v):
        return "–"
    number, suffix = _scaled(v, unit)
    return number + suffix if with_unit else number


def format_diff(v: float | None, unit: str) -> str:
    """A signed difference with its unit (``pp``: percentage points, for shares)."""
    if v is None or not math.isfinite(v):
        return "–"
    sign = "+" if v > 0 else ("−" if v < 0 else "±")
    number, suffix = _scaled(abs(v), unit)
    return f"{sign}{number}{' pp' if unit == 'fraction' else suffix}"


def format_p(p: float | None) -> str:
    if p is None or not math.isfinite(p):
        return "–"
    if p < 0.001:
        return "< 0.001"
    return f"{p:.3f}" if p < 0.01 else f"{p:.2f}"


def _metric_sentence(m: MetricComparison, name: str | None = None) -> str:
    r = m.result
    name = name or m.label
    if not math.isfinite(r.p):
        return (
            f"{name} {format_value(r.a, m.unit)} vs {format_value(r.b, m.unit)} "
            "(too few contacts to test)"
        )
    if m.significant:
        return (
            f"{name} {format_diff(r.diff, m.unit)} "
            f"({format_value(r.a, m.unit, with_unit=False)} → {format_value(r.b, m.unit)})"
        )
    return (
        f"{name} unchanged ({format_value(r.a, m.unit)} vs {format_value(r.b, m.unit)}, "
        "difference not significant)"
    )


def _strike_sentence(comp: Comparison, group: str) -> str | None:
    shares = [m for m in (comp.get(group, f"{s} share") for s in STRIKE_TYPES) if m is not None]
    if not shares:
        return None
    # the type that changed most; on a tie (two types trading places) the one that rose
    big = max(shares, key=lambda m: (round(abs(m.result.diff), 9), m.result.diff > 0))
    strike = big.label.split()[0]
    r = big.result
    where = "" if group == "both feet" else f" ({group})"
    if big.significant:
        verb = "rose" if r.diff > 0 else "fell"
        return (
            f"{strike} strikes {verb} from {format_value(r.a, 'fraction')} to "
            f"{format_value(r.b, 'fraction')} of contacts{where}"
        )
    main = max(shares, key=lambda m: m.result.a + m.result.b)
    return (
        f"strike pattern unchanged{where}: {main.label.split()[0]} on "
        f"{format_value(main.result.a, 'fraction')} vs {format_value(main.result.b, 'fraction')} "
        "of contacts (difference not significant)"
    )


def summary_sentences(comp: Comparison) -> list[str]:
    """Plain-language findings, most important first (strike pattern, cadence, pelvis...)."""
    out: list[str] = []
    feet = "both feet" if comp.get("both feet", "cadence") else None
    if feet is None:
        for g in ("left foot", "right foot"):
            if comp.get(g, "cadence"):
                feet = g
                break
    if feet:
        s = _strike_sentence(comp, feet)
        if s:
            out.append(s)
        for label in ("foot strike angle", "cadence", "contact time", "speed"):
            m = comp.get(feet, label)
            if m:
                out.append(_metric_sentence(m))
        for g in ("left foot", "right foot"):
            for label in ("max pronation velocity", "pronation excursion"):
                m = comp.get(g, label)
                if m and m.significant:
                    out.append(_metric_sentence(m, f"{g.split()[0]} {label}"))
    for label, name in (
        ("pelvic drop, left stance", "left-stance pelvic drop"),
        ("pelvic drop, right stance", "right-stance pelvic drop"),
        ("vertical oscillation", "vertical oscillation"),
    ):
        m = comp.get("pelvis", label)
        if m:
            out.append(_metric_sentence(m, name))
    if not out:
        out.append("no metric could be compared: the runs share no analysed sensor placement")
    return out
