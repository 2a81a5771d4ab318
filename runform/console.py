"""The CLI's rich console: full width on a terminal, wide enough when output is piped."""

from __future__ import annotations

import sys

from rich.console import Console

__all__ = ["make_console"]


def make_console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    tty = stream.isatty()
    return Console(
        file=stream,
        highlight=False,
        soft_wrap=True,
        width=None if tty else 160,
    )
