"""Self-contained HTML reports: one session (``runform report``) and a before/after comparison
(``runform compare``).

Figures are drawn with matplotlib (Agg backend, no display needed) and embedded in the HTML as
base64 PNG, so a report is one file that opens offline in any browser. The same figures can be
written as PNG files. Every number shown comes from :func:`runform.analysis_run.analyse_recording`
(the rows and SUMMARY.json of ``runform analyze``) or from :mod:`runform.compare`.
"""

from __future__ import annotations

import base64
import html
import io
import logging
import math
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from dsp.metrics import FEET, PELVIS, fmt_duration, metric
from runform import __version__
from runform.analysis_run import AnalysisResult
from runform.compare import (
    STRIKE_TYPES,
    Comparison,
    MetricComparison,
    Run,
    format_diff,
    format_p,
    format_value,
)

__all__ = ["Report", "comparison_report", "session_report"]

log = logging.getLogger(__name__)

SIDE_COLORS = {"left": "#1f77b4", "right": "#ff7f0e"}
STRIKE_COLORS = {"rearfoot": "#d62728", "midfoot": "#2ca02c", "forefoot": "#9467bd"}
RUN_COLORS = ("#7f7f7f", "#1f77b4")  # A (before) grey, B (after) blue


def _axis_label(column: str, extra: str = "") -> str:
    """``label (unit)`` of a metric (:mod:`dsp.metrics`; times in ms, as the report shows
    them)."""
    m = metric(column)
    return f"{m.label} ({'ms' if m.unit == 's' else m.symbol.strip()}){extra}"


#: (column, label, unit, placements) drawn over time in a session report.
TIME_METRICS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = tuple(
    (c, _axis_label(c, extra), metric(c).unit, pls)
    for c, extra, pls in (
        ("foot_strike_angle", "", FEET),
        ("cadence", "", FEET),
        ("contact_time", "", FEET),
        ("max_pronation_velocity", "", FEET),
        ("pronation_excursion", "", FEET),
        ("speed", "", FEET),
        ("pelvic_drop", ", by stance side", PELVIS),
        ("vertical_oscillation", "", PELVIS),
    )
)

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:0;
 background:#f6f7f9;color:#1d232b;line-height:1.45}
main{max-width:1180px;margin:0 auto;padding:24px 28px 60px;background:#fff}
h1{font-size:26px;margin:0 0 4px}h2{font-size:20px;margin:34px 0 8px;border-bottom:2px solid #e3e6ea;
 padding-bottom:4px}h3{font-size:16px;margin:18px 0 6px}
.meta{color:#5b6570;font-size:14px}
.findings{background:#eef6ee;border-left:5px solid #2ca02c;padding:12px 18px;margin:18px 0;
 font-size:17px}
.findings li{margin:3px 0}
table{border-collapse:collapse;font-size:14px;margin:8px 0 4px}
table.metrics{font-size:13px}table.metrics td,table.metrics th{padding:3px 7px}
th,td{padding:4px 9px;border-bottom:1px solid #e3e6ea;text-align:right;white-space:nowrap}
th{background:#f1f3f5;font-weight:600}td.l,th.l{text-align:left}
tr.sig td{background:#fff7e0}tr.grp td{background:#f8f9fa;font-weight:600;text-align:left}
img{max-width:100%;height:auto;display:block;margin:6px 0 2px}
.note{color:#5b6570;font-size:13px;max-width:1000px}
.dot{display:inline-block;width:11px;height:11px;border-radius:6px;margin-right:5px;
 vertical-align:-1px}
.next{background:#fff4e5;border-left:5px solid #e66101;padding:12px 18px;margin:14px 0;
 font-size:17px}
table.lights td{padding:3px 10px}
.cue{margin:6px 0 10px}.cue .ev{color:#5b6570;font-size:13px}
.pill{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;color:#fff}
footer{margin-top:40px;color:#8a939c;font-size:12px}
"""


# ----------------------------------------------------------------------------- container
@dataclass
class Report:
    """An HTML report being built: sections of HTML and named figures.

    Attributes
    ----------
    title : str
    parts : list of str
        HTML fragments in order.
    figures : dict
        name -> PNG bytes (embedded in the HTML, written by :meth:`write_pngs`).
    """

    title: str
    parts: list[str] = field(default_factory=list)
    figures: dict[str, bytes] = field(default_factory=dict)
    next_step: str = ""

    def add(self, fragment: str) -> None:
        self.parts.append(fragment)

    def figure(self, name: str, fig: Figure, alt: str, caption: str = "") -> None:
        """Render a matplotlib figure to PNG, keep it and embed it."""
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110)
        plt.close(fig)
        data = buf.getvalue()
        self.figures[name] = data
        b64 = base64.b64encode(data).decode("ascii")
        self.add(f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{b64}">')
        if caption:
            self.add(f'<p class="note">{caption}</p>')

    def html(self) -> str:
        body = "\n".join(self.parts)
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(self.title)}</title><style>{_CSS}</style></head>"
            f"<body><main>{body}<footer>runform {__version__}, generated {stamp}. "
            "Self-contained file: figures are embedded, nothing is loaded from the network."
            "</footer></main></body></html>\n"
        )

    def write_html(self, path: str | os.PathLike[str]) -> None:
        Path(path).write_text(self.html(), encoding="utf-8")

    def write_pngs(self, directory: str | os.PathLike[str], prefix: str = "report_") -> list[Path]:
        """Write every figure as ``DIR/<prefix><name>.png``; returns the paths."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        out = []
        for name, data in self.figures.items():
            p = d / f"{prefix}{name}.png"
            p.write_bytes(data)
            out.append(p)
        return out


def _e(x: object) -> str:
    return html.escape(str(x))


class Spanning(str):
    """A table cell (HTML) spanning ``span`` columns of :func:`_table`: a value of no single
    column, e.g. the session's contact-time balance under the sensors' columns."""

    span: int

    def __new__(cls, text: str, span: int) -> Spanning:
        cell = super().__new__(cls, text)
        cell.span = span
        return cell


def _td(cell: str, left: bool) -> str:
    attrs = ' class="l"' if left else ""
    if isinstance(cell, Spanning) and cell.span > 1:
        attrs += f' colspan="{cell.span}" style="text-align:center"'
    return f"<td{attrs}>{cell}</td>"


def _table(header: list[str], rows: list[list[str]], left: int = 1, classes=None) -> str:
    th = "".join(
        f'<th class="l">{_e(h)}</th>' if i < left else f"<th>{_e(h)}</th>"
        for i, h in enumerate(header)
    )
    body = []
    for k, r in enumerate(rows):
        cls = f' class="{classes[k]}"' if classes and classes[k] else ""
        tds = "".join(_td(c, i < left) for i, c in enumerate(r))
        body.append(f"<tr{cls}>{tds}</tr>")
    return f"<table><thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _fmt_duration(s: float) -> str:
    """``m:ss.s`` or ``h:mm:ss.s`` (:func:`dsp.metrics.fmt_duration`)."""
    return fmt_duration(s)


def contacts_text(df: pd.DataFrame, placements: dict[str, str]) -> str:
    """``"321 foot contacts (161 left, 160 right), 321 pelvis steps"``: foot contacts and
    pelvis steps are counted apart (both are rows of the stride table)."""
    pl = df["sensor_id"].map(placements) if len(df) else pd.Series(dtype=str)
    n_l = int((pl == "left_foot").sum())
    n_r = int((pl == "right_foot").sum())
    n_p = int((pl == "pelvis").sum())
    out = []
    if n_l + n_r:
        out.append(f"{n_l + n_r} foot contacts ({n_l} left, {n_r} right)")
    if n_p:
        out.append(f"{n_p} pelvis steps")
    return ", ".join(out) or "no contacts"


def _placements(res: AnalysisResult) -> dict[str, str]:
    return {s.sensor_id: s.placement for s in res.sensors}


def _scale(col: str) -> float:
    return 1000.0 if col == "contact_time" else 1.0


def _time_axis(duration_s: float) -> tuple[float, str]:
    return (60.0, "time (min)") if duration_s > 600 else (1.0, "time (s)")


def _draw_markers(ax, markers, div: float) -> None:
    for t, _lab, _kind in markers:
        ax.axvline(t / div, color="#444", ls="--", lw=1.0, zorder=1)


#: Marker shape per alert rule, in rule order (matplotlib symbols).
ALERT_MARKERS = ("v", "s", "D", "^", "o", "P", "X", "*")

_LEVEL_COLORS = {"critical": "#b2182b", "warning": "#d62728", "info": "#1f77b4"}


def _draw_event_strip(ax, markers, alerts, div: float, t_end: float | None = None) -> None:
    """A thin axis above the panels: marker lines with their labels, alerts as triangles."""
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    for t, lab, _kind in markers:
        ax.axvline(t / div, color="#444", ls="--", lw=1.0)
        ax.text(t / div, 0.95, f" {lab}", fontsize=9, va="top", ha="left", color="#222")
    if alerts:
        from runform.findings import alert_intervals

        if t_end is None:
            t_end = max(float(a.get("t_clear") or a["t"]) for a in alerts if a.get("t") is not None)
        # an alert that never cleared is on to the end of the recording
        spans = alert_intervals(alerts, t_end)
        rules = sorted(spans)
        for k, rule in enumerate(rules):
            y = 0.15 + 0.5 * k / max(1, len(rules) - 1) if len(rules) > 1 else 0.3
            base = rule.split(" (")[0]
            level = next((a.get("level") for a in alerts if a.get("rule") == base), "warning")
            color = _LEVEL_COLORS.get(str(level), "#d62728")
            # one marker shape per rule (two rules never share a symbol), a bar while it is on
            marker = ALERT_MARKERS[k % len(ALERT_MARKERS)]
            for a, b in spans[rule]:
                ax.plot([a / div, b / div], [y, y], "-", lw=3, color=color, alpha=0.35)
            ax.plot(
                [a / div for a, _b in spans[rule]],
                [y] * len(spans[rule]),
                marker,
                ms=7,
                ls="none",
                color=color,
                label=f"alert: {rule}",
            )
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.25), fontsize=8, frameon=False)
    ax.set_ylabel("markers,\nalerts", fontsize=8, rotation=0, ha="right", va="center")


#: Sessions longer than this (s) are drawn as binned medians with IQR bands, not as dots.
BINNED_ABOVE_S = 600.0


def binned_quartiles(
    t: np.ndarray, v: np.ndarray, bin_s: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per time bin of ``bin_s`` seconds: bin centre, 25th, 50th and 75th percentile of the
    finite values (bins with fewer than 3 values are left out)."""
    ok = np.isfinite(v) & np.isfinite(t)
    t, v = t[ok], v[ok]
    if t.size == 0:
        e = np.empty(0)
        return e, e, e, e
    k = np.floor((t - t.min()) / bin_s).astype(int)
    centres, q1, q2, q3 = [], [], [], []
    for b in np.unique(k):
        x = v[k == b]
        if x.size < 3:
            continue
        a, m, c = np.percentile(x, [25, 50, 75])
        centres.append(t.min() + (b + 0.5) * bin_s)
        q1.append(a)
        q2.append(m)
        q3.append(c)
    return np.array(centres), np.array(q1), np.array(q2), np.array(q3)


def _rolling_median(t: np.ndarray, v: np.ndarray, n: int = 9) -> tuple[np.ndarray, np.ndarray]:
    """The running median of ``n`` values in time order (rows come in the order the analysis
    released them: a pelvis' walking and running steps apart), NaN left out."""
    ok = np.isfinite(v)
    order = np.argsort(t[ok], kind="stable")
    t, v = t[ok][order], v[ok][order]
    if v.size < n:
        return t, v
    s = pd.Series(v).rolling(n, center=True, min_periods=max(3, n // 2)).median().to_numpy()
    return t, s


# ----------------------------------------------------------------------------- figures
def fig_metrics_over_time(
    df: pd.DataFrame,
    placements: dict[str, str],
    duration_s: float,
    markers: list[tuple[float, str, str]],
    alerts: list[dict[str, Any]],
    *,
    split_t: float | None = None,
    units: str = "metric",
) -> Figure | None:
    """Per-stride metrics over time: dots per contact, line = running median of 9 strides;
    lengths and speeds as ``units`` asks (:func:`runform.findings.in_units`)."""
    pl = df["sensor_id"].map(placements)
    panels = []
    for col, label, unit, pls in TIME_METRICS:
        sel = pl.isin(pls) & np.isfinite(pd.to_numeric(df[col], errors="coerce"))
        if sel.any():
            panels.append((col, _label_in_units(label, unit, units), unit, df[sel]))
    if not panels:
        return None
    div, xlabel = _time_axis(duration_s)
    t_end = max(float(df["t_ic"].max()), duration_s) if len(df) else duration_s
    binned = duration_s > BINNED_ABOVE_S
    bin_s = max(10.0, duration_s / 120.0)
    strip = bool(markers or alerts)
    n = len(panels)
    fig = plt.figure(figsize=(11.5, 1.9 * n + (1.3 if strip else 0.8)))
    gs = fig.add_gridspec(n + int(strip), 1, height_ratios=([0.45] if strip else []) + [1.0] * n)
    first = fig.add_subplot(gs[0])
    all_axes = [first] + [fig.add_subplot(gs[i], sharex=first) for i in range(1, n + int(strip))]
    if strip:
        _draw_event_strip(all_axes[0], markers, alerts, div, t_end)
        plt.setp(all_axes[0].get_xticklabels(), visible=False)
    axes = np.array(all_axes[int(strip) :]).reshape(-1, 1)
    for ax in axes[:-1, 0]:
        plt.setp(ax.get_xticklabels(), visible=False)
    for ax, (col, label, unit, sub) in zip(axes[:, 0], panels, strict=True):
        factor = _unit_factor(unit, units)
        for side in ("left", "right"):
            s = sub[sub["side"] == side]
            if s.empty:
                continue
            t = s["t_ic"].to_numpy() / div
            v = s[col].to_numpy(dtype=float) * _scale(col) * factor
            if binned:
                # an hour is ~5,000 dots per side: a solid band; medians and IQR per bin instead
                tc, q1, q2, q3 = binned_quartiles(t, v, bin_s / div)
                ax.fill_between(tc, q1, q3, color=SIDE_COLORS[side], alpha=0.22, lw=0)
                ax.plot(tc, q2, "-", lw=1.6, color=SIDE_COLORS[side], label=side)
                continue
            ax.plot(t, v, ".", ms=3, color=SIDE_COLORS[side], alpha=0.45)
            tm, vm = _rolling_median(t, v)
            ax.plot(tm, vm, "-", lw=1.6, color=SIDE_COLORS[side], label=side)
        if col == "foot_strike_angle":
            ax.axhspan(8.0, max(ax.get_ylim()[1], 8.5), color=STRIKE_COLORS["rearfoot"], alpha=0.06)
            ax.axhline(8.0, color=STRIKE_COLORS["rearfoot"], lw=0.7, ls=":")
            ax.axhline(-1.6, color=STRIKE_COLORS["forefoot"], lw=0.7, ls=":")
        ax.set_title(label, fontsize=9, loc="left", pad=3)
        ax.grid(alpha=0.3)
        _draw_markers(ax, markers, div)
        if split_t is not None:
            ax.axvspan(split_t / div, t_end / div, color="#1f77b4", alpha=0.06, lw=0)
    axes[0, 0].legend(
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
        fontsize=9,
        frameon=False,
        title="stance foot",
        title_fontsize=9,
    )
    axes[-1, 0].set_xlabel(xlabel)
    axes[-1, 0].set_xlim(0.0, t_end / div * 1.01)
    fig.tight_layout()
    return fig


def strike_share_over_time(
    df: pd.DataFrame, placements: dict[str, str], window_s: float
) -> pd.DataFrame:
    """Share of each strike type in consecutive windows (both feet), one row per window."""
    pl = df["sensor_id"].map(placements)
    s = df[pl.isin(["left_foot", "right_foot"]) & (df["strike_type"].fillna("") != "")]
    if s.empty:
        return pd.DataFrame(columns=["t_mid", "n", *STRIKE_TYPES])
    t0 = float(s["t_ic"].min())
    b = np.floor((s["t_ic"].to_numpy() - t0) / window_s).astype(int)
    rows = []
    for k in np.unique(b):
        st = s["strike_type"].to_numpy()[b == k]
        rows.append(
            {
                "t_mid": t0 + (k + 0.5) * window_s,
                "n": int(st.size),
                **{x: float(np.mean(st == x)) for x in STRIKE_TYPES},
            }
        )
    return pd.DataFrame(rows)


def fig_strike_share(df, placements, duration_s, markers, alerts) -> Figure | None:
    """Stacked bars: strike-type share per time window, both feet."""
    window = max(10.0, min(60.0, duration_s / 20.0))
    tab = strike_share_over_time(df, placements, window)
    if tab.empty:
        return None
    div, xlabel = _time_axis(duration_s)
    fig, ax = plt.subplots(figsize=(11.5, 2.8))
    bottom = np.zeros(len(tab))
    for x in STRIKE_TYPES:
        v = 100 * tab[x].to_numpy()
        ax.bar(
            tab["t_mid"] / div,
            v,
            width=0.92 * window / div,
            bottom=bottom,
            color=STRIKE_COLORS[x],
            label=x,
        )
        bottom += v
    ax.set_ylim(0, 100)
    ax.set_ylabel(f"% of contacts\n(per {window:.0f} s)")
    ax.set_xlabel(xlabel)
    _draw_markers(ax, markers, div)
    for t, lab, _kind in markers:
        ax.annotate(
            lab,
            (t / div, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(3, 2),
            textcoords="offset points",
            fontsize=9,
            va="bottom",
        )
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=9, frameon=False)
    fig.tight_layout()
    return fig


def fig_left_right(
    df: pd.DataFrame, placements: dict[str, str], units: str = "metric"
) -> Figure | None:
    """Box plots of left vs right per metric."""
    pl = df["sensor_id"].map(placements)
    panels = []
    for col, label, unit, pls in TIME_METRICS:
        sub = df[pl.isin(pls)]
        shown = _scale(col) * _unit_factor(unit, units)
        vals = {
            side: sub.loc[sub["side"] == side, col].to_numpy(dtype=float) * shown
            for side in ("left", "right")
        }
        vals = {k: v[np.isfinite(v)] for k, v in vals.items()}
        if all(v.size for v in vals.values()):
            panels.append((_label_in_units(label, unit, units), vals))
    if not panels:
        return None
    ncol = 4
    nrow = -(-len(panels) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(11.5, 2.6 * nrow), squeeze=False)
    for ax in axes.ravel()[len(panels) :]:
        ax.set_visible(False)
    for ax, (label, vals) in zip(axes.ravel(), panels, strict=False):
        bp = ax.boxplot(
            [vals["left"], vals["right"]], widths=0.55, showfliers=False, patch_artist=True
        )
        ax.set_xticks([1, 2], ["left", "right"])
        for patch, side in zip(bp["boxes"], ("left", "right"), strict=True):
            patch.set_facecolor(SIDE_COLORS[side])
            patch.set_alpha(0.55)
        ax.set_title(label, fontsize=9)
        ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig


def fig_overlays(res: AnalysisResult) -> Figure | None:
    """Foot pitch over the stride, every stride a thin line coloured by its strike type."""
    feet = [(sid, tr) for sid, tr in res.traces.items() if tr]
    if not feet:
        return None
    df = res.strides
    fig, axes = plt.subplots(1, len(feet), figsize=(11.5, 3.8), squeeze=False, sharey=True)
    x = np.linspace(0, 100, 101)
    for ax, (sid, traces) in zip(axes[0], feet, strict=True):
        rows = df[df["sensor_id"] == sid].set_index("t_ic")
        stack = []
        for t_ic, pitch in traces:
            p = np.asarray(pitch, dtype=float)
            if p.size != x.size:
                continue
            st = rows["strike_type"].get(round(t_ic, 6), "") if not rows.empty else ""
            if isinstance(st, pd.Series):
                st = st.iloc[0]
            ax.plot(x, p, lw=0.5, alpha=0.25, color=STRIKE_COLORS.get(st, "#999"))
            stack.append(p)
        if stack:
            ax.plot(x, np.median(np.vstack(stack), axis=0), color="k", lw=2, label="median")
        ax.set_title(
            f"{sid} ({res.placement_of(sid).replace('_', ' ')}): {len(stack)} strides", fontsize=10
        )
        ax.set_xlabel("stride from initial contact (%)")
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("foot pitch (°, + toes up)")
    handles = [plt.Line2D([], [], color=c, lw=2, label=k) for k, c in STRIKE_COLORS.items()]
    handles.append(plt.Line2D([], [], color="k", lw=2, label="median"))
    fig.legend(handles=handles, fontsize=9, loc="lower center", ncol=len(handles), frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


# ----------------------------------------------------------------------------- findings
#: Traffic-light colours (a colour-blind reader gets the word in the cell's title and legend).
LIGHT_COLORS = {"green": "#1a9850", "amber": "#f1a340", "red": "#d73027", "info": "#c7ccd1"}


def _light_rows(fs: list) -> list[list[str]]:
    """One table row per metric judged in any of the segments ``fs``: its label, then the
    traffic-light cell of each segment (empty where that segment has no such finding)."""
    keys: list[tuple[str, str]] = []
    for sf in fs:
        for f in sf.findings:
            if (f.key, f.label) not in keys:
                keys.append((f.key, f.label))
    rows = []
    for key, label in keys:
        row = [_e(label)]
        for sf in fs:
            got = sf.get(key)
            row.append(_light_cell(got) if got is not None else "")
        rows.append(row)
    return rows


def _light_cell(f: Any) -> str:
    col = LIGHT_COLORS[f.light.level]
    tip = f.light.level + (f" ({f.light.source})" if f.light.source else "")
    return f'<span class="dot" style="background:{col}" title="{_e(tip)}"></span>{_e(f.text)}'


def findings_html(
    res: AnalysisResult, *, profile: Any = None, units: str = "metric"
) -> tuple[str, str]:
    """The findings section of a session report and its next step
    (:func:`runform.findings.next_step`)."""
    from runform.analysis_run import no_contact_reasons
    from runform.compare import _with_placement
    from runform.findings import (
        CUES,
        make_segments,
        next_step,
        problems,
        running_contacts,
        segment_findings,
        share_cell,
    )

    df = _with_placement(res)
    segs = make_segments(
        df,
        t_start=res.t_start,
        t_end=res.t_start + res.duration_s,
        markers=res.markers,
        summary=res.summary,
    )
    fs = [segment_findings(sg, profile=profile, alerts=res.alerts, units=units) for sg in segs]
    parts = ["<h2>Findings</h2>"]
    reasons = no_contact_reasons(res)
    step = next_step(
        fs,
        units,
        running_contacts=running_contacts(df),
        no_contacts=not len(df) and bool(reasons),
    )
    parts.append(f'<div class="next"><b>Next step.</b> {_e(step)}</div>')
    for sid, why in reasons.items():  # e.g. a trial too short to align a foot sensor
        parts.append(f'<p class="note">{_e(sid)}: {_e(why)}</p>')
    if not fs:
        if not running_contacts(df) and not (reasons and not len(df)):  # else the next
            # step says how few, or the notes above why there is none
            parts.append('<p class="note">Too few contacts to judge.</p>')
        return "\n".join(parts), step
    rows = _light_rows(fs)
    rules = sorted({r for sf in fs for r in sf.alert_share})
    for rule in rules:
        rows.append(
            [f"alert <i>{_e(rule)}</i> on"] + [share_cell(sf.alert_share.get(rule)) for sf in fs]
        )
    header = ["metric", *[sf.segment.label for sf in fs]]
    parts.append(_table(header, rows).replace("<table>", '<table class="lights">', 1))
    legend = " ".join(
        f'<span class="dot" style="background:{LIGHT_COLORS[k]}"></span>{w}'
        for k, w in (
            ("green", "within the limit"),
            ("amber", "borderline (between the alert's clear and on limits)"),
            ("red", "beyond the limit"),
            ("info", "shown, not judged"),
        )
    )
    pname = getattr(profile, "name", "default")
    parts.append(
        f'<p class="note">{legend}. Segments: the session cut at its markers and activity '
        "bouts; medians per segment (heel strikes: share of contacts). Limits: the alert "
        f"profile <b>{_e(pname)}</b> where it has a rule, else published ranges "
        "(docs/compare_report.md lists them); walking is shown, not judged. "
        '"Alert on": share of the segment\'s time the alert was active.</p>'
    )
    seen: list[str] = []
    items = []
    running = [sf for sf in fs if sf.segment.running]
    latest = running[-1] if running else None
    # the latest running segment's problems first; earlier ones say whether they got better
    for sf in ([latest] if latest else []) + [x for x in reversed(fs) if x is not latest]:
        for f in problems(sf):
            if f.metric in seen:
                continue
            seen.append(f.metric)
            cue = CUES[f.metric]
            now = latest.get(f.key) if latest is not None and sf is not latest else None
            better = ""
            if latest is not None and now is not None and not now.problem:
                better = f" <i>Better by {_e(latest.segment.label)}: {_e(now.text)}.</i>"
            items.append(
                f'<li class="cue"><b>{_e(cue.title.capitalize())}</b> '
                f"({_e(f.label)} {_e(f.text)}, {_e(sf.segment.label)}): {_e(cue.action)}."
                f"{better}"
                f'<br><span class="ev">Evidence: {_e(cue.evidence)}.</span></li>'
            )
    if items:
        parts.append("<h3>What to do</h3><ul>" + "".join(items) + "</ul>")
    return "\n".join(parts), step


# ----------------------------------------------------------------------------- session
_SUMMARY_KEYS: tuple[tuple[str, str, str], ...] = (
    ("contacts", "contacts", ""),
    ("cadence_median", "cadence", "steps/min"),
    ("contact_time_median", "contact time", "s"),
    ("foot_strike_angle_median", "foot strike angle", "deg"),
    ("strike_type_fraction", "rearfoot / midfoot / forefoot", "fraction"),
    ("max_pronation_velocity_median", "max pronation velocity", "deg/s"),
    ("pronation_excursion_median", "pronation excursion", "deg"),
    ("speed_median", "speed", "m/s"),
    ("pace_median", "pace", "pace"),
    ("distance", "distance", "distance"),
    ("stride_length_median", "stride length", "stride_length"),
    ("flight_time_median", "flight time", "s"),
    ("peak_impact_median", "impact at the shoe", "g"),
    ("pelvic_drop_median", "pelvic drop, left / right stance", "deg"),
    ("vertical_oscillation_median", "vertical oscillation", "cm"),
    ("vertical_ratio_median", "vertical ratio", "vertical_ratio"),
)


def _unit_factor(unit: str, units: str) -> float:
    """What a value in ``unit`` is multiplied by to be shown as ``units`` asks (1 if the
    same)."""
    from runform.findings import in_units

    return float(in_units(1.0, unit, units)[0] or 1.0)


def _label_in_units(label: str, unit: str, units: str) -> str:
    """``"vertical oscillation (cm)"`` -> ``"... (in)"`` with ``--units imperial``."""
    from runform.findings import in_units

    new = in_units(None, unit, units)[1]
    return label.replace(f"({unit})", f"({new})") if new != unit else label


def _summary_rows(
    summary: dict[str, Any], units: str = "metric"
) -> tuple[list[str], list[list[str]]]:
    """The session summary with one column per sensor and one row per metric (medians)."""
    rank = {"left_foot": 0, "right_foot": 1, "pelvis": 2}
    items = sorted(
        summary.get("sensors", {}).items(),
        key=lambda kv: (rank.get(kv[1].get("placement", ""), 9), kv[0]),
    )
    sensors = dict(items)
    header = [
        "median",
        *[
            sid if sid == s.get("placement") else f"{sid} ({s.get('placement', '')})"
            for sid, s in sensors.items()
        ],
    ]
    rows = []
    for key, label, unit in _SUMMARY_KEYS:
        if not any(key in s for s in sensors.values()):
            continue
        row = [_e(label)]
        for s in sensors.values():
            v = s.get(key)
            if key not in s:
                row.append("")
            elif key == "contacts":
                row.append(str(v))
            elif key == "strike_type_fraction":
                row.append(" / ".join(format_value(v.get(k), unit) for k in STRIKE_TYPES))
            elif key == "pelvic_drop_median":
                row.append(
                    f"{format_value(v.get('left'), unit)} / {format_value(v.get('right'), unit)}"
                )
            elif unit in ("pace", "distance", "stride_length", "vertical_ratio"):
                from runform.findings import fmt

                row.append(fmt(unit, v, units))
            else:
                row.append(format_value(v, unit, units=units))
        rows.append(row)
    return header, rows


def left_right_table(df: pd.DataFrame, placements: dict[str, str]) -> list[dict[str, Any]]:
    """Median left, median right, difference and symmetry index per metric.

    Symmetry index = ``100 (L - R) / ((L + R) / 2)`` in % (Robinson et al. 1987), left only
    for metrics whose values are positive.
    """
    pl = df["sensor_id"].map(placements)
    out = []
    for col, label, unit, pls in TIME_METRICS:
        sub = df[pl.isin(pls)]
        med = {}
        for side in ("left", "right"):
            v = sub.loc[sub["side"] == side, col].to_numpy(dtype=float)
            v = v[np.isfinite(v)]
            med[side] = float(np.median(v)) if v.size else math.nan
            med[f"n_{side}"] = int(v.size)
        if not (math.isfinite(med["left"]) and math.isfinite(med["right"])):
            continue
        mean = (med["left"] + med["right"]) / 2
        si = 100 * (med["left"] - med["right"]) / mean if mean > 0 and unit != "deg" else math.nan
        out.append(
            {
                "metric": col,
                "label": label,
                "unit": unit,
                "left": med["left"],
                "right": med["right"],
                "diff": med["left"] - med["right"],
                "symmetry_index_pct": si,
                "n_left": med["n_left"],
                "n_right": med["n_right"],
            }
        )
    return out


# ----------------------------------------------------------------------------- footpod
FOOTPOD_COLOR = "#222222"


@dataclass
class FootpodView:
    """One footpod stream prepared for the report.

    Attributes
    ----------
    stream_id, device_model : str
    t : ndarray (N,)
        Times, s.
    speed : ndarray (N,) or None
        m/s.
    cadence : ndarray (N,) or None
        As the pod sent it, 1/min.
    check : CadenceCheck
        The pod's cadence unit compared with the IMU cadence (``factor`` → steps/min).
    """

    stream_id: str
    device_model: str
    t: np.ndarray
    speed: np.ndarray | None
    cadence: np.ndarray | None
    check: Any

    @property
    def label(self) -> str:
        return f"{self.stream_id} ({self.device_model})" if self.device_model else self.stream_id


def footpod_views(streams: list[Any], df: pd.DataFrame, placements: dict[str, str]):
    """Footpod streams of a recording with their cadence unit checked against the IMU cadence
    of the foot sensors (steps/min; pelvis rows when no foot sensor has cadence)."""
    from firmware_bridge.footpod import cadence_factor, footpod_streams

    imu = np.empty(0)
    if len(df):
        pl = df["sensor_id"].map(placements)
        cad = pd.to_numeric(df["cadence"], errors="coerce")
        for pls in (("left_foot", "right_foot"), ("pelvis",)):
            v = cad[pl.isin(pls)].to_numpy(dtype=float)
            imu = v[np.isfinite(v)]
            if imu.size:
                break
    out = []
    for st in footpod_streams(streams):
        speed = st.values.get("speed_mps")
        cadence = st.values.get("cadence_spm")
        check = cadence_factor(
            cadence if cadence is not None else [math.nan], imu, name=st.stream_id
        )
        out.append(FootpodView(st.stream_id, st.device_model, st.t, speed, cadence, check))
    return out


def _median(v: np.ndarray | None) -> float:
    """Median of the values while running (a pod standing still reads 0)."""
    if v is None:
        return math.nan
    v = v[np.isfinite(v) & (v > 0)]
    return float(np.median(v)) if v.size else math.nan


def _add_footpod_columns(
    header: list[str], rows: list[list[str]], pods: list[FootpodView], units: str = "metric"
):
    """Append one summary column per footpod (median speed and cadence while running, side by
    side with the IMU medians); cadence in steps/min, with the pod's own value when it was
    converted."""
    for pod in pods:
        header.append(pod.label if "pod" in pod.stream_id else f"{pod.label} footpod")
        cad = _median(pod.cadence)
        if math.isfinite(cad) and pod.check.factor != 1.0:
            cad_txt = (
                f"{format_value(cad * pod.check.factor, 'steps/min')} "
                f"(pod sends {cad:.0f}/min, ×{pod.check.factor:g})"
            )
        else:
            cad_txt = format_value(cad, "steps/min")
        speed = format_value(_median(pod.speed), "m/s", units=units)
        values = {"cadence": cad_txt, "speed": speed}
        for label in values:
            if not any(r[0] == _e(label) for r in rows):
                rows.append([_e(label)] + [""] * (len(header) - 2))
        for r in rows:
            r.append(values.get(html.unescape(r[0]), ""))
    return header, rows


def fig_footpod(
    df: pd.DataFrame,
    placements: dict[str, str],
    pods: list[FootpodView],
    duration_s: float,
    markers: list[tuple[float, str, str]],
    units: str = "metric",
) -> Figure | None:
    """Speed and cadence over time: IMU per stride (dots, running median per side) and each
    footpod (black line) on the same axes; pod cadence converted to steps/min by its check;
    speed as ``units`` asks."""
    if not pods:
        return None
    div, xlabel = _time_axis(duration_s)
    fig, axes = plt.subplots(2, 1, figsize=(11.5, 5.2), sharex=True)
    pl = df["sensor_id"].map(placements) if len(df) else pd.Series(dtype=str)
    mps = _unit_factor("m/s", units)
    for ax, col, label in (
        (axes[0], "speed", _label_in_units("speed (m/s)", "m/s", units)),
        (axes[1], "cadence", "cadence (steps/min)"),
    ):
        shown = mps if col == "speed" else 1.0
        if len(df):
            foot = df[pl.isin(("left_foot", "right_foot"))]
            sub = foot if col == "speed" or len(foot) else df[pl == "pelvis"]
            for side in ("left", "right"):
                s = sub[sub["side"] == side]
                v = pd.to_numeric(s[col], errors="coerce").to_numpy(dtype=float) * shown
                if not np.isfinite(v).any():
                    continue
                t = s["t_ic"].to_numpy() / div
                if duration_s > BINNED_ABOVE_S:
                    tc, q1, q2, q3 = binned_quartiles(t, v, max(10.0, duration_s / 120.0) / div)
                    ax.fill_between(tc, q1, q3, color=SIDE_COLORS[side], alpha=0.22, lw=0)
                    ax.plot(tc, q2, "-", lw=1.4, color=SIDE_COLORS[side], label=f"IMU {side}")
                    continue
                ax.plot(t, v, ".", ms=3, color=SIDE_COLORS[side], alpha=0.45)
                tm, vm = _rolling_median(t, v)
                ax.plot(tm, vm, "-", lw=1.4, color=SIDE_COLORS[side], label=f"IMU {side}")
        for k, pod in enumerate(pods):
            v = pod.speed if col == "speed" else pod.cadence
            if v is None:
                continue
            scale = pod.check.factor if col == "cadence" else shown
            # a pod standing still reads 0: not drawn, it would squash the running scale
            v = np.where(v > 0, v, np.nan)
            name = pod.stream_id if "pod" in pod.stream_id else f"footpod {pod.stream_id}"
            if col == "cadence" and scale != 1.0:
                name += f" ×{scale:g}"
            ax.plot(
                pod.t / div,
                v * scale,
                ("--", ":", "-.")[k % 3],
                lw=2.0,
                color=FOOTPOD_COLOR,
                drawstyle="steps-post",
                label=name,
            )
        ax.set_title(label, fontsize=9, loc="left", pad=3)
        ax.grid(alpha=0.3)
        _draw_markers(ax, markers, div)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    axes[-1].set_xlabel(xlabel)
    fig.tight_layout()
    return fig


def _read_streams(path: str) -> list[Any]:
    """The ``/streams`` of the recording at ``path`` ([] when it has none)."""
    from recordings import open_recording

    with open_recording(path) as rec:
        return rec.streams()


def session_report(
    res: AnalysisResult,
    *,
    streams: list[Any] | None = None,
    profile: Any = None,
    units: str = "metric",
) -> Report:
    """The report of one session (see the module docstring): findings first.

    Parameters
    ----------
    res : AnalysisResult
    streams : list of recordings StreamData, optional
        ``/streams`` of the recording (footpods); read from ``res.recording`` when omitted.
    profile : dsp.alerts.Profile, optional
        The alert profile whose limits the findings use (the default one when omitted).
    units : {"metric", "imperial"}
        Units of pace, distance, stride length and vertical oscillation in the findings.
    """
    if profile is None:
        from runform.profiles import resolve_profile

        profile = resolve_profile(None)
    name = Path(res.recording).name
    rep = Report(title=f"runform session report: {name}")
    pls = _placements(res)
    df = res.strides
    alerts = res.alerts
    rep.add(f"<h1>Session report: {_e(name)}</h1>")
    meta = [
        f"duration {_fmt_duration(res.duration_s)}",
        contacts_text(df, pls),
        "sensors: "
        + ", ".join(
            f"{s.sensor_id} ({s.placement}, {s.device_model}, {s.sample_rate_hz:g} Hz)"
            for s in res.sensors
        ),
    ]
    created, start = res.attrs.get("created_utc"), res.attrs.get("start_utc")
    if start:  # the wall clock of t = 0 (a run downloaded from the sensors: created_utc is
        # the download)
        meta.insert(0, f"started {start}" + (f" (file written {created})" if created else ""))
    elif created:
        meta.insert(0, f"recorded {created}")  # escaped with the others below
    rep.add(f'<p class="meta">{" · ".join(_e(m) for m in meta)}</p>')
    if res.notes:
        rep.add(f'<p class="meta">notes: {_e(res.notes)}</p>')

    section, rep.next_step = findings_html(res, profile=profile, units=units)
    rep.add(section)
    if streams is None:
        streams = _read_streams(res.recording)
    pods = footpod_views(streams, df, pls)
    rep.add("<h2>Summary</h2>")
    from runform.findings import summary_by_activity

    parts = summary_by_activity(res.summary)
    for i, (what, part) in enumerate(parts):
        header, rows = _summary_rows(part, units)
        if what:  # walking and running apart: a median over both describes neither
            header[0] = f"median, {what}"
        bal = (part.get("balance") or {}).get("contact_time_left_pct")
        if bal is not None:  # of the session (SUMMARY top-level balance), not of one sensor:
            # one cell under all the sensors' columns
            rows.append(
                [
                    "contact time balance, both feet (left share)",
                    Spanning(f"{bal:.1f} % left", len(header) - 1),
                ]
            )
        if pods and i == 0:
            header, rows = _add_footpod_columns(header, rows, pods, units)
        rep.add(_table(header, rows))
    for pod in pods:
        if pod.check.note:
            rep.add(f'<p class="note footpod-check"><b>Footpod:</b> {_e(pod.check.note)}.</p>')
    rep.add(
        '<p class="note">Medians over the session, as in SUMMARY.json of '
        "<code>runform analyze</code>"
        + (
            " (running and walking apart: its <code>by_activity</code> medians)"
            if len(parts) > 1
            else ""
        )
        + ". Strike type after Altman &amp; Davis (2012): rearfoot "
        "above 8°, forefoot below −1.6° foot strike angle. Pelvic drop is keyed by the stance "
        "foot: a large value on the left means the right side of the pelvis drops while "
        "standing on the left leg (weak left hip abductors).</p>"
    )
    ev = []
    for t, lab, kind in res.markers:
        ev.append([f"{t:.1f} s", _e(kind), _e(lab)])
    for a in alerts:
        ev.append(
            [
                f"{float(a['t']):.1f} s",
                f'<span class="pill" style="background:#d62728">alert '
                f"{_e(a.get('level', ''))}</span>",
                _e(f"{a.get('rule', '')}: {a.get('message', '')}"),
            ]
        )
    ev.sort(key=lambda r: float(r[0].split()[0]))
    rep.add("<h3>Markers and alerts</h3>")
    if ev:
        rep.add(_table(["time", "kind", "label"], ev[:200], left=3))
        if len(ev) > 200:
            rep.add(f'<p class="note">… and {len(ev) - 200} more.</p>')
    else:
        rep.add('<p class="note">No markers or alerts in this recording.</p>')

    rep.add("<h2>Per-stride metrics over time</h2>")
    fig = fig_metrics_over_time(df, pls, res.duration_s, res.markers, alerts, units=units)
    if fig is not None:
        rep.figure(
            "metrics_over_time",
            fig,
            "per-stride metrics over time",
            (
                f"Lines: median per {max(10.0, res.duration_s / 120.0):.0f} s (blue left, "
                "orange right); bands: the interquartile range of the contacts in each bin. "
                if res.duration_s > BINNED_ABOVE_S
                else "Dots: one per contact (blue left, orange right); lines: running median "
                "of 9 contacts. "
            )
            + "Dashed lines: markers; top strip: alerts, one row and one marker shape per "
            "rule, a bar while the alert is on (listed in the table above). Foot strike "
            "angle: dotted lines at the rearfoot (8°) and forefoot (−1.6°) limits.",
        )
    else:
        rep.add('<p class="note">No contacts were found in this recording.</p>')

    if pods:
        rep.add("<h2>Footpod vs IMU: speed and cadence</h2>")
        fig = fig_footpod(df, pls, pods, res.duration_s, res.markers, units)
        if fig is not None:
            rep.figure(
                "footpod",
                fig,
                "footpod speed and cadence next to the IMU-derived values",
                "Dots: IMU value per contact (blue left, orange right) with the running median "
                "of 9 contacts; black line: the footpod's own speed and cadence as it sent them "
                "(about once a second), cadence in steps/min (see the note above when the pod "
                "reports strides/min).",
            )

    rep.add("<h2>Strike type over time</h2>")
    fig = fig_strike_share(df, pls, res.duration_s, res.markers, alerts)
    if fig is not None:
        rep.figure("strike_share", fig, "strike-type share over time")
    else:
        rep.add('<p class="note">No foot contacts with a strike type.</p>')

    rep.add("<h2>Left / right</h2>")
    lr_df, lr_what = df, ""
    if "activity" in df.columns:
        act = df["activity"].fillna("").astype(str)
        if {"run", "walk"} <= set(act):  # a side's median over both describes neither
            lr_df, lr_what = df[act.isin(["run", ""])], " of the running contacts"
    lr = left_right_table(lr_df, pls)
    if lr:
        rows = []
        for r in lr:
            si = r["symmetry_index_pct"]
            rows.append(
                [
                    _e(_label_in_units(r["label"], r["unit"], units)),
                    format_value(r["left"], r["unit"], units=units),
                    format_value(r["right"], r["unit"], units=units),
                    format_diff(r["diff"], r["unit"], units=units),
                    f"{si:+.1f} %" if math.isfinite(si) else "–",
                    f"{r['n_left']} / {r['n_right']}",
                ]
            )
        rep.add(
            _table(["metric", "left", "right", "left − right", "symmetry index", "contacts"], rows)
        )
        rep.add(
            f'<p class="note">Medians per side{lr_what}. Symmetry index = 100·(L − R)/mean(L, R), '
            "for metrics that are always positive. The difference and the index are those of the "
            "unrounded medians, so the difference can be one in its last digit off the rounded "
            "values' (cadence 173 and 173, difference −1: 172.6 − 173.4).</p>"
        )
        fig = fig_left_right(lr_df, pls, units)
        if fig is not None:
            rep.figure(
                "left_right",
                fig,
                "left vs right box plots",
                "Boxes: quartiles; whiskers: 1.5 × IQR (outliers not drawn).",
            )
    else:
        rep.add('<p class="note">Needs contacts of both sides.</p>')

    rep.add("<h2>Per-stride overlays</h2>")
    fig = fig_overlays(res)
    if fig is not None:
        rep.figure(
            "overlays",
            fig,
            "foot pitch over each stride",
            "Foot pitch from initial contact (0 %) to the next one (100 %), each stride a "
            "thin line coloured by its strike type; black: the median stride. A heel strike "
            "starts high (toes up), a forefoot strike below zero.",
        )
    else:
        rep.add('<p class="note">No stride traces (no foot sensor analysed).</p>')
    return rep


# ----------------------------------------------------------------------------- compare
def metric_cells(m: MetricComparison, units: str = "metric") -> dict[str, str]:
    """The cells of one metric's row of the comparison table, plain text: ``label``, ``a``,
    ``b``, ``diff``, ``ci`` (95 % interval, the unit written once), ``effect``, ``p``,
    ``p_holm``, ``n`` (values and effective sizes). The HTML report and ``compare`` without
    outputs (a terminal table) show the same."""
    r = m.result
    if r.ci_low is not None and math.isfinite(r.ci_low):
        lo = format_diff(r.ci_low, m.unit, units=units)
        hi = format_diff(r.ci_high, m.unit, units=units)
        unit_txt = hi.lstrip("+−±0123456789.")
        if unit_txt and lo.endswith(unit_txt):
            lo = lo[: len(lo) - len(unit_txt)].rstrip()
        ci = f"{lo} … {hi}"
    else:
        ci = "–"
    return {
        "label": m.label,
        "a": format_value(r.a, m.unit, units=units),
        "b": format_value(r.b, m.unit, units=units),
        "diff": format_diff(r.diff, m.unit, units=units),
        "ci": ci,
        "effect": f"{r.effect:+.2f} {m.practical}" if math.isfinite(r.effect) else "–",
        "p": format_p(r.p),
        "p_holm": format_p(m.p_holm),
        "n": f"{r.n_a}/{r.n_b} ({r.n_eff_a:.0f}/{r.n_eff_b:.0f})",
    }


def _metric_row(m: MetricComparison, units: str = "metric") -> list[str]:
    c = metric_cells(m, units)
    diff = f"<b>{c['diff']}</b>" if m.significant else c["diff"]
    return [_e(c["label"]), c["a"], c["b"], diff, c["ci"], c["effect"], c["p"], c["p_holm"], c["n"]]


def fig_compare_distributions(comp: Comparison, units: str = "metric") -> Figure | None:
    """Per metric (both feet / pelvis): A and B as box plots with the medians marked (lengths
    and speeds in ``units``)."""
    from runform.findings import in_units

    panels = [
        m
        for m in comp.metrics
        if (m.group == "both feet" and m.metric != "strike_type") or m.group == "pelvis"
    ]
    if not panels:
        return None
    ncol = 4
    nrow = -(-len(panels) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(11.5, 2.5 * nrow), squeeze=False)
    for ax in axes.ravel()[len(panels) :]:
        ax.set_visible(False)
    for ax, m in zip(axes.ravel(), panels, strict=False):
        factor, shown = in_units(1.0, m.unit, units)
        vals = []
        for run in (comp.a, comp.b):
            if m.metric == "vertical_ratio":
                from runform.compare import _vertical_ratios

                v = _vertical_ratios(run)
                vals.append(v[np.isfinite(v)])
                continue
            rows = run.rows(m.group)
            if m.label.startswith("pelvic drop"):
                rows = rows[rows["side"] == m.label.split(",")[1].split()[0]]
            # every time in ms, as the title says (flight time too, not only contact time)
            ms = 1000.0 if m.unit == "s" else 1.0
            v = rows[m.metric].to_numpy(dtype=float) * ms * factor
            vals.append(v[np.isfinite(v)])
        bp = ax.boxplot(vals, widths=0.55, showfliers=False, patch_artist=True)
        for patch, c in zip(bp["boxes"], RUN_COLORS, strict=True):
            patch.set_facecolor(c)
            patch.set_alpha(0.5)
        ax.set_xticks([1, 2], ["A", "B"])
        star = " *" if m.significant else ""
        unit = {"s": "ms", "deg": "°", "deg/s": "°/s"}.get(m.unit, shown)
        name = f"pelvis {m.label}" if m.group == "pelvis" and m.metric == "cadence" else m.label
        diff = format_diff(m.result.diff, m.unit, units=units)
        ax.set_title(f"{name} ({unit}){star}\n{diff}", fontsize=9)
        ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig


def fig_compare_strikes(comp: Comparison) -> Figure | None:
    """Strike-type shares of A and B per foot (stacked bars) and the foot strike angle
    histograms."""
    groups = [g for g in ("left foot", "right foot") if comp.get(g, "rearfoot share")]
    if not groups:
        return None
    fig, axes = plt.subplots(
        1,
        1 + len(groups),
        figsize=(11.5, 3.6),
        gridspec_kw={"width_ratios": [1.1] + [1.5] * len(groups)},
    )
    ax = axes[0]
    labels, pos = [], []
    for gi, g in enumerate(groups):
        for ri, (_run, name) in enumerate(((comp.a, "A"), (comp.b, "B"))):
            x = gi * 2.6 + ri
            bottom = 0.0
            for s in STRIKE_TYPES:
                m = comp.get(g, f"{s} share")
                v = 100 * (m.result.a if ri == 0 else m.result.b) if m else 0.0
                ax.bar(
                    x,
                    v,
                    bottom=bottom,
                    color=STRIKE_COLORS[s],
                    width=0.85,
                    label=s if (gi == 0 and ri == 0) else None,
                )
                bottom += v
            labels.append(f"{name}\n{g.split()[0]}")
            pos.append(x)
    ax.set_xticks(pos, labels, fontsize=8)
    ax.set_ylim(0, 100)
    ax.set_ylabel("% of contacts")
    ax.set_title("strike type", fontsize=10)
    ax.legend(
        fontsize=8,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.22),
        ncol=3,
        frameon=False,
        handlelength=1.0,
        columnspacing=0.8,
    )
    for ax, g in zip(axes[1:], groups, strict=True):
        va = comp.a.rows(g)["foot_strike_angle"].to_numpy(dtype=float)
        vb = comp.b.rows(g)["foot_strike_angle"].to_numpy(dtype=float)
        va, vb = va[np.isfinite(va)], vb[np.isfinite(vb)]
        allv = np.concatenate([va, vb]) if va.size + vb.size else np.zeros(1)
        bins = np.arange(math.floor(allv.min()) - 1, math.ceil(allv.max()) + 2, 1.0)
        ax.hist(va, bins=bins, color=RUN_COLORS[0], alpha=0.6, label="A", density=True)
        ax.hist(vb, bins=bins, color=RUN_COLORS[1], alpha=0.6, label="B", density=True)
        ax.axvline(8.0, color=STRIKE_COLORS["rearfoot"], ls=":", lw=1)
        ax.axvline(-1.6, color=STRIKE_COLORS["forefoot"], ls=":", lw=1)
        ax.set_title(f"foot strike angle, {g}", fontsize=10)
        ax.set_xlabel("foot strike angle (°)")
        ax.legend(fontsize=8, frameon=False)
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def compare_lights_html(comp: Comparison, *, units: str = "metric") -> str:
    """Traffic lights of A and B side by side (the alert profile's limits, published ranges),
    and one cue per problem left in B."""
    from runform.findings import (
        ACTIVITY_WORDS,
        CUES,
        Segment,
        alert_shares_over,
        problems,
        segment_findings,
        share_cell,
        watched_alerts,
    )

    profile = comp.profile
    if profile is None:
        from runform.profiles import resolve_profile

        profile = resolve_profile(None)
    fs = []
    for i, run in enumerate((comp.a, comp.b)):
        # a walk against a run: each judged (or not, walking) as what it is
        act = comp.unlike[i] if comp.unlike else comp.activity
        seg = Segment(run.t0, run.t1, act, run.label, run.strides)
        alerts = (run.summary or {}).get("alerts", [])
        sf = segment_findings(seg, profile=profile, alerts=alerts, units=units)
        spans = [
            (max(run.t0, float(b["t0"])), min(run.t1, float(b["t1"])))
            for b in (run.summary or {}).get("bouts", [])
            if b.get("activity") == act
            and min(run.t1, float(b["t1"])) > max(run.t0, float(b["t0"]))
        ]
        if comp.activity is not None and spans:
            # like the medians, the alert time of the compared activity only (a run/walk
            # session's walking time would count in its running alerts' share)
            sf.alert_share = alert_shares_over(watched_alerts(alerts, profile, act), spans)
        fs.append(sf)
    rows = _light_rows(fs)
    for rule in sorted({r for sf in fs for r in sf.alert_share}):
        rows.append(
            [f"alert <i>{_e(rule)}</i> on"] + [share_cell(sf.alert_share.get(rule)) for sf in fs]
        )
    what = ACTIVITY_WORDS.get(comp.activity or "", "")
    out = [
        "<h2>Where each run stands</h2>",
        _table(["metric", _tagged("A", comp.a.label), _tagged("B", comp.b.label)], rows).replace(
            "<table>", '<table class="lights">', 1
        ),
        '<p class="note">Medians of each run'
        + (f" ({what} contacts only, and alert time while {what}: like with like)" if what else "")
        + f"; lights against the alert profile <b>{_e(getattr(profile, 'name', ''))}</b> "
        "where it has a rule, else published ranges (docs/compare_report.md).</p>",
    ]
    items = []
    for f in problems(fs[1]):
        cue = CUES[f.metric]
        items.append(
            f'<li class="cue"><b>{_e(cue.title.capitalize())}</b> ({_e(f.label)} {_e(f.text)} '
            f"in B): {_e(cue.action)}."
            f'<br><span class="ev">Evidence: {_e(cue.evidence)}.</span></li>'
        )
    if items:
        out.append("<h3>Still to work on (B)</h3><ul>" + "".join(items) + "</ul>")
    return "\n".join(out)


def _tagged(tag: str, label: str) -> str:
    """``"A: label"``, once: the labels of two compared files already read ``A: name``."""
    return label if label.startswith(f"{tag}: ") else f"{tag}: {label}"


def comparison_report(
    comp: Comparison,
    *,
    split: tuple[AnalysisResult, float] | None = None,
    units: str = "metric",
) -> Report:
    """The report of a comparison, findings first; with ``split=(result, t)`` also the session
    over time."""
    rep = Report(title=f"runform comparison: {comp.a.label} vs {comp.b.label}")
    rep.add("<h1>What changed</h1>")

    def desc(r: Run, tag: str) -> str:
        n = len(r.rows("both feet"))
        name = Path(r.recording).name
        label = _tagged(tag, r.label)[len(tag) + 2 :]
        what = name if label == name else f"{label} — {name}"
        return f"<b>{tag}</b>: {_e(what)}, {r.t0:.1f}–{r.t1:.1f} s, {n} foot contacts"

    rep.add(f'<p class="meta">{desc(comp.a, "A")}<br>{desc(comp.b, "B")}</p>')
    items = "".join(f"<li>{_e(s[0].upper() + s[1:])}.</li>" for s in comp.sentences)
    rep.add(f'<div class="findings"><ul>{items}</ul></div>')
    rep.add(compare_lights_html(comp, units=units))
    rep.add(
        '<p class="note">"Not significant" means the difference could be run-to-run '
        "noise: its 95 % interval is wide or the Holm-adjusted p-value is 0.05 or more. "
        "Changes are B − A.</p>"
    )

    rep.add("<h2>All metrics</h2>")
    header = [
        "metric",
        "A",
        "B",
        "B − A",
        "95 % interval",
        "effect size",
        "p",
        "p (Holm)",
        "n A / B (n_eff)",
    ]
    rows, classes = [], []
    for g in ("both feet", "speed-matched", "left foot", "right foot", "pelvis"):
        ms = [m for m in comp.metrics if m.group == g]
        if not ms:
            continue
        rows.append([_e(g)] + [""] * (len(header) - 1))
        classes.append("grp")
        for m in ms:
            rows.append(_metric_row(m, units))
            classes.append("sig" if m.significant else "")
    rep.add(_table(header, rows, classes=classes).replace("<table>", '<table class="metrics">', 1))
    rep.add(
        '<p class="note">Highlighted rows and bold differences: significant (Holm-adjusted '
        "p &lt; 0.05). Shares in % of contacts with a strike type, their differences in "
        "percentage points (pp). n: contacts with a value; n_eff: effective sample size.</p>"
    )
    rep.add(f'<p class="note"><b>How the numbers are computed.</b> {_e(comp.method_text())}</p>')

    rep.add("<h2>Strike pattern</h2>")
    fig = fig_compare_strikes(comp)
    if fig is not None:
        rep.figure(
            "compare_strikes",
            fig,
            "strike types and foot strike angle, A vs B",
            "Left: share of each strike type. Right: distribution of the foot strike "
            "angle (dotted: the rearfoot 8° and forefoot −1.6° limits).",
        )
    rep.add("<h2>Distributions</h2>")
    fig = fig_compare_distributions(comp, units)
    if fig is not None:
        rep.figure(
            "compare_distributions",
            fig,
            "metric distributions, A vs B",
            "A grey, B blue; boxes: quartiles; * significant after Holm adjustment.",
        )
    if split is not None:
        res, t_split = split
        rep.add("<h2>The session over time</h2>")
        fig = fig_metrics_over_time(
            res.strides,
            _placements(res),
            res.duration_s,
            res.markers,
            res.alerts,
            split_t=t_split,
            units=units,
        )
        if fig is not None:
            rep.figure(
                "compare_over_time",
                fig,
                "metrics over time with the split",
                "Shaded: part B (after the split).",
            )
    return rep
