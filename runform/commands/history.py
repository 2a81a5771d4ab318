"""``runform history INPUTS... --out history.html``: trends of the key running metrics per
session and per week over many recordings, with bands, alert limits and the sessions where a
metric changed beyond noise. Batch output folders are read as they are (seconds for a
season)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

NAME = "history"
HELP = "Trends over weeks: key running metrics per session and week (HTML), from recordings or batch tables."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="recordings, folders of recordings, quoted globs, or runform batch output folders",
    )
    p.add_argument("--out", required=True, metavar="HTML", help="history report to write")
    p.add_argument("--csv", metavar="CSV", help="also write the per-session table here")
    p.add_argument("--png", metavar="DIR", help="also write the figure as a PNG file here")
    p.add_argument(
        "--profile", help="alert profile whose limits are drawn: a TOML file or a built-in name"
    )
    p.add_argument("--units", choices=("metric", "imperial"), default="metric")
    p.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")


def run(args: argparse.Namespace) -> int:
    from runform.history import (
        build_history,
        change_sentences,
        csv_table,
        history_report,
        input_files,
        load_sessions,
        no_change_sentence,
    )
    from runform.profiles import resolve_profile
    from runform.safe_output import OutputSet, check_outputs, check_png_dir
    from runform.terminal_text import safe_line, safe_name

    out = Path(args.out)
    # the recordings inside input folders and globs are inputs too (not only the names given)
    inputs = [*args.inputs, *input_files(args.inputs)]
    check_outputs(inputs=inputs, outputs=[args.out, args.csv])
    png_dir = Path(args.png) if args.png else None
    if png_dir is not None:
        check_png_dir(png_dir, inputs=inputs)
    profile = resolve_profile(args.profile)

    def said(i: int, n: int, path: str) -> None:
        if not args.no_progress:
            print(
                f"analysing {i + 1}/{n}: {safe_name(Path(path).name)}", file=sys.stderr, flush=True
            )

    sessions = load_sessions(args.inputs, profile=args.profile, on_file=said)
    h = build_history(sessions)
    rep = history_report(h, profile=profile, units=args.units)
    written = [str(out)]
    # all outputs are complete before any replaces an earlier one (runform.safe_output)
    with OutputSet() as outs:
        outs.write_text(out, rep.html())
        if args.csv:
            outs.write_text(args.csv, csv_table(h).to_csv(index=False))
            written.append(args.csv)
        if png_dir is not None:
            png_dir.mkdir(parents=True, exist_ok=True)
            for name, data in rep.figures.items():
                p = png_dir / f"{name}.png"
                outs.write_bytes(p, data)
                written.append(str(p))
    print(f"{h.counts()}:")
    for s in change_sentences(h, args.units) or [no_change_sentence(h)]:
        print(f"  - {safe_line(s)}")
    print("-> " + ", ".join(safe_name(w) for w in written))
    return 0
