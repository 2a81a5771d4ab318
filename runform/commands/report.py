"""``runform report REC.h5 --out report.html [--png DIR]``: one session as a self-contained
HTML report (summary table, metrics over time with markers and alerts, strike type over time,
left/right comparison, per-stride overlays)."""

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
        help="alert profile for the alerts shown: a TOML file or a built-in name (default)",
    )


def run(args: argparse.Namespace) -> int:
    from runform.analysis_io import write_summary_json
    from runform.analysis_run import analyse_recording
    from runform.report import session_report

    out = Path(args.out)
    if not out.parent.exists():
        raise UsageError(f"--out {out}: folder {out.parent} does not exist")
    res = analyse_recording(args.recording, profile=args.profile, collect_traces=True)
    rep = session_report(res)
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
        add_route_profile(rep, merged)
        print(merged.describe())
    try:
        rep.write_html(out)
    except OSError as exc:
        raise UsageError(f"--out {out}: cannot write the report ({exc.strerror})") from exc
    written = [str(out)]
    if args.png:
        written += [str(p) for p in rep.write_pngs(args.png)]
    if args.json:
        write_summary_json(args.json, res.summary)
        written.append(args.json)
    print(f"{len(res.strides)} contacts -> {', '.join(written)}")
    return 0
