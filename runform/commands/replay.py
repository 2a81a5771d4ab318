"""``runform replay REC.h5``: play a recording back in the viewer, with analysis and alerts."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from runform.commands._viewer_common import add_viewer_arguments, check_show, viewer_config
from runform.errors import UsageError

NAME = "replay"
HELP = "replay a recording in the viewer: raw signals, per-stride metrics, alerts"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recording", help="recording file (HDF5, format v1)")
    parser.add_argument(
        "--speed", type=float, default=1.0, help="playback speed, 0.25 to 16 (default 1)"
    )
    parser.add_argument(
        "--at", type=float, default=None, metavar="SECONDS", help="start playback at SECONDS"
    )
    parser.add_argument("--paused", action="store_true", help="open paused")
    add_viewer_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from recordings import ReplaySource, open_recording
    from runform.analysis_run import sample_counts
    from runform.profiles import resolve_profile
    from runform.terminal_text import safe_name
    from viewer.app import run_viewer
    from viewer.errors import ViewerError
    from viewer.worker import AnalysisWorker, replay_block_s

    if not (0.25 <= args.speed <= 16.0):
        raise UsageError(f"--speed {args.speed}: expected 0.25 to 16")
    if args.at is not None and not math.isfinite(args.at):
        raise UsageError(f"--at {args.at}: expected a time in seconds")
    path = Path(args.recording)
    if not path.exists():
        raise UsageError(f"{path}: no such recording")
    with open_recording(path) as rec:  # validates: RecordingError is one line
        sample_counts(rec, str(path))  # an empty recording: one line, not an empty window
        ids = [s.sensor_id for s in rec.sensors]
        # footpods and the like (/streams): no raw signal for --show (1 Hz, small to read)
        pods = tuple(st.stream_id for st in rec.streams()) if args.show else ()
        t_start, t_end = float(rec.t_start), float(rec.t_end)
    if not ids:  # else an empty window, exit 0 (analyze: "no sensor to analyse")
        from dsp.session import ANALYZERS

        raise UsageError(
            f"{path}: no sensor to replay: expected a sensor placed on "
            f"{' or '.join(sorted(ANALYZERS))}, found none"
        )
    if args.at is not None and not (t_start <= args.at <= t_end):
        raise UsageError(
            f"--at {args.at:g}: expected a time inside the recording ({t_start:.1f} to "
            f"{t_end:.1f} s)"
        )
    check_show(args.show, ids, f"in {path.name}", pods)
    profile = resolve_profile(args.profile)
    config = viewer_config(args, mode="replay", title=f"runform replay — {safe_name(path.name)}")
    config.extra["paused"] = args.paused
    config.extra["path"] = str(path)

    workers: list[AnalysisWorker] = []

    def make_worker() -> AnalysisWorker:
        w = AnalysisWorker(
            lambda: ReplaySource(path, speed=args.speed, block_s=replay_block_s(args.speed)),
            profile,
            replay=True,
            start_at_s=args.at,
        )
        if args.paused:
            w.pause(True)  # applied as soon as the worker runs
        workers.append(w)
        return w

    code = run_viewer(make_worker, profile, config)
    failed = [w.error for w in workers if getattr(w, "error", None)]
    if failed:  # the window may have closed before it showed the error: never exit 0 on it
        raise ViewerError(str(failed[-1]))
    return code
