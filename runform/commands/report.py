"""``runform report REC.h5 --out report.html [--png DIR] [--units metric|imperial]``: one session
as a self-contained HTML report: findings first (what to work on next, a traffic light per
metric and segment, the share of time each alert was on, one cue per problem), then the summary
table, metrics over time with markers and alerts, strike type over time, left/right comparison
and per-stride overlays."""

from __future__ import annotations

import argparse
from pathlib import Path

from runform.errors import UsageError

NAME = "report"
HELP = "Write a self-contained HTML report of one session (figures embedded; --png for PNGs)."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("recording", help="recording file (.h5, format v1)")
    p.add_argument("--out", required=True, metavar="HTML", help="report file to write")
    p.add_argument("--png", metavar="DIR", help="also write every figure as a PNG file here")
    p.add_argument("--json", metavar="JSON", help="also write SUMMARY.json (as runform analyze)")
    p.add_argument(
        "--watch",
        metavar="WATCH.fit",
        help="merge a watch's FIT activity of the same run: a route profile (pace, elevation, "
        "heart rate beside strike angle and pelvic drop) and runform's speed checked against GPS",
    )
    p.add_argument(
        "--start",
        metavar="UTC",
        help="wall-clock time of the recording's t = 0 for --watch, ISO 8601 (default: the "
        "recording's start_utc or created_utc attribute)",
    )
    p.add_argument(
        "--profile",
        help="alert profile for the alerts and limits shown: a TOML file or a built-in name "
        "(default)",
    )
    p.add_argument(
        "--units",
        choices=("metric", "imperial"),
        default="metric",
        help="pace in min/km and distances in km (metric, default) or min/mile and miles",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress line on stderr")


def run(args: argparse.Namespace) -> int:
    from runform.analysis_io import write_summary_json
    from runform.analysis_run import analyse_recording
    from runform.console import work_progress
    from runform.profiles import resolve_profile
    from runform.report import session_report
    from runform.safe_output import OutputSet, check_outputs, check_png_dir
    from runform.terminal_text import safe_line, safe_name

    if args.start is not None and not args.watch:  # else taken without a word
        raise UsageError("--start needs --watch (the wall clock of t = 0 to align the watch)")
    out = Path(args.out)
    check_outputs(inputs=[args.recording, args.watch], outputs=[args.out, args.json])
    png_dir = Path(args.png) if args.png else None
    if png_dir is not None:
        check_png_dir(png_dir, inputs=[args.recording])
    profile = resolve_profile(args.profile)
    with work_progress(
        f"analysing {safe_name(Path(args.recording).name)}", enabled=not args.no_progress
    ) as progress:
        res = analyse_recording(
            args.recording, profile=args.profile, collect_traces=True, on_progress=progress
        )
    rep = session_report(res, profile=profile, units=args.units)
    if args.watch:
        from runform.fit.activity import recording_start_unix
        from runform.fit.watch import merge_watch
        from runform.route_profile import add_route_profile

        merged = merge_watch(
            res,
            args.watch,
            start_unix_s=recording_start_unix(res.attrs, args.start, args.recording),
        )
        res.summary["watch"] = merged.summary
        add_route_profile(rep, merged, args.units)
        print(merged.describe())
    written = [str(out)]
    # all outputs are complete before any replaces an earlier one (runform.safe_output)
    with OutputSet() as outs:
        outs.write_text(out, rep.html())
        if png_dir is not None:
            png_dir.mkdir(parents=True, exist_ok=True)
            for name, data in rep.figures.items():
                p = png_dir / f"report_{name}.png"
                outs.write_bytes(p, data)
                written.append(str(p))
        if args.json:
            write_summary_json(outs.stage(args.json), res.summary)
            written.append(args.json)
    written = [safe_name(w) for w in written]
    if rep.next_step:
        print(safe_line(rep.next_step))
    print(f"-> {', '.join(written)}")
    return 0
