"""The route profile of a run merged with a watch (``runform report --watch``): pace,
elevation and heart rate from the watch beside runform's foot strike angle and pelvic drop,
over the distance run (no map), and the check of runform's speed against GPS.

It appends one section to a :class:`runform.report.Report`; the numbers are those of
:func:`runform.fit.watch.merge_watch` (the ``watch`` key of SUMMARY.json).
"""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from runform.fit.watch import WatchMerge
    from runform.report import Report

__all__ = ["add_route_profile", "fig_route_profile", "speed_agreement_text"]


def _pace_min_per_km(speed_mps: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        pace = 1000.0 / 60.0 / speed_mps
    return np.where(speed_mps > 0.5, pace, np.nan)


def fig_route_profile(merge: WatchMerge, units: str = "metric") -> Figure | None:
    """Pace, elevation, heart rate, foot strike angle and pelvic drop over the distance
    (min/mi, mi and ft with ``units="imperial"``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from runform.findings import in_units
    from runform.fit.watch import gps_speed

    # per mile instead of per km, ft instead of m (findings.IMPERIAL; 1 with metric)
    mile = float(in_units(1.0, "s/km", units)[0] or 1.0)
    foot = float(in_units(1.0, "m", units)[0] or 1.0)
    km, m = ("mi", "ft") if units == "imperial" else ("km", "m")
    tl, track = merge.timeline, merge.track
    t = tl.t
    dist = track.column_at("distance_m", t)
    x_label = f"distance ({km}, watch)"
    if not np.isfinite(dist).any():
        dist = tl.values["distance_m"]
        x_label = f"distance ({km}, runform)"
    x = dist / 1000.0 / mile
    if not np.isfinite(dist).any():
        x, x_label = t / 60.0, "time (min)"
    ref, source = gps_speed(track)
    ref_at = np.interp(t, track.t, ref, left=np.nan, right=np.nan)
    panels: list[tuple[str, list[tuple[np.ndarray, str, str]]]] = [
        (
            f"pace (min/{km})",
            [
                (_pace_min_per_km(ref_at) * mile, "k", f"watch ({source})"),
                (_pace_min_per_km(tl.values["speed_mps"]) * mile, "tab:green", "runform"),
            ],
        ),
        (f"elevation ({m})", [(track.column_at("altitude_m", t) * foot, "tab:brown", "")]),
        ("heart rate (bpm)", [(track.column_at("heart_rate_bpm", t), "tab:red", "")]),
        (
            "foot strike angle (°)",
            [(tl.values["foot_strike_angle_deg"], "tab:blue", "")],
        ),
        (
            "pelvic drop (°)",
            [
                (tl.values["pelvic_drop_left_deg"], "tab:blue", "left stance"),
                (tl.values["pelvic_drop_right_deg"], "tab:orange", "right stance"),
            ],
        ),
    ]
    panels = [p for p in panels if any(np.isfinite(y).any() for y, _, _ in p[1])]
    if not panels or not np.isfinite(x).any():
        return None
    fig, axes = plt.subplots(len(panels), 1, figsize=(11.5, 1.7 * len(panels) + 0.8), sharex=True)
    axes = np.atleast_1d(axes)
    for ax, (label, lines) in zip(axes, panels, strict=True):
        for y, color, name in lines:
            ax.plot(x, y, color=color, lw=1.2, label=name or None)
        ax.set_ylabel(label, fontsize=8)
        ax.grid(alpha=0.3)
        if label.startswith("pace"):
            # a stop or a GPS jump makes pace shoot up: scale to the bulk of the run
            ys = np.concatenate([y[np.isfinite(y)] for y, _, _ in lines])
            if ys.size:
                lo, hi = np.percentile(ys, [2, 98])
                pad = max(0.25, 0.1 * (hi - lo))
                ax.set_ylim(hi + pad, lo - pad)  # faster up
            else:
                ax.invert_yaxis()
        if any(name for _, _, name in lines):
            ax.legend(fontsize=7, loc="upper right")
    axes[-1].set_xlabel(x_label)
    fig.tight_layout()
    return fig


def speed_agreement_text(summary: dict[str, Any], units: str = "metric") -> str:
    """One sentence on the clock alignment and one on runform's speed against GPS (distances
    in m, or ft with ``units="imperial"``, as the elevation beside it)."""
    from runform.findings import in_units

    parts = []
    if summary.get("alignment") == "cadence":
        parts.append(
            f"Watch clock offset {summary['clock_offset_s']:+.2f} s, found by cross-correlating "
            f"cadence (r = {summary.get('cadence_correlation', math.nan):.2f})."
        )
    else:
        parts.append("Aligned by wall clock only: " + str(summary.get("alignment_note", "")) + ".")
    chk = summary.get("speed_check")
    if chk:
        s = (
            f"runform's speed against {chk['speed_source']}: median difference "
            f"{chk['speed_bias_pct']:+.1f} %, median absolute difference "
            f"{chk['speed_abs_diff_median_pct']:.1f} %, {100 * chk['speed_within_5pct_fraction']:.0f} % "
            f"of {chk['seconds_compared']} running seconds within 5 %"
        )
        if "distance_runform_m" in chk and "distance_watch_m" in chk:
            mine, unit = in_units(float(chk["distance_runform_m"]), "m", units)
            theirs, _ = in_units(float(chk["distance_watch_m"]), "m", units)
            s += (
                f"; distance {mine:.0f} {unit} (runform) vs {theirs:.0f} {unit} (watch) over the "
                "same time"
            )
        parts.append(s + ".")
    else:
        parts.append("No GPS or watch speed to check runform's speed against.")
    return " ".join(parts)


def add_route_profile(rep: Report, merge: WatchMerge, units: str = "metric") -> None:
    """Append the route-profile section to a session report."""
    from runform.findings import in_units

    s = merge.summary
    rep.add("<h2>Route profile (watch merged)</h2>")
    facts = [f"watch file {s['file']}", f"{s['records_in_recording']} records in the recording"]
    if "heart_rate_median" in s:
        facts.append(f"heart rate median {s['heart_rate_median']:.0f} bpm")
    if "elevation_gain_m" in s:
        k, m = in_units(1.0, "m", units)
        up, down = s["elevation_gain_m"] * (k or 1.0), s["elevation_loss_m"] * (k or 1.0)
        facts.append(f"elevation +{up:.0f} {m} / −{down:.0f} {m}")
    rep.add(f'<p class="meta">{html.escape(" · ".join(facts))}</p>')
    rep.add(f'<p class="note speed-check">{html.escape(speed_agreement_text(s, units))}</p>')
    fig = fig_route_profile(merge, units)
    if fig is not None:
        rep.figure(
            "route_profile",
            fig,
            "route profile: pace, elevation, heart rate, foot strike angle, pelvic drop",
            "Over the distance the watch measured; runform's values are means over 3 s windows. "
            "Pace from the watch's GPS positions next to runform's own (from stride length "
            "and stride time).",
        )
    else:
        rep.add('<p class="note">The watch and the recording do not overlap in time.</p>')
