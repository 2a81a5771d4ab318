"""The CLI's rich console: full width on a terminal, wide enough when output is piped."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console

__all__ = ["make_console", "work_progress"]


def make_console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    tty = stream.isatty()
    return Console(
        file=stream,
        highlight=False,
        soft_wrap=True,
        width=None if tty else 160,
    )


@contextmanager
def work_progress(
    what: str, *, enabled: bool = True, min_total_s: float = 120.0
) -> Iterator[Callable[[float, float], None]]:
    """Progress of a long step (analysing a file, simulating a run) on stderr.

    Yields a callback ``(done, total)``. On a terminal it drives a transient progress bar; when
    stderr is not a terminal one line ``what (N min of data)…`` is written at the first call
    (once the input is open) if ``total`` is at least ``min_total_s`` (a short file takes a
    second or two, and an error about it stays one line), so a log shows what the command is
    doing during its silent seconds. Nothing with ``enabled=False``.
    """
    if not enabled:
        yield lambda done, total: None
        return
    if not sys.stderr.isatty():
        said = False

        def once(done: float, total: float) -> None:
            nonlocal said
            if not said and total >= min_total_s:
                said = True
                print(f"{what} ({total / 60:.0f} min of data)…", file=sys.stderr, flush=True)

        yield once
        return
    from rich.progress import Progress

    with Progress(transient=True, console=make_console(stderr=True)) as prog:
        task = prog.add_task(what, total=None)

        def update(done: float, total: float) -> None:
            prog.update(task, completed=done, total=total)

        yield update
