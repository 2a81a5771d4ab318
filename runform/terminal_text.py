"""Text from recordings and file names made safe for the terminal.

A recording is untrusted input (runners share files): its notes, marker labels, device models,
sensor and stream ids, and the file's own name may hold rich markup (``[link=...]``, ``[/]``)
or terminal control sequences (ANSI colours, clear screen, OSC window titles and hyperlinks).
Everything that reaches the terminal from such a source goes through one of these functions:

* :func:`safe_line` – control characters shown as visible escapes (``\\x1b``), one line;
* :func:`safe_name` – the same, for file names;
* :func:`safe_markup` – :func:`safe_line` plus rich markup escaped, for ``console.print``.

The CLI's log formatter (:class:`SafeLogFormatter`) applies :func:`safe_line` to every log
message, and the CLI's error boundary to every error line.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "SafeLogFormatter",
    "distinct_names",
    "safe_line",
    "safe_markup",
    "safe_name",
    "safe_text",
]

# C0 controls, DEL, C1 controls, and the Unicode bidirectional overrides/isolates and
# line/paragraph separators (which can make a name display as something it is not)
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
_CONTROL_KEEP_NL = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]"
)


def _visible(m: re.Match[str]) -> str:
    c = m.group(0)
    code = ord(c)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe_text(text: object, *, keep_newlines: bool = False) -> str:
    """``str(text)`` with every control character replaced by a visible escape."""
    s = text if isinstance(text, str) else str(text)
    return (_CONTROL_KEEP_NL if keep_newlines else _CONTROL).sub(_visible, s)


def safe_line(text: object) -> str:
    """One terminal line: control characters (newlines too) as visible escapes."""
    return safe_text(text)


def safe_name(path: object) -> str:
    """A file name or path for a plain (not rich) print."""
    return safe_text(path)


def distinct_names(paths: Iterable[str | os.PathLike[str]]) -> dict[str, str]:
    """Each path's name for tables and labels (keyed by the path as given, ``str``): its file
    name, with as many of its folders as tell it apart from another file of the same name (a
    coach's anna/w1.h5 and ben/w1.h5). One file given twice keeps its file name."""
    given = {os.fspath(p): Path(os.path.abspath(p)).parts for p in paths}
    files = {parts: 1 for parts in given.values()}  # depth shown per distinct file
    while True:
        names: dict[str, list[tuple[str, ...]]] = {}
        for parts, depth in files.items():
            names.setdefault("/".join(parts[-depth:]), []).append(parts)
        clash = [p for ps in names.values() if len(ps) > 1 for p in ps if files[p] < len(p)]
        if not clash:
            return {k: "/".join(parts[-files[parts] :]) for k, parts in given.items()}
        for parts in clash:
            files[parts] += 1


def safe_markup(text: object, *, keep_newlines: bool = False) -> str:
    """Text for ``rich`` ``console.print``: control characters escaped and markup escaped."""
    from rich.markup import escape  # here: plain output (analyze, logging) does not need rich

    return escape(safe_text(text, keep_newlines=keep_newlines))


class SafeLogFormatter(logging.Formatter):
    """A log formatter whose messages cannot carry terminal control sequences or line breaks."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = safe_line(record.message)
        return super().formatMessage(record)
