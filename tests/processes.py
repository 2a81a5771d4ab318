"""Helpers for tests that run ``runform`` as a child process and stop it with a signal."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator


@contextlib.contextmanager
def killed_if_left(p: subprocess.Popen) -> Iterator[subprocess.Popen]:
    """``p`` for the ``with`` block; killed (and reaped) on leaving if still running, so a
    failing test leaves no child process behind."""
    try:
        yield p
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
