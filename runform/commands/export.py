"""``runform export REC.h5 --fit RUN.fit``: the analysed run as a FIT activity file.

The analysis is the one ``runform analyze`` runs (:func:`runform.analysis_run.analyse_recording`);
``--strides`` and ``--json`` also write what it computed on the way (the same files
``runform analyze`` writes), and ``--watch`` merges a watch's GPS track, altitude and heart rate
into the records (aligned as in ``runform analyze --watch``).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from runform.errors import UsageError

NAME = "export"
HELP = "export an analysed recording as a FIT activity (Garmin Connect, Strava, ...)"

log = logging.getLogger(__name__)


#: Longest ``--window`` of the 1 Hz records, s (ten minutes: beyond it a record no longer
#: tells that moment of the run; ``inf`` made every record the mean of the whole session).
MAX_WINDOW_S = 600.0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("recording", help="recording file (.h5, format v1)")
    p.add_argument("--fit", required=True, metavar="FILE.fit", help="FIT activity file to write")
    p.add_argument("--strides", metavar="CSV", help="also write STRIDES.csv (as runform analyze)")
    p.add_argument("--json", metavar="JSON", help="also write SUMMARY.json (as runform analyze)")
    p.add_argument(
        "--profile",
        metavar="FILE",
        help="alert profile for the summary's alerts (as runform analyze; default: default)",
    )
    p.add_argument(
        "--start",
        metavar="UTC",
        help="wall-clock time of the recording's t = 0, ISO 8601 (default: the recording's "
        "start_utc or created_utc attribute)",
    )
    p.add_argument(
        "--watch",
        metavar="WATCH.fit",
        help="merge this watch's GPS track, altitude and heart rate into the records",
    )
    p.add_argument(
        "--window",
        type=float,
        default=3.0,
        metavar="S",
        help=f"averaging window of the 1 Hz records, s (default 3, at most {MAX_WINDOW_S:g})",
    )


def run(args: argparse.Namespace) -> int:
    from runform import __version__
    from runform.analysis_io import StridesCsvWriter, write_summary_json
    from runform.analysis_run import analyse_recording
    from runform.fit.activity import activity_fit, recording_start_unix
    from runform.safe_output import OutputSet, check_outputs

    out = Path(args.fit)
    check_outputs(inputs=[args.recording, args.watch], outputs=[args.fit, args.strides, args.json])
    if not (0 < args.window <= MAX_WINDOW_S):  # inf: every record the session's mean
        raise UsageError(
            f"--window {args.window:g}: expected more than 0 and at most {MAX_WINDOW_S:g} s"
        )
    # every output complete before any replaces an earlier one (runform.safe_output)
    with OutputSet() as staged:
        writer = StridesCsvWriter(staged.stage(args.strides)) if args.strides else None
        try:
            res = analyse_recording(
                args.recording,
                profile=args.profile,
                on_rows=writer.write if writer is not None else None,
            )
        finally:
            if writer is not None:
                writer.close()
        start = recording_start_unix(res.attrs, args.start, args.recording)
        track = None
        if args.watch:
            from runform.fit.watch import merge_watch

            merged = merge_watch(res, args.watch, start_unix_s=start)
            track = merged.track
            res.summary["watch"] = merged.summary
            print(merged.describe())
        act = activity_fit(
            res, start_unix_s=start, window_s=args.window, watch=track, software_version=__version__
        )
        staged.write_bytes(out, act.data)
        if args.json:
            write_summary_json(staged.stage(args.json), res.summary)
    from runform.fit.readback import fit_overview
    from runform.safe_output import is_special_file

    if not is_special_file(out):  # a pipe or /dev/null cannot be read back
        print(fit_overview(out).describe())
    outs = [str(out)] + [p for p in (args.strides, args.json) if p]
    print(
        f"{len(res.strides)} contacts -> {act.records} records at 1 Hz, {len(act.laps)} lap(s) "
        f"-> {', '.join(outs)}"
    )
    return 0
