"""``runform batch INPUTS... --out DIR [--scheduler ADDRESS] [--workers N]``: analyse many
recordings on a Dask cluster into ``DIR/strides.parquet``, ``DIR/recordings.parquet`` and
``DIR/errors.csv`` (see ``docs/batch.md``)."""

from __future__ import annotations

import argparse
import logging
import os
import sys

NAME = "batch"
HELP = (
    "Analyse many recordings (files, folders, globs) on a Dask cluster -> strides.parquet, "
    "recordings.parquet, errors.csv; re-runs skip recordings already done."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="recording files, folders or globs")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="existing Dask scheduler, e.g. tcp://host:8786 (default: a local cluster)",
    )
    p.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="worker processes of the local cluster (default: CPUs)",
    )
    p.add_argument(
        "--profile", help="alert profile for the per-recording alert counts (name or TOML file)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from runform.batch import (
        BatchProgress,
        check_profile,
        check_workers,
        expand_inputs,
        run_batch,
    )
    from runform.console import make_console

    check_workers(args.workers)  # before the progress bar and the output folder
    check_profile(args.profile, remote=args.scheduler is not None)
    if not getattr(args, "verbose", 0):
        quiet_dask()
    files = expand_inputs(args.inputs)
    if args.scheduler is not None:  # before the progress bar: a bad address is one line
        from runform.batch import probe_scheduler

        probe_scheduler(args.scheduler)
    console = make_console(stderr=True)
    show = not args.no_progress
    prog = Progress(
        TextColumn("[bold]recordings"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[strides]} strides, {task.fields[failed]} failed"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        disable=not show,
    )
    with prog:
        task = prog.add_task("batch", total=len(files), strides=0, failed=0)

        def update(st: BatchProgress) -> None:
            prog.update(task, completed=st.finished, strides=st.strides, failed=st.failed)

        res = run_batch(
            files,
            args.out,
            scheduler=args.scheduler,
            workers=args.workers,
            profile=args.profile,
            progress=update,
        )
    print(
        f"{res.total} recordings: {res.analysed} analysed, {res.skipped} already done, "
        f"{res.failed} failed; {res.strides} strides in {res.seconds:.1f} s on "
        f"{res.workers} worker{'' if res.workers == 1 else 's'} -> {res.out_dir}/strides.parquet, "
        "recordings.parquet, errors.csv"
    )
    for path, _h, err in res.errors[:20]:
        print(f"  {err}" if err.startswith(path) else f"  {path}: {err}", file=sys.stderr)
    if len(res.errors) > 20:
        print(f"  ... {len(res.errors) - 20} more in {res.out_dir}/errors.csv", file=sys.stderr)
    # any failed recording makes the exit status 1 (scripts must notice); its line is in
    # errors.csv and the tables hold the others
    return 1 if res.failed else 0


def quiet_dask() -> None:
    """Keep Dask's INFO lines (scheduler and worker start/stop, ~30 per run) out of the
    progress bar. ``distributed`` sets its loggers' levels from its config when it is first
    imported, so the config is set before (inherited by the worker processes through the
    environment) and the levels after the import."""
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")
    import distributed  # noqa: F401  (sets its logging up now, not later over ours)

    for name in ("distributed", "dask", "bokeh", "tornado"):
        logging.getLogger(name).setLevel(logging.WARNING)
