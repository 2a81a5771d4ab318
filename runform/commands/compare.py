"""``runform compare A.h5 B.h5 --out report.html [--json numbers.json]`` and
``runform compare REC.h5 --split-at-marker LABEL | --split-at SECONDS``: what changed between two
runs, or before and after a point of one run, with block bootstrap intervals and tests."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from runform.errors import UsageError

NAME = "compare"
HELP = (
    "Compare two runs (or one run split at a marker or time): medians, differences with "
    "confidence intervals, effect sizes, tests; HTML report and JSON."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("recordings", nargs="+", metavar="REC", help="A.h5 B.h5, or one REC.h5 to split")
    p.add_argument("--out", metavar="HTML", help="HTML report to write")
    p.add_argument("--json", metavar="JSON", help="write every number as JSON here")
    p.add_argument("--png", metavar="DIR", help="also write the figures as PNG files here")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--split-at-marker", metavar="LABEL", help="split one run at this marker")
    g.add_argument("--split-at", type=float, metavar="SECONDS", help="split one run at this time")
    p.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples (default 2000)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the resampling (default 0)")


def _find_marker(res, label: str) -> float:
    hits = [t for t, lab, _ in res.markers if lab == label]
    if not hits:
        hits = [t for t, lab, _ in res.markers if lab.lower() == label.lower()]
    if not hits:
        have = ", ".join(repr(lab) for _, lab, _ in res.markers) or "none"
        raise UsageError(
            f"{res.recording}: no marker labelled {label!r} (markers in the file: {have})"
        )
    return hits[0]


def run(args: argparse.Namespace) -> int:
    from runform.analysis_run import analyse_recording
    from runform.compare import compare_runs, run_from_result, split_result
    from runform.report import comparison_report
    from runform.safe_output import OutputSet, check_outputs, check_png_dir
    from runform.terminal_text import safe_line, safe_name

    if not (args.out or args.json):
        raise UsageError("nothing to write: give --out and/or --json")
    if args.resamples < 1000:
        # the smallest p-value is 1/(R+1); Holm over ~30 metrics needs R of 1000 or more
        raise UsageError(f"--resamples {args.resamples}: expected at least 1000")
    split = args.split_at_marker is not None or args.split_at is not None
    recs = args.recordings
    if split and len(recs) != 1:
        raise UsageError("--split-at/--split-at-marker take one recording, got " + str(len(recs)))
    if not split and len(recs) != 2:
        raise UsageError(
            f"expected two recordings (A B), or one with --split-at-marker/--split-at; "
            f"got {len(recs)}"
        )
    check_outputs(inputs=recs, outputs=[args.out, args.json])
    if args.png:
        check_png_dir(args.png, inputs=recs)
    split_info = None
    if split:
        res = analyse_recording(recs[0])
        if args.split_at_marker is not None:
            t = _find_marker(res, args.split_at_marker)
            what = args.split_at_marker
        else:
            t = float(args.split_at)
            t_end = res.t_start + res.duration_s
            if not (res.t_start < t < t_end):
                raise UsageError(
                    f"--split-at {t:g}: expected a time inside the recording "
                    f"({res.t_start:.1f} to {t_end:.1f} s)"
                )
            what = None
        a, b = split_result(res, t, what=what)
        split_info = (res, t)
    else:
        ra, rb = analyse_recording(recs[0]), analyse_recording(recs[1])
        a = run_from_result(ra, f"A: {Path(recs[0]).name}")
        b = run_from_result(rb, f"B: {Path(recs[1]).name}")
    for r in (a, b):
        if r.strides.empty:
            raise UsageError(f"{r.recording}: no contacts in {r.label!r}, nothing to compare")
    comp = compare_runs(a, b, n_boot=args.resamples, n_perm=args.resamples, seed=args.seed)
    written = []
    # all outputs are complete before any replaces an earlier one (runform.safe_output)
    with OutputSet() as outs:
        if args.json:
            text = json.dumps(comp.as_dict(), indent=2, allow_nan=False) + "\n"
            outs.write_text(args.json, text)
            written.append(args.json)
        if args.out or args.png:
            rep = comparison_report(comp, split=split_info)
            if args.out:
                outs.write_text(args.out, rep.html())
                written.append(args.out)
            if args.png:
                Path(args.png).mkdir(parents=True, exist_ok=True)
                for name, data in rep.figures.items():
                    p = Path(args.png) / f"{name}.png"
                    outs.write_bytes(p, data)
                    written.append(str(p))
    print(safe_line(f"{a.label} vs {b.label}:"))
    for s in comp.sentences:
        print(f"  - {safe_line(s)}")
    print("-> " + ", ".join(safe_name(w) for w in written))
    return 0
