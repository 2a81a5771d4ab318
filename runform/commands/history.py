"""``runform history INPUTS... --out history.html``: trends of the key running metrics per
session and per week over many recordings, with bands, alert limits and the sessions where a
metric changed beyond noise. Batch output folders are read as they are (seconds for a
season)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from runform.errors import UsageError

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
    from runform.history import build_history, change_sentences, history_report, load_sessions
    from runform.profiles import resolve_profile

    out = Path(args.out)
    if not out.parent.exists():
        raise UsageError(f"--out {out}: folder {out.parent} does not exist")
    profile = resolve_profile(args.profile)

    def said(i: int, n: int, path: str) -> None:
        if not args.no_progress:
            print(f"analysing {i + 1}/{n}: {Path(path).name}", file=sys.stderr, flush=True)

    sessions = load_sessions(args.inputs, profile=args.profile, on_file=said)
    h = build_history(sessions)
    rep = history_report(h, profile=profile, units=args.units)
    try:
        rep.write_html(out)
    except OSError as exc:
        raise UsageError(f"--out {out}: cannot write the history ({exc.strerror})") from exc
    written = [str(out)]
    if args.csv:
        h.table.to_csv(args.csv, index=False)
        written.append(args.csv)
    if args.png:
        written += [str(p) for p in rep.write_pngs(args.png, prefix="")]
    print(f"{len(sessions)} sessions:")
    for s in change_sentences(h, args.units) or ["no lasting change beyond noise"]:
        print(f"  - {s}")
    print("-> " + ", ".join(written))
    return 0
