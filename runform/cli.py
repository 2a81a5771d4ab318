"""The ``runform`` command: one entry point, one subcommand per module in ``runform.commands``.

Each module in :mod:`runform.commands` defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int``. The CLI only parses arguments, wires sources to consumers and prints;
the work happens in the packages.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import os
import sys
from collections.abc import Sequence

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
    "sensors",
    "live",
    "replay",
    "compare",
    "report",
    "history",
    "batch",
)


def _command_modules(only: str | None = None) -> list:
    import runform.commands as pkg

    if only and only.isidentifier() and not only.startswith("_"):
        # the other commands' imports (scipy.signal, Qt, ...) are not needed, nor is the
        # listing of the package (pkgutil imports inspect)
        if importlib.util.find_spec(f"runform.commands.{only}") is not None:
            return [importlib.import_module(f"runform.commands.{only}")]
    import pkgutil

    names = [i.name for i in pkgutil.iter_modules(pkg.__path__) if not i.name.startswith("_")]
    mods = [importlib.import_module(f"runform.commands.{name}") for name in names]
    rank = {n: i for i, n in enumerate(_ORDER)}
    mods.sort(key=lambda m: (rank.get(m.NAME, len(rank)), m.NAME))
    return mods


class _VersionAction(argparse.Action):
    """``--version``: the version is looked up only when asked for (start-up time counts)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, nargs=0)

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        from runform import __version__

        print(f"runform {__version__}")
        parser.exit()


def build_parser(
    command: str | None = None, *, only_arguments_of_command: bool = False
) -> argparse.ArgumentParser:
    """The argument parser with every subcommand (only ``command``'s when it names one).

    With ``only_arguments_of_command`` the other subcommands are listed (name and help, for
    ``--help`` and the "invalid choice" error) without their arguments: some options list what
    the simulator offers, and importing it costs scipy.signal (0.7 s) that ``runform --version``
    or ``runform --help`` do not need. Such a parser parses only ``command``'s command lines.
    """
    parser = argparse.ArgumentParser(
        prog="runform",
        description="Open running-form analysis from wearable IMU sensors.",
    )
    parser.add_argument("--version", action=_VersionAction, help="show the version and exit")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in _command_modules(command):
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        if not only_arguments_of_command or mod.NAME == command:
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
    # start-up time counts (a user runs one command): build only the subcommand asked for. The
    # top-level options take no value, so the first word not starting with "-" is the command;
    # with none (--version, --help) no subcommand's arguments are needed.
    command = next((a for a in args_in if not a.startswith("-")), None)
    parser = build_parser(command, only_arguments_of_command=True)
    args = parser.parse_args(args_in)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    _setup_logging(level)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("runform: interrupted", file=sys.stderr)
        return 130
    except user_error_types() as exc:
        _error_line(args.command, f"error: {exc}")
        return 2
    except OSError as exc:  # the file system said no: name the file and why
        if os.environ.get("RUNFORM_DEBUG"):
            raise
        from runform.safe_output import describe_os_error

        where = f"{exc.filename}: " if exc.filename else ""
        _error_line(args.command, f"error: {where}{describe_os_error(exc)}")
        return 2
    except MemoryError as exc:
        if os.environ.get("RUNFORM_DEBUG"):
            raise
        _error_line(args.command, f"error: out of memory ({exc or 'allocation failed'})")
        return 1
    except Exception as exc:  # a bug: still one line unless debugging is asked for
        if os.environ.get("RUNFORM_DEBUG"):
            raise
        _error_line(
            args.command,
            f"internal error: {type(exc).__name__}: {exc} "
            "(set RUNFORM_DEBUG=1 for the traceback, and please report it)",
        )
        return 1


def _setup_logging(level: int) -> None:
    """Log to stderr; messages pass through :class:`runform.terminal_text.SafeLogFormatter`."""
    from runform.terminal_text import SafeLogFormatter

    root = logging.getLogger()
    if root.handlers:  # already configured (an embedding program, a test runner): keep theirs
        return
    handler = logging.StreamHandler()
    handler.setFormatter(SafeLogFormatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)


def _error_line(command: str, message: str) -> None:
    """Print one error line: control characters and line breaks of the message made visible."""
    from runform.terminal_text import safe_line

    print(f"runform {command}: {safe_line(message)}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
