"""``runform analyze REC.h5 --strides STRIDES.csv --json SUMMARY.json``: per-contact analysis.

Reads the recording in chunks (memory does not grow with its length), feeds every block to the
session pipeline (:class:`dsp.pipeline.SessionPipeline`: foot and pelvis analysis, alerts) and
writes the outputs of ``shared/spec/analysis-output.md``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

from runform.errors import UsageError

NAME = "analyze"
HELP = (
    "per-contact analysis (feet and pelvis) and alerts of a recording -> STRIDES.csv, SUMMARY.json"
)

log = logging.getLogger(__name__)

#: Files longer than this get a progress bar, s of recording.
PROGRESS_MIN_S = 300.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recording", help="recording file (HDF5, format v1)")
    parser.add_argument("--strides", metavar="CSV", help="write one row per contact here")
    parser.add_argument("--json", metavar="JSON", help="write the session summary here")
    parser.add_argument("--parquet", metavar="FILE", help="also write the strides as parquet")
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="alert profile for the summary's alerts: a TOML file or a built-in name "
        "(default, chirunning; default: default)",
    )
    parser.add_argument(
        "--chunk-s", type=float, default=60.0, help="seconds of data read at a time (default 60)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="most processes to use (1 = this one only; default: one worker per foot sensor "
        "when the file is long enough, or $RUNFORM_WORKERS); the results do not depend on it",
    )
    parser.add_argument(
        "--alignment-from",
        metavar="OTHER.h5",
        help="reuse each foot sensor's mounting found in another recording of the same "
        "session (same clip, e.g. a warm-up): for short trials with one or two contacts",
    )
    parser.add_argument(
        "--watch",
        metavar="WATCH.fit",
        help="merge a watch's FIT activity of the same run (GPS, pace, heart rate, elevation): "
        "aligned by wall clock and cadence, runform's speed checked against GPS (SUMMARY key "
        "'watch')",
    )
    parser.add_argument(
        "--start",
        metavar="UTC",
        help="wall-clock time of the recording's t = 0 for --watch/--timeline, ISO 8601 "
        "(default: the recording's start_utc or created_utc attribute)",
    )
    parser.add_argument(
        "--timeline",
        metavar="CSV",
        help="also write one row per second: runform's per-second values (means over 3 s) and, "
        "with --watch, the watch's position, altitude, heart rate and GPS speed beside them",
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bar, even on long files"
    )


def run(args: argparse.Namespace) -> int:
    from runform.analysis_io import StridesCsvWriter, write_parquet, write_summary_json
    from runform.analysis_run import analyse_recording

    if not (args.chunk_s > 0):
        raise UsageError(f"--chunk-s {args.chunk_s}: expected a positive number of seconds")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers {args.workers}: expected at least 1 (1 = one process)")
    if not (args.strides or args.json or args.parquet or args.timeline):
        raise UsageError("nothing to write: give --strides, --json, --parquet and/or --timeline")
    rec_path = args.recording
    csv_path = args.strides
    tmp_csv = None
    if csv_path is None and args.parquet:
        tmp_csv = tempfile.NamedTemporaryFile(suffix=".csv", delete=False)
        tmp_csv.close()
        csv_path = tmp_csv.name
    mountings = None
    if args.alignment_from:
        mountings = _mountings(args.alignment_from, rec_path)
    writer = StridesCsvWriter(csv_path) if csv_path else None
    show = (not args.no_progress) and sys.stderr.isatty()
    try:
        from rich.progress import Progress

        with Progress(transient=True, disable=not show) as prog:
            task = prog.add_task(f"analysing {Path(rec_path).name}", total=None)

            def progress(done: float, total: float) -> None:
                if total >= PROGRESS_MIN_S:
                    prog.update(task, completed=done, total=total)

            n_rows = 0

            def count_and_write(rows: list) -> None:
                nonlocal n_rows
                n_rows += len(rows)
                if writer is not None:
                    writer.write(rows)

            result = analyse_recording(
                rec_path,
                chunk_s=args.chunk_s,
                profile=args.profile,
                keep_rows=bool(args.watch or args.timeline),  # both need the rows
                on_rows=count_and_write,
                on_progress=progress if show else None,
                workers=args.workers,
                foot_mountings=mountings,
            )
    finally:
        if writer is not None:
            writer.close()
    diag = result.diagnostics
    if args.watch or args.timeline:
        _watch_and_timeline(result, args)
    if args.json:
        write_summary_json(args.json, result.summary)
    if args.parquet:
        write_parquet(args.parquet, csv_path)
        if tmp_csv is not None:
            Path(tmp_csv.name).unlink(missing_ok=True)
    for sid, d in diag.items():
        if "skipped" in d:
            print(f"{sid}: skipped ({d['skipped']})", file=sys.stderr)
            continue
        if d.get("problem"):  # e.g. a pelvis sensor that moves like a foot, or walking
            print(f"{sid}: no contacts: {d['problem']}", file=sys.stderr)
            continue
        al = d.get("alignment")
        if al is None:
            print(
                f"{sid}: no contacts: the sensor could not be aligned to the foot "
                f"({d.get('alignment_problem', 'no data')})",
                file=sys.stderr,
            )
            continue
        msg = f"{sid}: {d['contacts']} contacts, alignment confidence {al['confidence']:.2f}"
        if d.get("low_alignment"):
            msg += f" (LOW: {al['reason']})"
        if d["flags"]:
            msg += ", flags " + ", ".join(f"{k} {v}" for k, v in sorted(d["flags"].items()))
        print(msg, file=sys.stderr)
    if not any(s.placement.endswith("_foot") for s in result.sensors):
        print(
            f"{rec_path}: no foot sensor in this recording: no per-contact foot metrics",
            file=sys.stderr,
        )
    outs = [p for p in (args.strides, args.json, args.parquet, args.timeline) if p]
    print(f"{n_rows} contacts -> {', '.join(outs)}")
    return 0


def _watch_and_timeline(result, args: argparse.Namespace) -> None:
    """``--watch``: merge the watch (SUMMARY key ``watch``); ``--timeline``: the per-second CSV."""
    import math

    import numpy as np

    from runform.fit.activity import recording_start_unix
    from runform.fit.timeline import per_second
    from runform.fit.watch import merge_watch, timeline_table

    start = recording_start_unix(result.attrs, args.start, args.recording)
    track = None
    if args.watch:
        merged = merge_watch(result, args.watch, start_unix_s=start)
        result.summary["watch"] = merged.summary
        track = merged.track
        print(merged.describe(), file=sys.stderr)
    if args.timeline:
        placements = {s.sensor_id: s.placement for s in result.sensors}
        lo = math.ceil(start + result.t_start) - start
        t = np.arange(lo, result.t_start + result.duration_s + 1e-9, 1.0)
        tl = per_second(result.strides, placements, t)
        try:
            timeline_table(tl, track, start_unix_s=start).to_csv(args.timeline, index=False)
        except OSError as exc:
            raise UsageError(f"--timeline {args.timeline}: cannot write ({exc.strerror})") from exc


def _mountings(other: str, rec_path: str) -> dict:
    """The foot mountings of ``other`` for the sensors of ``rec_path`` (by sensor id, else by
    placement); a one-line UsageError when none applies."""
    from recordings import open_recording
    from runform.analysis_run import mountings_from

    found = mountings_from(other)
    with open_recording(rec_path) as rec:
        feet = [s for s in rec.sensors if s.side is not None]
    out = {}
    for s in feet:
        r = found.get(s.sensor_id)
        if r is None:
            r = found.get(s.placement)
        if r is not None:
            out[s.sensor_id] = r
        else:
            log.warning("%s: no confident mounting for %s in %s", rec_path, s.sensor_id, other)
    if not out:
        raise UsageError(
            f"--alignment-from {other}: no foot sensor of {rec_path} has a confident mounting "
            "there (not the same sensors, or not enough gait in it)"
        )
    return out
