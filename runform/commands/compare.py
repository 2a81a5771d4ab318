"""``runform compare A.h5 B.h5 --out report.html [--json numbers.json]`` and
``runform compare REC.h5 --split-at-marker LABEL | --split-at SECONDS``: what changed between two
runs, or before and after a point of one run, with block bootstrap intervals and tests. Without
``--out``/``--json``/``--png`` the comparison is printed as a table (as ``analyze`` prints its
medians)."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from runform.errors import UsageError
from runform.validation import check_seed

log = logging.getLogger(__name__)

NAME = "compare"
HELP = (
    "Compare two runs (or one run split at a marker or time): medians, differences with "
    "confidence intervals, effect sizes, tests; HTML report and JSON."
)

#: Bounds of ``--resamples`` (bootstrap and permutation resamples).
MIN_RESAMPLES, MAX_RESAMPLES = 1000, 100_000


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
    p.add_argument(
        "--profile",
        help="alert profile whose limits the findings use: a TOML file or a built-in name "
        "(default)",
    )
    p.add_argument(
        "--units",
        choices=("metric", "imperial"),
        default="metric",
        help="metric (default: min/km, km, m, cm, m/s) or imperial (min/mile, miles, ft, in, "
        "mph) in the sentences and the report",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress line on stderr")


def _find_marker(res, label: str) -> float:
    hits = [t for t, lab, _ in res.markers if lab == label]
    if not hits:
        hits = [t for t, lab, _ in res.markers if lab.lower() == label.lower()]
    if not hits:
        have = ", ".join(repr(lab) for _, lab, _ in res.markers) or "none"
        raise UsageError(
            f"{res.recording}: no marker labelled {label!r} (markers in the file: {have})"
        )
    if len(hits) > 1:  # e.g. a 'lap' marker at every lap: say which one splits
        log.warning(
            "%s: %d markers labelled %r (at %s s): split at the first",
            res.recording,
            len(hits),
            label,
            ", ".join(f"{t:.1f}" for t in hits),
        )
    return hits[0]


def _analyse(path: str, profile: str | None, progress_line: bool = True):
    """Analyse one recording with a progress line on stderr (the bootstrap then takes a few
    seconds more); none with ``progress_line=False`` (``--no-progress``)."""
    from runform.analysis_run import analyse_recording
    from runform.console import work_progress
    from runform.terminal_text import safe_name

    with work_progress(
        f"analysing {safe_name(Path(path).name)}", enabled=progress_line
    ) as progress:
        return analyse_recording(path, profile=profile, on_progress=progress)


def run(args: argparse.Namespace) -> int:
    from runform.compare import (
        compare_runs,
        no_common_placement,
        run_from_result,
        split_result,
    )
    from runform.profiles import resolve_profile
    from runform.report import comparison_report
    from runform.safe_output import OutputSet, check_outputs, check_png_dir, same_file
    from runform.terminal_text import distinct_names, safe_line, safe_name

    if not (MIN_RESAMPLES <= args.resamples <= MAX_RESAMPLES):
        # the interval's 2.5 % tails need about a thousand resamples to be stable; the time
        # grows linearly with them (2000: seconds; 10^8 would run for hours without a word)
        raise UsageError(
            f"--resamples {args.resamples}: expected {MIN_RESAMPLES} to {MAX_RESAMPLES}"
        )
    check_seed(args.seed)  # (-1 was 'internal error: ValueError: expected non-negative ...')
    profile = resolve_profile(args.profile)
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
    from recordings import open_recording

    for path in dict.fromkeys(recs):  # each input readable before the first (long) analysis
        with open_recording(path):
            pass
    split_info = None
    if split:
        # the split point is checked on the file before the (longer) analysis
        from types import SimpleNamespace

        with open_recording(recs[0]) as rec:
            head = SimpleNamespace(
                recording=recs[0],
                markers=list(rec.markers),
                t_start=float(rec.t_start),
                duration_s=float(rec.duration_s),
            )
        if args.split_at_marker is not None:
            t = _find_marker(head, args.split_at_marker)
            what = args.split_at_marker
        else:
            t = float(args.split_at)
            t_end = head.t_start + head.duration_s
            if not (head.t_start < t < t_end):
                raise UsageError(
                    f"--split-at {t:g}: expected a time inside the recording "
                    f"({head.t_start:.1f} to {t_end:.1f} s)"
                )
            what = None
        res = _analyse(recs[0], args.profile, not args.no_progress)
        a, b = split_result(res, t, what=what)
        split_info = (res, t)
    else:
        same = same_file(recs[0], recs[1])
        ra = _analyse(recs[0], args.profile, not args.no_progress)
        rb = ra if same else _analyse(recs[1], args.profile, not args.no_progress)
        names = distinct_names(recs)
        a = run_from_result(ra, f"A: {names[recs[0]]}")
        b = run_from_result(rb, f"B: {names[recs[1]]}")
        # the comparison still runs (every difference is zero), with a word why
        if same:
            log.warning("A and B are the same file (%s): nothing can differ", recs[0])
        elif ra.strides.equals(rb.strides):
            log.warning(
                "A and B hold the same contacts (%s and %s: copies of one recording?): "
                "nothing can differ",
                recs[0],
                recs[1],
            )
    for r in (a, b):
        if r.strides.empty:
            raise UsageError(f"{r.recording}: no contacts in {r.label!r}, nothing to compare")
    why = no_common_placement(a, b)
    if why is not None:
        raise UsageError(why)
    comp = compare_runs(
        a,
        b,
        n_boot=args.resamples,
        n_perm=args.resamples,
        seed=args.seed,
        profile=profile,
        units=args.units,
    )
    written = []
    # all outputs are complete before any replaces an earlier one (runform.safe_output)
    with OutputSet() as outs:
        if args.json:
            text = json.dumps(comp.as_dict(), indent=2, allow_nan=False) + "\n"
            outs.write_text(args.json, text)
            written.append(args.json)
        if args.out or args.png:
            rep = comparison_report(comp, split=split_info, units=args.units)
            if args.out:
                outs.write_text(args.out, rep.html())
                written.append(args.out)
            if args.png:
                Path(args.png).mkdir(parents=True, exist_ok=True)
                for name, data in rep.figures.items():
                    p = Path(args.png) / f"{name}.png"
                    outs.write_bytes(p, data)
                    written.append(str(p))
    if not written:
        print_comparison(comp, units=args.units)
    print(safe_line(f"{a.label} vs {b.label}:"))
    for s in comp.sentences:
        print(f"  - {safe_line(s)}")
    if written:
        print("-> " + ", ".join(safe_name(w) for w in written))
    else:
        print("(give --out/--json/--png to write the report and every number)")
    return 0


def print_comparison(comp, *, units: str = "metric") -> None:
    """The comparison as a table on stdout (``compare`` without output files): the HTML
    report's table (:func:`runform.report.metric_cells`), the difference in bold where it
    holds after the Holm correction."""
    from rich.markup import escape
    from rich.table import Table

    from runform.console import make_console
    from runform.report import metric_cells
    from runform.terminal_text import safe_line

    columns = {
        "label": "metric",
        "a": "A",
        "b": "B",
        "diff": "B − A",
        "ci": "95 % CI",
        "effect": "effect",
        "p": "p",
        "p_holm": "p (Holm)",
        "n": "n A/B (effective)",
    }
    table = Table(title=escape(safe_line(f"{comp.a.label} vs {comp.b.label}")))
    table.add_column("group")
    for key, name in columns.items():
        table.add_column(name, justify="left" if key == "label" else "right")
    for m in comp.metrics:
        cells = {k: escape(safe_line(v)) for k, v in metric_cells(m, units).items()}
        if m.significant:
            cells["diff"] = f"[bold]{cells['diff']}[/bold]"
        table.add_row(escape(m.group), *(cells[k] for k in columns))
    make_console().print(table)
