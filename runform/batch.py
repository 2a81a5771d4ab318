"""Batch analysis of many recordings on a Dask cluster (``runform batch``).

The batch only *schedules* :func:`runform.analysis_run.analyse_recording` (the code behind
``runform analyze``), one task per recording, on a ``distributed`` cluster: a local one by
default, or an existing one given by its scheduler address. Workers open the files themselves,
so they need the ``runform`` package and the same paths (shared storage); see ``docs/batch.md``.

Output folder
-------------
``strides.parquet``
    Every contact of every recording: ``recording_id``, ``recording`` (path), ``notes``,
    ``attr_<name>`` (the recording's root attributes, as text), then the STRIDES.csv columns.
``recordings.parquet``
    One row per recording: id, path, content hash, duration, contacts, notes, attributes and the
    SUMMARY.json medians flattened (``<placement>.<key>``, e.g. ``left_foot.cadence_median``).
``errors.csv``
    ``recording, content_hash, error``: recordings of this run that failed, one line each.
``parts/``
    One result per recording (``<hash>.strides.parquet`` and ``<hash>.recording.json``), written
    as soon as it arrives: an interrupted batch keeps its finished work, and a re-run skips every
    recording whose *content* hash already has a part (a renamed or moved file is not redone, an
    edited one is). The two tables are rebuilt from all parts at the end of each run.
    ``parts/paths.json`` remembers each path's size, mtime and hash, so an unchanged file is
    skipped on a re-run without being read again.
"""

from __future__ import annotations

import contextlib
import csv
import glob
import hashlib
import json
import logging
import math
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from runform.errors import UsageError

__all__ = [
    "RECORDING_SUFFIXES",
    "BatchProgress",
    "BatchResult",
    "analyse_for_batch",
    "check_profile",
    "check_workers",
    "content_hash",
    "expand_inputs",
    "recording_id",
    "run_batch",
]

log = logging.getLogger(__name__)

#: File name endings taken from a folder.
RECORDING_SUFFIXES = (".h5", ".hdf5")

_HASH_CHUNK = 1 << 20


def content_hash(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes (hex), read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def recording_id(digest: str) -> str:
    """The recording id used in the tables: the first 16 hex digits of the content hash."""
    return digest[:16]


#: Seconds a scheduler has to answer a first "who are you" before ``batch`` gives up.
SCHEDULER_PROBE_S = 10.0


def probe_scheduler(address: str, timeout_s: float = SCHEDULER_PROBE_S) -> None:
    """Check that ``address`` is a Dask scheduler that answers, within ``timeout_s``.

    Dask's client waits for ever on a server that accepts the connection and says nothing, and
    tries to allocate whatever size a server that answers garbage announces (a "3 EiB" message);
    this asks for the scheduler's identity first, under a deadline.

    Raises
    ------
    UsageError
        ``--scheduler ADDRESS: ...`` naming what went wrong.
    """
    import asyncio

    if not address.strip() or any(c.isspace() for c in address):
        raise UsageError(
            f"--scheduler {address!r}: expected a scheduler address such as tcp://host:8786"
        )

    async def ask() -> object:
        from distributed.comm import connect

        comm = await asyncio.wait_for(connect(address, timeout=timeout_s), timeout_s)
        try:
            await asyncio.wait_for(comm.write({"op": "identity", "reply": True}), timeout_s)
            return await asyncio.wait_for(comm.read(), timeout_s)
        finally:
            comm.abort()

    try:
        reply = asyncio.run(ask())
    except TimeoutError:
        raise UsageError(
            f"--scheduler {address}: no answer within {timeout_s:g} s (is it a Dask scheduler?)"
        ) from None
    except MemoryError:
        raise UsageError(
            f"--scheduler {address}: answered garbage (not a Dask scheduler)"
        ) from None
    except Exception as exc:  # any failure to talk to it is the user's line
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"--scheduler {address}: cannot connect ({why[:160]})") from None
    if not (isinstance(reply, dict) and reply.get("type") == "Scheduler"):
        raise UsageError(f"--scheduler {address}: the server there is not a Dask scheduler")


def expand_inputs(inputs: Iterable[str]) -> list[str]:
    """Files, folders (searched recursively for ``*.h5``/``*.hdf5``) and globs -> file paths.

    Order is kept, duplicates removed. Raises :class:`~runform.errors.UsageError` naming an input
    that matches nothing.
    """
    out: list[str] = []
    seen: set[str] = set()

    def add(p: Path) -> None:
        key = str(p.resolve())
        if key not in seen:
            seen.add(key)
            out.append(str(p))

    for item in inputs:
        p = Path(item)
        if p.is_dir():
            try:  # rglob skips a folder it cannot list: "holds no recording" would be wrong
                os.scandir(p).close()
            except OSError as exc:
                from runform.safe_output import describe_os_error

                raise UsageError(
                    f"{item}: cannot read the folder ({describe_os_error(exc)})"
                ) from None
            found = sorted(
                q for q in p.rglob("*") if q.is_file() and q.suffix.lower() in RECORDING_SUFFIXES
            )
            if not found:
                raise UsageError(f"{item}: folder holds no recording (*.h5, *.hdf5)")
            for q in found:
                add(q)
        elif p.is_file():
            add(p)
        elif glob.has_magic(item):
            hits = sorted(glob.glob(item, recursive=True))
            files = [Path(h) for h in hits if Path(h).is_file()]
            if not files:
                raise UsageError(f"{item}: the pattern matches no file")
            for q in files:
                add(q)
        else:
            raise UsageError(f"{item}: no such file or folder")
    return out


def _one_line(exc: BaseException) -> str:
    from runform.errors import user_error_types

    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, user_error_types()):
        return msg or type(exc).__name__
    if isinstance(exc, OSError) and exc.strerror:
        return f"cannot read the file ({exc.strerror})"
    return f"internal error: {type(exc).__name__}: {msg}" if msg else type(exc).__name__


class _TaskWarnings(logging.Handler):
    """On a worker's root logger: the warnings logged while a batch task of the same thread
    runs go back with its result, for the main process to say with the recording's name
    (printed by the worker they read 'sensor pelvis: no alignment ...', of no file). Records
    outside a task go where they went before (the last-resort handler)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        lines = getattr(self.local, "lines", None)
        if lines is not None:
            msg = record.getMessage().strip()
            lines.append(msg.splitlines()[0] if msg else record.levelname)
        elif logging.lastResort is not None and record.levelno >= logging.lastResort.level:
            logging.lastResort.handle(record)


_task_warnings_handler: _TaskWarnings | None = None
_task_warnings_lock = threading.Lock()


@contextlib.contextmanager
def _task_warnings() -> Iterator[list[str]]:
    """The warnings (one line each) logged by this thread while inside."""
    global _task_warnings_handler
    with _task_warnings_lock:
        if _task_warnings_handler is None:
            _task_warnings_handler = _TaskWarnings()
            logging.getLogger().addHandler(_task_warnings_handler)
    handler = _task_warnings_handler
    lines: list[str] = []
    handler.local.lines = lines
    try:
        yield lines
    finally:
        handler.local.lines = None


def _flatten(prefix: str, d: Any, out: dict[str, Any]) -> None:
    if isinstance(d, dict):
        for k, v in d.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(d, (list, tuple)):
        return
    else:
        out[prefix] = d


def _attr_columns(attrs: dict[str, Any]) -> dict[str, str]:
    cols = {}
    for k, v in attrs.items():
        if k == "notes":
            continue
        cols[f"attr_{k}"] = "" if v is None else str(v)
    return cols


def analyse_for_batch(
    path: str, done: frozenset[str] | set[str] = frozenset(), profile: str | None = None
) -> dict[str, Any]:
    """One batch task (runs on a worker): hash the file, skip it if done, else analyse it.

    Never raises: a failure is returned as ``{"status": "error", "error": one line}``.

    Returns
    -------
    dict
        ``status`` (``ok``, ``skipped`` or ``error``), ``recording`` (path), ``content_hash``,
        and for ``ok``: ``strides`` (DataFrame), ``row`` (dict of the recordings table),
        ``seconds`` (analysis time), ``warnings`` (the analysis' warnings, one line each: the
        main process logs them with the path).
    """
    from runform.analysis_run import analyse_recording

    t0 = time.perf_counter()
    try:
        digest = content_hash(path)
    except OSError as exc:
        return {"status": "error", "recording": path, "content_hash": "", "error": _one_line(exc)}
    if digest in done:
        return {"status": "skipped", "recording": path, "content_hash": digest}
    try:
        with _task_warnings() as warnings:
            res = analyse_recording(path, profile=profile)
    except Exception as exc:
        return {
            "status": "error",
            "recording": path,
            "content_hash": digest,
            "error": _one_line(exc),
        }
    rid = recording_id(digest)
    attrs = _attr_columns(res.attrs)
    lead = {"recording_id": rid, "recording": path, "notes": res.notes, **attrs}
    strides = res.strides.copy()
    for i, (k, v) in enumerate(lead.items()):
        strides.insert(i, k, v)
    row: dict[str, Any] = {
        **lead,
        "content_hash": digest,
        "duration_s": res.duration_s,
        "contacts": len(res.strides),
        "sensors": ";".join(f"{s.sensor_id}:{s.placement}" for s in res.sensors),
        "markers": len(res.markers),
        "alerts": len(res.alerts),
    }
    placements = [s.placement for s in res.sensors]
    place = {s.sensor_id: s.placement for s in res.sensors}
    for sid, summ in res.summary.get("sensors", {}).items():
        name = place.get(sid, sid)
        if placements.count(name) != 1:
            name = sid
        flat: dict[str, Any] = {}
        _flatten("", {k: v for k, v in summ.items() if k != "placement"}, flat)
        for k, v in flat.items():
            row[f"{name}.{k}"] = math.nan if v is None else v
    return {
        "status": "ok",
        "recording": path,
        "content_hash": digest,
        "strides": strides,
        "row": row,
        "seconds": time.perf_counter() - t0,
        "warnings": warnings,
    }


@dataclass
class BatchProgress:
    """What a progress callback receives after each finished task."""

    total: int
    finished: int = 0
    analysed: int = 0
    skipped: int = 0
    failed: int = 0
    strides: int = 0
    last: str = ""


@dataclass
class BatchResult:
    """Outcome of :func:`run_batch`."""

    out_dir: Path
    total: int
    analysed: int
    skipped: int
    failed: int
    strides: int
    seconds: float
    errors: list[tuple[str, str, str]] = field(default_factory=list)
    workers: int = 0

    @property
    def recordings_per_minute(self) -> float:
        return 60.0 * self.analysed / self.seconds if self.seconds > 0 else math.nan


def _atomic_write_parquet(df: pd.DataFrame, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    df.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def _done_hashes(parts: Path) -> set[str]:
    done = set()
    for p in parts.glob("*.recording.json"):
        h = p.name[: -len(".recording.json")]
        if (parts / f"{h}.strides.parquet").exists():
            done.add(h)
    return done


def _save_part(parts: Path, result: dict[str, Any]) -> None:
    h = result["content_hash"]
    _atomic_write_parquet(result["strides"], parts / f"{h}.strides.parquet")
    tmp = parts / f"{h}.recording.json.tmp"
    tmp.write_text(json.dumps(result["row"], allow_nan=True, default=str), encoding="utf-8")
    os.replace(tmp, parts / f"{h}.recording.json")


def _collect(out: Path, parts: Path) -> tuple[int, int]:
    """Rebuild strides.parquet and recordings.parquet from every part; returns their sizes."""
    done = sorted(_done_hashes(parts))
    rows = [json.loads((parts / f"{h}.recording.json").read_text(encoding="utf-8")) for h in done]
    frames = [pd.read_parquet(parts / f"{h}.strides.parquet") for h in done]
    frames = [f for f in frames if len(f)]
    if frames:
        strides = pd.concat(frames, ignore_index=True, sort=False)
        # attribute columns missing in some recordings: empty text, not NaN
        for c in strides.columns:
            if c.startswith("attr_"):
                strides[c] = strides[c].fillna("").astype(str)
    else:
        from dsp.contact import STRIDE_COLUMNS

        strides = pd.DataFrame(columns=["recording_id", "recording", "notes", *STRIDE_COLUMNS])
    recs = pd.DataFrame(rows)
    for c in recs.columns:
        if c.startswith("attr_") or c in ("notes", "recording", "recording_id", "sensors"):
            recs[c] = recs[c].fillna("").astype(str)
    _atomic_write_parquet(strides, out / "strides.parquet")
    _atomic_write_parquet(recs, out / "recordings.parquet")
    return len(strides), len(recs)


_PATH_CACHE = "paths.json"


def _load_path_cache(parts: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads((parts / _PATH_CACHE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _save_path_cache(parts: Path, cache: dict[str, dict[str, Any]]) -> None:
    tmp = parts / (_PATH_CACHE + ".tmp")
    tmp.write_text(json.dumps(cache), encoding="utf-8")
    os.replace(tmp, parts / _PATH_CACHE)


def _stat_key(path: str) -> tuple[str, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return str(Path(path).resolve()), int(st.st_size), int(st.st_mtime_ns)


def _cached_hash(cache: dict[str, dict[str, Any]], path: str) -> str | None:
    """The content hash remembered for ``path`` if its size and mtime did not change."""
    key = _stat_key(path)
    if key is None:
        return None
    e = cache.get(key[0])
    if isinstance(e, dict) and e.get("size") == key[1] and e.get("mtime_ns") == key[2]:
        h = e.get("hash")
        return h if isinstance(h, str) else None
    return None


def _remember(cache: dict[str, dict[str, Any]], path: str, digest: str) -> None:
    key = _stat_key(path)
    if key is not None and digest:
        cache[key[0]] = {"size": key[1], "mtime_ns": key[2], "hash": digest}


def _write_errors(out: Path, errors: list[tuple[str, str, str]]) -> None:
    tmp = out / "errors.csv.tmp"
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["recording", "content_hash", "error"])
        w.writerows(errors)
    os.replace(tmp, out / "errors.csv")


#: Most local worker processes ``--workers`` may ask for (each is a Python process with the
#: analysis loaded, ~150 MB; 10^5 of them would bring the machine down before a word).
MAX_LOCAL_WORKERS = 256


def check_workers(workers: int | None) -> None:
    """A one-line UsageError unless ``workers`` is ``None`` or 1 to :data:`MAX_LOCAL_WORKERS`."""
    if workers is not None and not 1 <= workers <= MAX_LOCAL_WORKERS:
        raise UsageError(f"--workers {workers}: expected 1 to {MAX_LOCAL_WORKERS}")


def check_profile(profile: str | None, *, remote: bool = False) -> None:
    """The alert profile of a batch, read once here: a bad one is one line, not the same error
    for every recording. A TOML file missing here is left to the workers of a ``remote``
    scheduler (it may be on their machines: they say it if not)."""
    if profile is None:
        return
    if remote and str(profile).endswith(".toml") and not Path(profile).exists():
        return
    from runform.profiles import resolve_profile

    resolve_profile(profile)


def run_batch(
    inputs: Iterable[str],
    out_dir: str | os.PathLike[str],
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    client: Any | None = None,
    profile: str | None = None,
    progress: Callable[[BatchProgress], None] | None = None,
) -> BatchResult:
    """Analyse every recording of ``inputs`` on Dask and write the output folder.

    Parameters
    ----------
    inputs : iterable of str
        Files, folders or globs (:func:`expand_inputs`).
    out_dir : str or PathLike
        Output folder (created).
    scheduler : str, optional
        Address of an existing Dask scheduler (``tcp://host:8786``). Default: a local cluster.
    workers : int, optional
        Worker processes of the local cluster (default: CPU count). Ignored with ``scheduler``.
    client : distributed.Client, optional
        Use this client (tests, notebooks); overrides ``scheduler`` and ``workers``.
    profile : str, optional
        Alert profile (built-in name or TOML path readable by the workers) for the alert counts.
    progress : callable, optional
        Called with a :class:`BatchProgress` after each finished recording.

    Returns
    -------
    BatchResult
    """
    from distributed import Client, LocalCluster, as_completed

    check_workers(workers)
    files = expand_inputs(inputs)
    check_profile(profile, remote=scheduler is not None or client is not None)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():  # mkdir would say only "File exists"
        raise UsageError(
            f"--out {out}: is a file, expected a folder (batch writes strides.parquet, "
            "recordings.parquet and errors.csv into it)"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
        parts = out / "parts"
        parts.mkdir(exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out {out}: cannot create the folder ({exc.strerror})") from exc
    done = frozenset(_done_hashes(parts))
    own_cluster = own_client = None
    t_start = time.perf_counter()
    try:
        if client is None:
            if scheduler is not None:  # "" is a mistake, not "a local cluster"
                probe_scheduler(scheduler)
                try:
                    own_client = client = Client(scheduler, timeout="20s")
                except (OSError, TimeoutError, ValueError, MemoryError) as exc:
                    why = (
                        str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                    )
                    raise UsageError(f"--scheduler {scheduler}: cannot connect ({why})") from exc
            else:
                n = workers or os.cpu_count() or 1
                own_cluster = LocalCluster(
                    n_workers=n,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                )
                own_client = client = Client(own_cluster)
        n_workers = len(client.scheduler_info().get("workers", {}))
        state = BatchProgress(total=len(files))
        errors: list[tuple[str, str, str]] = []
        # files unchanged since a previous run (same size and mtime) whose hash is done:
        # skipped here without reading them again
        cache = _load_path_cache(parts)
        todo = []
        for f in files:
            h = _cached_hash(cache, f)
            if h is not None and h in done:
                state.finished += 1
                state.skipped += 1
                state.last = f
            else:
                todo.append(f)
        if progress is not None and state.finished:
            progress(state)
        # one copy of the done set per worker (scatter would split a bare set into items); a
        # fresh key (hash=False): the same set scattered by a previous run may still be being
        # released by the scheduler, which cancels tasks that depend on it ("lost dependencies")
        done_f = (
            client.scatter([done], broadcast=True, hash=False)[0]
            if (done and todo)
            else frozenset()
        )
        run_id = uuid.uuid4().hex[:12]
        futures = [
            client.submit(
                analyse_for_batch, f, done_f, profile, pure=False, key=f"runform-{run_id}-{i}"
            )
            for i, f in enumerate(todo)
        ]
        by_key = {fu.key: f for fu, f in zip(futures, todo, strict=True)}
        analysed_now: dict[str, str] = {}  # content hash -> the path analysed in this run
        for fu in as_completed(futures):
            path = by_key[fu.key]
            try:
                r = fu.result()
            except Exception as exc:  # the worker died (e.g. killed): one line, go on
                r = {
                    "status": "error",
                    "recording": path,
                    "content_hash": "",
                    "error": f"worker failed: {_one_line(exc)}",
                }
            fu.release()
            state.finished += 1
            state.last = path
            for line in dict.fromkeys(r.get("warnings", ())):  # said once, with its file
                if line.startswith(f"{path}: "):  # the reader's own say the file already
                    log.warning("%s", line)
                else:
                    log.warning("%s: %s", path, line)
            if r["status"] in ("ok", "skipped"):
                _remember(cache, path, r["content_hash"])
            if r["status"] == "ok" and r["content_hash"] in analysed_now:
                # a copy of a recording analysed in this run (both were under way at once):
                # skipped as a re-run skips it, not counted twice (it said '2 analysed, 1206
                # strides' beside tables of 1 recording and 603 strides)
                log.info("%s: same content as %s, skipped", path, analysed_now[r["content_hash"]])
                r = {**r, "status": "skipped"}
            if r["status"] == "ok":
                analysed_now[r["content_hash"]] = path
                _save_part(parts, r)
                state.analysed += 1
                state.strides += len(r["strides"])
            elif r["status"] == "skipped":
                state.skipped += 1
            else:
                state.failed += 1
                errors.append((path, r.get("content_hash", ""), r["error"]))
                log.info("%s: %s", path, r["error"])
            if progress is not None:
                progress(state)
        elapsed = time.perf_counter() - t_start
        _save_path_cache(parts, cache)
    finally:
        if own_client is not None:
            own_client.close()
        if own_cluster is not None:
            own_cluster.close()
    errors.sort()
    _write_errors(out, errors)
    _collect(out, parts)
    return BatchResult(
        out_dir=out,
        total=len(files),
        analysed=state.analysed,
        skipped=state.skipped,
        failed=state.failed,
        strides=state.strides,
        seconds=elapsed,
        errors=errors,
        workers=n_workers,
    )
