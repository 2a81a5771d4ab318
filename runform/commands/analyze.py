"""``runform analyze REC.h5 --strides STRIDES.csv --json SUMMARY.json``: per-contact analysis.

Reads the recording in chunks (memory does not grow with its length), feeds every block to the
session pipeline (:class:`dsp.pipeline.SessionPipeline`: foot and pelvis analysis, alerts) and
writes the outputs of ``shared/spec/analysis-output.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from runform.errors import UsageError
from runform.validation import ANALYSIS_CHUNK_S, check_chunk_s

NAME = "analyze"
HELP = (
    "per-contact analysis (feet and pelvis) and alerts of a recording -> STRIDES.csv, "
    "SUMMARY.json (without outputs: the medians as a table)"
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
        "--chunk-s",
        type=float,
        default=ANALYSIS_CHUNK_S,
        help=f"seconds of data read at a time (default {ANALYSIS_CHUNK_S:g})",
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
    from runform.analysis_run import analyse_recording, no_contact_reasons
    from runform.safe_output import OutputSet, check_outputs
    from runform.terminal_text import safe_line, safe_name

    check_chunk_s(args.chunk_s)
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers {args.workers}: expected at least 1 (1 = one process)")
    if args.start is not None and not (args.watch or args.timeline):
        # it sets nothing else: 'analyze run.h5 --start garbage' was taken without a word
        raise UsageError("--start needs --watch or --timeline (the wall clock of t = 0 for them)")
    to_screen = not (args.strides or args.json or args.parquet or args.timeline)
    rec_path = args.recording
    check_outputs(
        inputs=[rec_path, args.watch, args.alignment_from],
        outputs=[args.strides, args.json, args.parquet, args.timeline],
    )
    mountings = None
    if args.alignment_from:
        mountings = _mountings(args.alignment_from, rec_path)
    show = (not args.no_progress) and sys.stderr.isatty()
    # every output is written beside its final name and moved there only when all are
    # complete: a failed or killed run leaves the earlier outputs as they were
    with OutputSet() as outs, tempfile.TemporaryDirectory(prefix="runform-") as scratch:
        csv_path = outs.stage(args.strides) if args.strides else str(Path(scratch) / "strides.csv")
        writer = StridesCsvWriter(csv_path) if (args.strides or args.parquet) else None
        try:
            with _progress_bar(show, rec_path) as progress:
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
                    on_progress=progress,
                    workers=args.workers,
                    foot_mountings=mountings,
                )
        finally:
            if writer is not None:
                writer.close()
        diag = result.diagnostics
        if args.watch or args.timeline:
            _watch_and_timeline(result, args, outs)
        if args.json:
            write_summary_json(outs.stage(args.json), result.summary)
        if args.parquet:
            write_parquet(outs.stage(args.parquet), csv_path)
    reasons = no_contact_reasons(result)
    for sid, d in diag.items():
        if sid in reasons:
            hint = (
                "; a short trial can take the mounting from a longer recording of the same "
                "session: --alignment-from OTHER.h5"
                if "aligned to the foot" in reasons[sid] and not args.alignment_from
                else ""
            )
            print(safe_line(f"{sid}: {reasons[sid]}{hint}"), file=sys.stderr)
            continue
        al = d["alignment"]
        msg = f"{sid}: {d['contacts']} contacts, {alignment_text(al['confidence'])}"
        if d.get("low_alignment"):
            msg += f" (LOW: {al['reason']})"
        if d["flags"]:
            msg += ", flags " + ", ".join(f"{k} {v}" for k, v in sorted(d["flags"].items()))
        print(msg, file=sys.stderr)
    if not any(s.placement.endswith("_foot") for s in result.sensors):
        print(
            f"{safe_name(rec_path)}: no foot sensor in this recording: no per-contact foot metrics",
            file=sys.stderr,
        )
    written = [safe_name(p) for p in (args.strides, args.json, args.parquet, args.timeline) if p]
    if to_screen:
        print_summary(result.summary)
        print(f"{n_rows} contacts (give --strides/--json/--parquet to write them)")
        return 0
    print(f"{n_rows} contacts -> {', '.join(written)}")
    return 0


@contextlib.contextmanager
def _progress_bar(show: bool, rec_path: str) -> Iterator[Callable[[float, float], None] | None]:
    """A transient progress bar on the terminal (``show``), as the analysis' ``on_progress``
    callback; ``None`` without it (rich is then not even imported: start-up time counts)."""
    if not show:
        yield None
        return
    from rich.progress import Progress

    from runform.terminal_text import safe_name

    with Progress(transient=True) as prog:
        task = prog.add_task(f"analysing {safe_name(Path(rec_path).name)}", total=None)

        def progress(done: float, total: float) -> None:
            if total >= PROGRESS_MIN_S:
                prog.update(task, completed=done, total=total)

        yield progress


def alignment_text(confidence: float) -> str:
    """``"sensor alignment 0.90 of 1 (good)"``: how sure the analysis is of the sensor's
    mounting (the axes it found from the still phases and the stride rotation; see
    docs/dsp.md). Below 0.5 the orientation metrics (strike angle, pronation, pelvic drop)
    are flagged ``low_alignment``."""
    word = "good" if confidence >= 0.8 else ("fair" if confidence >= 0.5 else "LOW")
    return f"sensor alignment {confidence:.2f} of 1 ({word}: how sure the mounting axes are)"


#: Rows of the on-screen summary: SUMMARY.json key, label, unit key for ``findings.fmt``.
_SCREEN_ROWS = (
    ("contacts", "contacts", None),
    ("pace_median", "pace", "pace"),
    ("distance", "distance", "distance"),
    ("cadence_median", "cadence", "cadence"),
    ("stride_length_median", "stride length", "stride_length"),
    ("contact_time_median", "contact time", "contact_time"),
    ("flight_time_median", "flight time", "flight_time"),
    ("foot_strike_angle_median", "foot strike angle", "foot_strike_angle"),
    ("strike_type_fraction", "rearfoot / midfoot / forefoot", None),
    ("max_pronation_velocity_median", "max pronation velocity", "max_pronation_velocity"),
    ("pronation_excursion_median", "pronation excursion", "pronation_excursion"),
    ("peak_impact_median", "impact at the shoe", "peak_impact"),
    ("pelvic_drop_median", "pelvic drop, left / right stance", "pelvic_drop"),
    ("vertical_oscillation_median", "vertical oscillation", "vertical_oscillation"),
    ("vertical_ratio_median", "vertical ratio", "vertical_ratio"),
)


def print_summary(summary: dict) -> None:
    """The session's medians as a table on stdout (``analyze`` without output files)."""
    from rich.table import Table

    from runform.console import make_console
    from runform.findings import summary_by_activity

    console = make_console()
    for what, part in summary_by_activity(summary):
        console.print(_summary_table(Table, part, what))
        bal = (part.get("balance") or {}).get("contact_time_left_pct")
        if bal is not None:
            print(f"contact time balance: {bal:.1f} % left")


def _summary_table(table_cls: Any, summary: dict, what: str | None) -> Any:
    """One rich table of medians per sensor (``what``: the activity, when shown apart)."""
    from runform.findings import fmt

    sensors = summary.get("sensors", {})
    title = f"{summary.get('recording', '')}: medians per sensor"
    table = table_cls(title=title + (f", {what}" if what else ""))
    table.add_column("metric")
    for sid, s in sensors.items():
        table.add_column(f"{sid} ({s.get('placement', '')})", justify="right")
    for key, label, unit in _SCREEN_ROWS:
        if not any(key in s for s in sensors.values()):
            continue
        cells = []
        for s in sensors.values():
            v = s.get(key)
            if key not in s or v is None:
                cells.append("")
            elif unit is None and isinstance(v, dict):
                cells.append(
                    " / ".join("–" if x is None else f"{100 * x:.0f} %" for x in v.values())
                )
            elif unit is None:
                cells.append(str(v))
            elif isinstance(v, dict):
                cells.append(" / ".join(fmt(unit, v.get(k)) for k in ("left", "right")))
            else:
                cells.append(fmt(unit, v))
        table.add_row(label, *cells)
    return table


def _watch_and_timeline(result, args: argparse.Namespace, outs) -> None:
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
            timeline_table(tl, track, start_unix_s=start).to_csv(
                outs.stage(args.timeline), index=False
            )
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
    if not feet:
        raise UsageError(
            f"--alignment-from {other}: {rec_path} has no foot sensor (the option gives the "
            "foot sensors' mountings)"
        )
    out = {}
    missing = []
    for s in feet:
        r = found.get(s.sensor_id)
        if r is None:
            r = found.get(s.placement)
        if r is not None:
            out[s.sensor_id] = r
        else:
            missing.append(s.sensor_id)
    if not out:  # one line (each sensor's warning before it said the same)
        raise UsageError(
            f"--alignment-from {other}: no foot sensor of {rec_path} ({', '.join(missing)}) "
            "has a confident mounting there (not the same sensors, or not enough gait in it)"
        )
    for sid in missing:
        log.warning("%s: no confident mounting for %s in %s", rec_path, sid, other)
    return out
