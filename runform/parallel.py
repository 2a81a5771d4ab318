"""Analysis of one recording on several cores, with the rows of the one-process analysis.

:func:`runform.analysis_run.analyse_recording` uses this module to run the analyzers of the
sensors that do not depend on the others (the feet) in forked worker processes, while this
process reads and analyses the others (the pelvis, which fuses the feet's contacts) and does
the session's pairing, the alerts and the writing.

How the results stay identical
------------------------------
The session (:class:`dsp.session.SessionAnalyzer`) is built in this process with a
:class:`RemoteAnalyzer` in place of each remote sensor's analyzer, and makes exactly the calls
of the one-process loop, in the same order: this process still walks
:meth:`recordings.Recording.iter_blocks` over every sensor, but the blocks of remote sensors are
empty placeholders (:func:`local_blocks`), and feeding one to its ``RemoteAnalyzer`` returns
the :class:`dsp.feed.FeedResult` the real analyzer returned for the real block in the worker.
A worker reads its sensors with the same ``iter_blocks`` call restricted to them (the windows
of one sensor do not depend on the others) and sends each call's result as it is: the result
is the analyzer's whole answer (rows, early rows, detected contacts, watermarks, traces), so
the session and the pelvis see the same values at the same points of the sequence. Summaries
and diagnostics come with the last message.

Errors in a worker (a bad sample, an analysis error) are raised in this process by the call
that would have raised them in the one-process loop, as the same exception type and message
(the worker's traceback is chained for ``RUNFORM_DEBUG``). Workers ignore SIGINT, never write
to the terminal (their log records are replayed here, in order) and are terminated when the
analysis stops early.

When it is not used
-------------------
:func:`plan_workers` decides; the analysis runs in one process when ``RUNFORM_WORKERS=1`` (or
``workers=1``), when no sensor can be moved out (fewer than two analysed sensors), for
recordings shorter than :data:`MIN_PARALLEL_S` or windows (``chunk_s``) shorter than
:data:`MIN_PARALLEL_CHUNK_S` (unless workers are asked for), without the ``fork`` start
method (Windows, macOS), outside the main thread, and inside a daemonic process
(``runform batch`` runs files in parallel in dask worker processes already).
"""

from __future__ import annotations

import contextlib
import logging
import math
import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import sys
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np

from dsp.block import SampleBlock, SensorInfo
from dsp.feed import FeedResult
from runform.validation import ANALYSIS_CHUNK_S

try:
    import fcntl
except ImportError:  # not on Windows (where workers are not used)
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from dsp.session import AnalysisConfig
    from recordings import Recording
    from recordings.reader import ValidatedLayout

__all__ = [
    "ENV_WORKERS",
    "MIN_PARALLEL_CHUNK_S",
    "MIN_PARALLEL_S",
    "RemoteAnalyzer",
    "WorkerPool",
    "local_blocks",
    "plan_workers",
    "workers_setting",
]

log = logging.getLogger(__name__)

#: Environment variable: the most processes one analysis may use (``1`` = one process).
ENV_WORKERS = "RUNFORM_WORKERS"

#: Recordings shorter than this (s) are analysed in one process: starting the workers and
#: opening the file in each costs about as much as they save.
MIN_PARALLEL_S = 60.0

#: Shortest ``chunk_s`` (s) for which workers are used automatically. The main process still
#: walks the window sequence of every sensor, which costs a search of each remote sensor's time
#: axis per window (about 2 ms in a long file): with short windows that outweighs the work
#: moved to the workers (about 0.7 ms per second of 400 Hz foot data).
MIN_PARALLEL_CHUNK_S = 20.0

#: Pipe buffer asked for (bytes): a worker blocks when this much of its results is unread, so
#: the processes do not wait on each other at every window (a window's message: 10-80 kB).
_PIPE_BYTES = 1 << 20

#: Seconds a finished worker gets to exit, and a terminated one to die, before it is killed.
_JOIN_S = 5.0


def workers_setting(workers: int | None) -> int | None:
    """The most processes to use: ``workers``, else ``$RUNFORM_WORKERS``, else ``None`` (auto).

    Raises
    ------
    ValueError
        ``workers`` is less than 1.
    runform.errors.UsageError
        The environment variable is not a positive integer.
    """
    from runform.errors import UsageError

    if workers is not None:
        if workers < 1:
            raise ValueError(f"workers {workers}: expected at least 1")
        return int(workers)
    env = os.environ.get(ENV_WORKERS, "").strip()
    if not env:
        return None
    try:
        n = int(env)
    except ValueError:
        n = 0
    if n < 1:
        raise UsageError(f"{ENV_WORKERS}={env!r}: expected a positive integer (1 = one process)")
    return n


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _is_independent(cls: type) -> bool:
    """An analyzer that does not take the other sensors' results can run anywhere."""
    return not getattr(cls, "uses_feet", False)


def plan_workers(
    sensors: list[SensorInfo],
    *,
    duration_s: float,
    chunk_s: float = ANALYSIS_CHUNK_S,
    workers: int | None = None,
) -> tuple[list[list[str]], str]:
    """Which sensors to analyse in which worker process.

    Parameters
    ----------
    sensors : list of SensorInfo
        The recording's sensors, in file order.
    duration_s : float
        Recording duration, s.
    chunk_s : float
        Window of the analysis loop, s.
    workers : int, optional
        The most processes to use, this one included (:func:`workers_setting`); ``None`` =
        automatic: one per sensor that can be moved out, plus this one, for recordings of
        :data:`MIN_PARALLEL_S` or more read in windows of :data:`MIN_PARALLEL_CHUNK_S` or more,
        on two cores or more.

    Returns
    -------
    groups : list of list of str
        Sensor ids per worker process (file order); empty = analyse in this process.
    reason : str
        Why (for the debug log).
    """
    from dsp.session import ANALYZERS

    if workers == 1:
        return [], f"{ENV_WORKERS}=1 or workers=1"
    analysed = [s for s in sensors if s.placement in ANALYZERS]
    movable = [s.sensor_id for s in analysed if _is_independent(ANALYZERS[s.placement])]
    if len(analysed) < 2 or not movable:
        return [], "fewer than two analysed sensors, or none that can run apart"
    if workers is None and not duration_s >= MIN_PARALLEL_S:
        return [], f"recording shorter than {MIN_PARALLEL_S:g} s"
    if workers is None and not chunk_s >= MIN_PARALLEL_CHUNK_S:
        return [], f"windows shorter than {MIN_PARALLEL_CHUNK_S:g} s"
    if workers is None and _cores() < 2:
        return [], "one core"
    if "fork" not in multiprocessing.get_all_start_methods() or sys.platform == "darwin":
        return [], "no safe 'fork' start method on this platform"
    if multiprocessing.current_process().daemon:
        return [], "inside a daemonic process (e.g. a dask worker)"
    if threading.current_thread() is not threading.main_thread():
        return [], "not in the main thread"
    if len(movable) == len(analysed):
        movable = movable[1:]  # this process analyses one of them rather than wait
    n = len(movable) if workers is None else min(len(movable), workers - 1)
    groups: list[list[str]] = [[] for _ in range(n)]
    for i, sid in enumerate(movable):
        groups[i % n].append(sid)
    return groups, f"{n} worker process(es) on {_cores()} core(s)"


# --------------------------------------------------------------------------- worker side
@dataclass
class _Failure:
    """A worker's exception: the exception itself when it pickles, and the traceback text."""

    exc: BaseException
    tb: str


def _failure(exc: BaseException) -> _Failure:
    """``exc`` ready to send (a RuntimeError with its type and message if it cannot be)."""
    tb = "".join(traceback.format_exception(exc))
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        exc = RuntimeError(f"{type(exc).__name__}: {exc}")
    return _Failure(exc, tb)


def _outcome(fn: Any) -> Any:
    """``fn()``, or its exception as a :class:`_Failure` (raised when the result is used)."""
    try:
        return fn()
    except Exception as exc:
        return _failure(exc)


class _LogCapture(logging.Handler):
    """Keeps a worker's log records (made picklable) to replay them in the main process."""

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        record.msg = record.getMessage()
        record.args = None
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        self.records.append(record)

    def take(self) -> list[logging.LogRecord]:
        out, self.records = self.records, []
        return out


#: Niceness added to the workers. The main process (pelvis, session, CSV) has about twice a
#: foot's work and is the critical path: with the workers a little nicer the main process keeps
#: a core while the two feet share the other, instead of all three sharing both.
WORKER_NICENESS = 10


def _lower_priority() -> None:
    n = int(os.environ.get("RUNFORM_WORKER_NICE", WORKER_NICENESS))
    try:
        os.nice(n)
    except (OSError, AttributeError):  # not allowed or not POSIX: equal priority
        pass


def _worker_main(
    conn: multiprocessing.connection.Connection,
    others: list[multiprocessing.connection.Connection],
    path: str,
    sensors: list[SensorInfo],
    sids: list[str],
    chunk_s: float,
    config: AnalysisConfig,
    traces: bool,
    validated: ValidatedLayout | None = None,
) -> None:
    """Body of a worker process: analyse ``sids`` and send every result through ``conn``
    (``validated``: the main process's validation of the file, not repeated if unchanged)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    _lower_priority()
    for c in others:  # the main process's ends of the other workers' pipes
        c.close()
    # fresh stdio objects: a thread of the parent may have held their locks at the fork
    sys.stdout = open(os.devnull, "w")  # lives as long as the process
    sys.stderr = open(os.devnull, "w")
    capture = _LogCapture()
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(capture)

    def send(*msg: Any) -> None:
        conn.send((*msg, capture.take()))

    try:
        from dsp.session import ANALYZERS
        from recordings import open_recording

        info = {s.sensor_id: s for s in sensors}
        analyzers: dict[str, Any] = {}
        for sid in sids:
            place = info[sid].placement
            analyzers[sid] = ANALYZERS[place](info[sid], **config.settings_for(place))

        def shipped(res: FeedResult) -> FeedResult:
            return res if traces or not res.traces else replace(res, traces=())

        with open_recording(path, validated=validated) as rec:
            for block in rec.iter_blocks(chunk_s=chunk_s, sensor_ids=sids):
                sid = block.sensor_id
                send("fed", sid, shipped(analyzers[sid].feed(block)))
        for sid in sids:  # in file order, as the session finishes them
            a = analyzers[sid]
            res = shipped(a.finish())
            # an error of summary() or diagnostics() is raised when the session asks for them
            send("finished", sid, res, _outcome(a.summary), _outcome(a.diagnostics))
    except BaseException as exc:  # sent to the main process, which raises it
        with contextlib.suppress(OSError):  # the main process may be gone
            send("error", "", _failure(exc))
    finally:
        conn.close()


# --------------------------------------------------------------------------- main side
class _RemoteTraceback(Exception):
    """The traceback of an exception raised in a worker process (chained as its cause)."""

    def __init__(self, tb: str) -> None:
        super().__init__(tb)
        self.tb = tb

    def __str__(self) -> str:
        return f"\n(in a worker process)\n{self.tb}"


def _raise(fail: _Failure) -> NoReturn:
    raise fail.exc from _RemoteTraceback(fail.tb)


class _Channel:
    """The main process's end of one worker's pipe."""

    def __init__(
        self,
        conn: multiprocessing.connection.Connection,
        proc: multiprocessing.process.BaseProcess,
    ) -> None:
        self.conn = conn
        self.proc = proc

    def expect(self, sid: str, kind: str) -> tuple[Any, ...]:
        """The worker's next message, which must be ``kind`` for ``sid``; raises its error."""
        try:
            msg = self.conn.recv()
        except (EOFError, OSError):
            self.proc.join(_JOIN_S)
            raise RuntimeError(
                f"the worker process analysing {sid} ended unexpectedly "
                f"(exit code {self.proc.exitcode})"
            ) from None
        for rec in msg[-1]:
            lg = logging.getLogger(rec.name)
            if lg.isEnabledFor(rec.levelno):
                lg.handle(rec)
        if msg[0] == "error":
            _raise(msg[2])
        if msg[0] != kind or msg[1] != sid:
            raise RuntimeError(f"worker out of step: expected {kind} of {sid}, got {msg[:2]}")
        return msg


class RemoteAnalyzer:
    """Stands in the session for an analyzer that runs in a worker process.

    ``feed`` and ``finish`` return the :class:`dsp.feed.FeedResult` the real analyzer returned
    for the same call (the block given to ``feed`` is a placeholder: the worker reads the data
    itself; the result's ``data_end`` is the real block's), ``summary`` and ``diagnostics``
    the real analyzer's after its ``finish``.
    """

    def __init__(self, sensor_id: str, channel: _Channel) -> None:
        self._sid = sensor_id
        self._channel = channel
        self._summary: dict[str, Any] | _Failure | None = None
        self._diagnostics: dict[str, Any] | _Failure | None = None

    def feed(self, block: SampleBlock) -> FeedResult:
        """The worker's analyzer's result for the next block of this sensor."""
        _, _, res, _ = self._channel.expect(self._sid, "fed")
        return res  # type: ignore[no-any-return]

    def finish(self) -> FeedResult:
        """The worker's analyzer's last result (and its summary and diagnostics)."""
        if self._summary is not None:
            return FeedResult(self._sid, watermark=math.inf, stride_watermark=math.inf)
        _, _, res, summ, diag, _ = self._channel.expect(self._sid, "finished")
        self._summary, self._diagnostics = summ, diag
        return res  # type: ignore[no-any-return]

    def summary(self) -> dict[str, Any]:
        """The analyzer's ``summary()`` (after :meth:`finish`)."""
        if self._summary is None:
            raise RuntimeError(f"summary of {self._sid} asked before finish()")
        if isinstance(self._summary, _Failure):
            _raise(self._summary)
        return self._summary

    def diagnostics(self) -> dict[str, Any]:
        """The analyzer's ``diagnostics()`` (after :meth:`finish`)."""
        if self._diagnostics is None:
            raise RuntimeError(f"diagnostics of {self._sid} asked before finish()")
        if isinstance(self._diagnostics, _Failure):
            _raise(self._diagnostics)
        return self._diagnostics


def _widen(conn: multiprocessing.connection.Connection) -> None:
    """Let a worker run up to :data:`_PIPE_BYTES` of results ahead (Linux; else as is)."""
    setsize = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    if setsize is None:
        return
    with contextlib.suppress(OSError):  # above /proc/sys/fs/pipe-max-size: keep the default
        fcntl.fcntl(conn.fileno(), setsize, _PIPE_BYTES)


class WorkerPool:
    """Forked worker processes analysing groups of sensors (see the module docstring).

    Start it when no HDF5 file is open in this process (the workers open the recording
    themselves), and use it as a context manager: on leaving, finished workers are joined and
    any still running (an error or Ctrl-C here) are terminated.

    Parameters
    ----------
    path : str
        The recording.
    sensors : list of SensorInfo
        All of its sensors.
    groups : list of list of str
        Sensor ids per worker (:func:`plan_workers`).
    chunk_s : float
        Window of :meth:`recordings.Recording.iter_blocks`, s (the main loop's).
    config : AnalysisConfig
        The session's configuration (the analyzers are built as the session builds them).
    traces : bool
        Send the results' ``traces`` too (else they are left out: less to pickle).
    validated : recordings.reader.ValidatedLayout, optional
        The file's validation in this process (the workers do not repeat it).

    Attributes
    ----------
    analyzers : dict
        sensor id -> :class:`RemoteAnalyzer`.
    """

    def __init__(
        self,
        path: str,
        sensors: list[SensorInfo],
        groups: list[list[str]],
        *,
        chunk_s: float,
        config: AnalysisConfig,
        traces: bool,
        validated: ValidatedLayout | None = None,
    ) -> None:
        ctx = multiprocessing.get_context("fork")
        self._procs: list[multiprocessing.process.BaseProcess] = []
        self.analyzers: dict[str, RemoteAnalyzer] = {}
        mine: list[multiprocessing.connection.Connection] = []
        try:
            for group in groups:
                r, w = ctx.Pipe(duplex=False)
                _widen(w)
                p = ctx.Process(
                    target=_worker_main,
                    args=(w, [*mine, r], path, sensors, group, chunk_s, config, traces, validated),
                    name=f"runform-analyse-{'-'.join(group)}",
                    daemon=True,
                )
                p.start()
                w.close()
                mine.append(r)
                self._procs.append(p)
                ch = _Channel(r, p)
                for sid in group:
                    self.analyzers[sid] = RemoteAnalyzer(sid, ch)
        except BaseException:
            self._conns = mine
            self.close(ok=False)
            raise
        self._conns = mine

    def close(self, *, ok: bool) -> None:
        """Join the workers (``ok``) or terminate them; kill any that does not end."""
        for p in self._procs:
            if ok:
                p.join(_JOIN_S)
            if p.is_alive():
                p.terminate()
                p.join(_JOIN_S)
            if p.is_alive():
                p.kill()
                p.join()
        for c in self._conns:
            c.close()
        self._procs = []

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.close(ok=exc_type is None)


def local_blocks(
    rec: Recording, chunk_s: float, sensor_ids: list[str], remote: set[str]
) -> Iterator[SampleBlock]:
    """``rec.iter_blocks`` over ``sensor_ids``, with empty blocks for the ``remote`` sensors.

    The sequence of blocks (which sensor, in which order) is that of the one-process loop;
    the samples of remote sensors are not read (their workers read them).
    """
    real = rec.read_range
    empty = np.zeros((0, 3))

    def read_range(sensor_id: str, start: int, stop: int) -> SampleBlock:
        if sensor_id in remote:
            return SampleBlock(sensor_id, np.zeros(0), empty, empty)
        return real(sensor_id, start, stop)

    rec.read_range = read_range  # type: ignore[method-assign]
    try:
        yield from rec.iter_blocks(chunk_s=chunk_s, sensor_ids=sensor_ids)
    finally:
        del rec.read_range
