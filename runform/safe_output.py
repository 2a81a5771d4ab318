"""Atomic output files for every command: write beside, fsync, rename; never over an input.

A command that writes files stages each one under a hidden temporary name in the same folder,
writes it completely, and only then moves it over the final name (``os.replace``, atomic on one
file system) after an ``fsync`` of the data and of the folder. So a failed, interrupted or
killed command leaves every earlier output as it was (at most a hidden ``.NAME.runform-tmp-*``
file after a ``kill -9``), and a reader never sees a half-written CSV, JSON, HTML or PNG.

Usage (every command that writes files, and any new one)::

    from runform.safe_output import OutputSet, check_outputs

    check_outputs(inputs=[args.recording], outputs=[args.strides, args.json])
    with OutputSet() as outs:
        tmp = outs.stage(args.strides)     # a path to write to, beside args.strides
        write_csv(tmp)                      # any writer that takes a path
        outs.write_text(args.json, text)    # or hand the bytes/text over directly
    # leaving the block without an exception commits every staged file at once;
    # an exception removes the temporaries and leaves the old outputs untouched

An output that exists and is not a regular file (``/dev/null``, ``/dev/stdout``, a named
pipe) is written into, never replaced: it is staged in the temporary folder and copied into it
at commit.

Errors of the file system (read-only, full, no permission) become one
:class:`runform.errors.UsageError` line naming the file.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import secrets
import shutil
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from runform.errors import UsageError

__all__ = [
    "OutputSet",
    "check_new_recording",
    "check_outputs",
    "check_recording_room",
    "describe_os_error",
    "is_special_file",
    "same_file",
]

log = logging.getLogger(__name__)

_TMP_TAG = ".runform-tmp-"


def describe_os_error(exc: OSError) -> str:
    """A short reason for an OS error: ``disk full``, ``read-only file system``, ..."""
    names = {
        errno.ENOSPC: "disk full",
        errno.EDQUOT: "disk quota exceeded",
        errno.EROFS: "read-only file system",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.EFBIG: "file too large for this file system or limit",
        errno.ENOENT: "folder does not exist",
        errno.EISDIR: "is a folder",
        errno.ENOTDIR: "a parent is not a folder",
    }
    return names.get(exc.errno or 0, exc.strerror or str(exc))


def is_special_file(path: str | os.PathLike[str]) -> bool:
    """True if ``path`` exists (after symlinks) and is neither a regular file nor a folder:
    a device such as ``/dev/null``, ``/dev/stdout`` on a pipe or terminal, a named pipe."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def same_file(a: str, b: str) -> bool:
    """True if ``a`` and ``b`` name the same file (symlinks, ``..``, hard links)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_outputs(
    *,
    inputs: Iterable[str | os.PathLike[str] | None],
    outputs: Iterable[str | os.PathLike[str] | None],
) -> None:
    """Refuse an output that is one of the inputs, the same file twice, or an existing folder.

    Raises
    ------
    UsageError
        ``OUT: is the input recording IN; choose another output file`` and the like.
    """
    ins = [os.fspath(p) for p in inputs if p]
    outs = [os.fspath(p) for p in outputs if p]
    for i, out in enumerate(outs):
        for src in ins:
            if same_file(out, src):
                raise UsageError(
                    f"{out}: is the input {src}; writing there would destroy it "
                    "(choose another output file)"
                )
        for other in outs[:i]:
            if same_file(out, other):
                raise UsageError(f"{out}: given as two different outputs")
        if os.path.isdir(out):
            raise UsageError(f"{out}: is a folder, expected a file name")
        if is_special_file(out):  # written into (/dev/null, a pipe), its folder is not used
            if not os.access(out, os.W_OK):
                raise UsageError(f"{out}: cannot write (permission denied)")
            continue
        parent = os.path.dirname(os.path.abspath(out))
        if not os.path.isdir(parent):
            raise UsageError(f"{out}: folder {parent} does not exist")
        _check_writable(out, parent)


def _check_writable(out: str, folder: str) -> None:
    """Fail before the work, not after it, when the folder cannot take files."""
    if os.access(folder, os.W_OK):
        return
    try:
        ro = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        ro = False
    why = "read-only file system" if ro else "permission denied"
    raise UsageError(f"{out}: cannot write ({why})")


def check_png_dir(
    folder: str | os.PathLike[str], *, inputs: Iterable[str | os.PathLike[str] | None] = ()
) -> None:
    """A folder for figure files: refuse an existing file (or an input) in its place."""
    d = os.fspath(folder)
    for src in inputs:
        if src and same_file(d, os.fspath(src)):
            raise UsageError(f"--png {d}: is the input {os.fspath(src)}; give a folder")
    if os.path.exists(d) and not os.path.isdir(d):
        raise UsageError(f"--png {d}: is a file, expected a folder for the figures")
    parent = os.path.dirname(os.path.abspath(d))
    if not os.path.isdir(parent):
        raise UsageError(f"--png {d}: folder {parent} does not exist")


def check_recording_room(path: str | os.PathLike[str], min_free_mb: float | None) -> None:
    """Refuse to start a recording (``record``, ``live``) at ``path`` when its disk has less
    free space than the recording keeps free (``--min-free-mb``, None: the default
    :data:`recordings.recorder.MIN_FREE_BYTES`): it would stop at once and leave an empty file
    ('disk full: recording stopped at 0.0 s'). One line naming the folder, the free space and
    the minimum."""
    from recordings.recorder import free_bytes, min_free_bytes

    need = min_free_bytes(min_free_mb)
    try:
        free = free_bytes(path)
    except OSError:  # check_new_recording reports a folder that cannot be used
        return
    if free >= need:
        return
    folder = os.path.dirname(os.path.abspath(os.fspath(path)))
    asked = (
        f"--min-free-mb {min_free_mb:g}"
        if min_free_mb is not None
        else f"the {need / 1e6:.1f} MB a recording keeps free (--min-free-mb)"
    )
    raise UsageError(
        f"{folder}: {free / 1e6:.1f} MB free, less than {asked}; nothing recorded (free some "
        "space, record elsewhere or lower --min-free-mb)"
    )


def check_new_recording(
    path: str | os.PathLike[str], *, force: bool, option: str = "--out"
) -> None:
    """Refuse to replace an existing recording unless ``force`` (``--force``) is given."""
    p = os.fspath(path)
    if os.path.isdir(p):
        raise UsageError(f"{option} {p}: is a folder, expected a recording file name (.h5)")
    parent = os.path.dirname(os.path.abspath(p))
    if not os.path.isdir(parent):
        raise UsageError(f"{option} {p}: folder {parent} does not exist")
    if is_special_file(p):  # --force must not replace /dev/null or a pipe with a file
        raise UsageError(
            f"{option} {p}: is not a regular file (a device or a pipe); a recording needs a "
            "file name"
        )
    if os.path.lexists(p) and not force:
        raise UsageError(
            f"{option} {p}: file exists; it may be an earlier recording. Choose another name "
            "or add --force to replace it"
        )
    # find a read-only or full folder now, not after the sensors are connected
    probe = os.path.join(parent, f".{os.path.basename(p)}{_TMP_TAG}probe-{os.getpid()}")
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, b"\0" * 4096)
        finally:
            os.close(fd)
    except OSError as exc:
        raise UsageError(f"{option} {p}: cannot write there ({describe_os_error(exc)})") from None
    finally:
        with contextlib.suppress(OSError):
            os.remove(probe)


def _fsync_dir(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # some platforms/file systems cannot open folders: rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class OutputSet:
    """Files staged beside their final names and committed together (see the module doc).

    Use as a context manager: a clean exit commits, an exception aborts.
    """

    def __init__(self) -> None:
        self._staged: list[tuple[str, str]] = []  # (temporary, final)
        self._done = False

    def stage(self, final: str | os.PathLike[str]) -> str:
        """Create an empty temporary file beside ``final`` and return its path."""
        final_s = os.fspath(final)
        folder, name = os.path.split(os.path.abspath(final_s))
        if is_special_file(final_s):  # copied into it at commit (its folder may be /dev)
            folder = tempfile.gettempdir()
        tmp = os.path.join(folder, f".{name}{_TMP_TAG}{os.getpid()}-{secrets.token_hex(4)}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            os.close(fd)
        except OSError as exc:
            raise UsageError(f"{final_s}: cannot write ({describe_os_error(exc)})") from None
        self._staged.append((tmp, final_s))
        return tmp

    def write_bytes(self, final: str | os.PathLike[str], data: bytes) -> None:
        tmp = self.stage(final)
        try:
            Path(tmp).write_bytes(data)
        except OSError as exc:
            raise UsageError(
                f"{os.fspath(final)}: cannot write ({describe_os_error(exc)})"
            ) from None

    def write_text(self, final: str | os.PathLike[str], text: str) -> None:
        self.write_bytes(final, text.encode("utf-8"))

    def commit(self) -> list[str]:
        """fsync every staged file, then rename each over its final name; returns the names."""
        if self._done:
            return [f for _, f in self._staged]
        try:
            for tmp, final in self._staged:
                try:
                    fd = os.open(tmp, os.O_RDONLY)
                    try:
                        os.fsync(fd)
                    finally:
                        os.close(fd)
                except OSError as exc:
                    raise UsageError(f"{final}: cannot write ({describe_os_error(exc)})") from None
            folders = set()
            for tmp, final in self._staged:
                try:
                    if is_special_file(final):
                        # a device or a pipe: write into it, never rename a file over it
                        with open(tmp, "rb") as src, open(final, "wb") as dst:
                            shutil.copyfileobj(src, dst)
                        os.remove(tmp)
                        continue
                    os.replace(tmp, final)
                except OSError as exc:
                    raise UsageError(f"{final}: cannot write ({describe_os_error(exc)})") from None
                folders.add(os.path.dirname(os.path.abspath(final)))
            for folder in folders:
                _fsync_dir(folder)
        except BaseException:
            self.abort()
            raise
        self._done = True
        return [f for _, f in self._staged]

    def abort(self) -> None:
        """Remove every temporary that was not committed (earlier outputs stay as they were)."""
        for tmp, _final in self._staged:
            try:
                os.remove(tmp)
            except FileNotFoundError:
                pass
            except OSError as exc:  # pragma: no cover - nothing better to do than say so
                log.warning("could not remove the temporary file %s (%s)", tmp, exc)
        self._done = True

    def __enter__(self) -> OutputSet:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.commit()
            return
        self.abort()
        if isinstance(exc, UsageError) and exc.args:
            # a writer names the file it was given: say the final name, not the temporary
            msg = str(exc.args[0])
            for tmp, final in self._staged:
                msg = msg.replace(tmp, final)
            exc.args = (msg, *exc.args[1:])
