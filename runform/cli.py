"""The ``runform`` command: one entry point, one subcommand per module in ``runform.commands``.

Each module in :mod:`runform.commands` defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int``. The CLI only parses arguments, wires sources to consumers and prints;
the work happens in the packages.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import sys
from collections.abc import Sequence

from runform import __version__
from runform.errors import user_error_types

__all__ = ["build_parser", "main"]

log = logging.getLogger(__name__)

#: Order in which subcommands are listed in ``--help`` (others follow alphabetically).
_ORDER = (
    "demo",
    "simulate",
    "info",
    "analyze",
    "export",
    "scan",
    "record",
    "live",
    "replay",
    "compare",
    "report",
    "batch",
)


def _command_modules(only: str | None = None) -> list:
    import runform.commands as pkg

    names = [i.name for i in pkgutil.iter_modules(pkg.__path__) if not i.name.startswith("_")]
    if only in names:
        names = [only]  # the other commands' imports (scipy.signal, Qt, ...) are not needed
    mods = [importlib.import_module(f"runform.commands.{name}") for name in names]
    rank = {n: i for i, n in enumerate(_ORDER)}
    mods.sort(key=lambda m: (rank.get(m.NAME, len(rank)), m.NAME))
    return mods


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser with every subcommand (only ``command``'s when it names one)."""
    parser = argparse.ArgumentParser(
        prog="runform",
        description="Open running-form analysis from wearable IMU sensors.",
    )
    parser.add_argument("--version", action="version", version=f"runform {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in _command_modules(command):
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def _tune_allocator() -> None:
    """Let glibc reuse freed large buffers instead of mapping fresh pages for each one.

    By default glibc serves an allocation above its mmap threshold (128 kB, rising to at most
    32 MB as it adapts) with a new mapping and unmaps it on free, so every large numpy
    temporary of the analysis (0.1 to 10 MB per chunk and sensor) costs page faults. With the
    mmap and trim thresholds at 64 MB the freed memory is reused: about 15 % less CPU for
    ``runform analyze``, same peak memory (``benchmarks/bench_analyze.py``). Linux with glibc
    only; elsewhere, or if the C library is not glibc, nothing changes.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
        libc.mallopt(m_mmap_threshold, 64 << 20)
        libc.mallopt(m_trim_threshold, 64 << 20)
    except (OSError, AttributeError):  # not glibc (e.g. musl): keep its defaults
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    _tune_allocator()
    args_in = list(sys.argv[1:] if argv is None else argv)
    # start-up time counts (a user runs one command): build only the subcommand asked for
    parser = build_parser(next((a for a in args_in if not a.startswith("-")), None))
    args = parser.parse_args(args_in)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("runform: interrupted", file=sys.stderr)
        return 130
    except user_error_types() as exc:
        print(f"runform {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug: still one line unless debugging is asked for
        if os.environ.get("RUNFORM_DEBUG"):
            raise
        print(
            f"runform {args.command}: internal error: {type(exc).__name__}: {exc} "
            "(set RUNFORM_DEBUG=1 for the traceback, and please report it)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
