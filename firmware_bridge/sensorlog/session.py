"""``runform sensors``: arm logging sensors, ask them how they are, download into one recording.

The flow (each step over bleak, one sensor at a time):

1. **arm**: connect, identify the family from its GATT services, read the device clock a few
   times (the read with the shortest round trip is the arm-time sync point), configure and
   start logging, disconnect. What was set and the sync point go to an :class:`ArmState` file.
2. **status**: connect, read log state, memory left and battery.
3. **download**: connect, stop logging, read the clock again (download-time sync point), fetch
   the log into a :class:`~firmware_bridge.sensorlog.journal.Journal` (resumable: after a
   dropped connection it reconnects and continues; a new ``download`` run continues from the
   journals on disk). When every sensor is in, the journals are decoded (pure), every device
   time is mapped to the host clock by the line through the two sync points, and the blocks go
   to the caller's ``write`` (the command line writes one v1 recording: a temporary file,
   fsynced, read back, then renamed). Only then are the sensors' logs erased and the journals
   removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import shutil
import time
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from dsp.block import PLACEMENTS, SampleBlock, SensorInfo
from firmware_bridge.devices import DRIVERS, DeviceDriver, StreamSettings
from firmware_bridge.errors import DeviceError, no_bluetooth
from firmware_bridge.sensorlog import log_driver
from firmware_bridge.sensorlog.base import LogConfig, LoggedSamples, LogStatus
from firmware_bridge.sensorlog.journal import Journal
from firmware_bridge.sensorlog.timebase import ClockMap, SyncPoint, best_read

__all__ = [
    "ArmState",
    "ArmedSensor",
    "Connector",
    "DownloadSummary",
    "RecordingWrite",
    "arm_sensors",
    "check_can_arm",
    "download_sensors",
    "samples_to_blocks",
    "sensors_status",
]

log = logging.getLogger(__name__)

#: ``connect(address)``: an async context manager yielding a connected bleak client.
Connector = Callable[[str], contextlib.AbstractAsyncContextManager[Any]]
#: Clock reads per sync point (the shortest round trip wins).
SYNC_READS = 16
#: A log that starts this much after arming, or ends this much before the stop, lost data
#: there (wrap-around, or full), s.
LOST_EDGE_S = 2.0


def bleak_connector(**kwargs: Any) -> Connector:
    """A :data:`Connector` over :class:`bleak.BleakClient` (``kwargs`` e.g. a backend)."""

    @contextlib.asynccontextmanager
    async def connect(address: str) -> AsyncIterator[Any]:
        from bleak import BleakClient

        async with BleakClient(address, timeout=kwargs.pop("timeout", 20.0), **kwargs) as c:
            yield c

    return connect


@dataclass
class ArmedSensor:
    """One armed sensor, as kept in the arm state file."""

    sensor_id: str
    address: str
    device_model: str
    config: LogConfig
    arm_sync: SyncPoint
    firmware: str | None = None
    download_sync: SyncPoint | None = None
    stopped: bool = False
    downloaded: bool = False
    full_at_download: bool = False
    #: Left out of the recording by ``download --without`` (lost): never contacted again.
    left_out: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "sensor_id": self.sensor_id,
            "address": self.address,
            "device_model": self.device_model,
            "config": self.config.to_json(),
            "arm_sync": self.arm_sync.to_json(),
            "firmware": self.firmware,
            "download_sync": self.download_sync.to_json() if self.download_sync else None,
            "stopped": self.stopped,
            "downloaded": self.downloaded,
            "full_at_download": self.full_at_download,
            "left_out": self.left_out,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ArmedSensor:
        ds = d.get("download_sync")
        return cls(
            sensor_id=d["sensor_id"],
            address=d["address"],
            device_model=d["device_model"],
            config=LogConfig.from_json(d["config"]),
            arm_sync=SyncPoint.from_json(d["arm_sync"]),
            firmware=d.get("firmware"),
            download_sync=SyncPoint.from_json(ds) if ds else None,
            stopped=bool(d.get("stopped", False)),
            downloaded=bool(d.get("downloaded", False)),
            full_at_download=bool(d.get("full_at_download", False)),
            left_out=bool(d.get("left_out", False)),
        )


@dataclass
class ArmState:
    """What ``runform sensors arm`` set, kept on disk until the download is done.

    Attributes
    ----------
    path : Path
        The state file (JSON); the journals live in ``<path>.journal/``.
    sensors : dict of str to ArmedSensor
    armed_utc : str
    """

    path: Path
    sensors: dict[str, ArmedSensor] = field(default_factory=dict)
    armed_utc: str = ""
    #: The recording the logs went to, once it is safely written (then only erasing is left).
    written_to: str | None = None

    @property
    def journal_dir(self) -> Path:
        return self.path.with_name(self.path.name + ".journal")

    def journal(self, sensor_id: str) -> Journal:
        return Journal(self.journal_dir / f"{sensor_id}.bin")

    def save(self) -> None:
        """Write the state atomically (temporary file, fsync, rename)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "format": "runform-armed-sensors",
            "version": 1,
            "armed_utc": self.armed_utc,
            "written_to": self.written_to,
            "sensors": [s.to_json() for s in self.sensors.values()],
        }
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w") as fh:
            json.dump(data, fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ArmState:
        """Read a state file.

        Raises
        ------
        DeviceError
            Missing or unreadable (one line naming the file and what was expected).
        """
        p = Path(path)
        try:
            data = json.loads(p.read_text())
        except FileNotFoundError:
            raise DeviceError(
                f"{p}: no armed sensors (run `runform sensors arm` first, or give --state)"
            ) from None
        except (OSError, ValueError) as exc:
            raise DeviceError(f"{p}: not a runform arm state file ({exc})") from None
        if not isinstance(data, dict) or data.get("format") != "runform-armed-sensors":
            raise DeviceError(f"{p}: not a runform arm state file (format field)")
        try:
            sensors = [ArmedSensor.from_json(s) for s in data["sensors"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise DeviceError(f"{p}: arm state damaged ({exc})") from None
        return cls(
            p,
            {s.sensor_id: s for s in sensors},
            str(data.get("armed_utc", "")),
            data.get("written_to"),
        )


def _identify(client: Any, sensor_id: str) -> DeviceDriver:
    uuids = {svc.uuid.lower() for svc in client.services}
    for d in DRIVERS:
        if uuids.intersection(u.lower() for u in d.service_uuids):
            return d
    raise DeviceError(
        f"sensor {sensor_id} ({client.address}): no known service; expected a device runform "
        "supports (see `runform scan`)"
    )


def _no_bluetooth_error(sid: str, address: str, exc: BaseException, arming: bool) -> DeviceError:
    """No adapter or no BlueZ: one line, as record and live say it (retrying cannot help, and
    no sensor is to blame). Only arming can start over on emulated sensors instead."""
    return DeviceError(
        f"{sid} ({address}): Bluetooth is not available on this machine "
        f"({type(exc).__name__}: {exc}); is there an adapter and is BlueZ running?"
        + (" (`runform sensors arm --simulate` needs none)" if arming else "")
    )


async def _sync(driver: Any, client: Any, host_clock: Callable[[], float]) -> SyncPoint:
    return best_read(await driver.read_clocks(client, host_clock, SYNC_READS))


def check_can_arm(state_path: str | os.PathLike[str]) -> None:
    """A DeviceError when ``state_path`` holds sensors not downloaded yet: arming again would
    lose their journals (and, for emulated sensors, their logs). Call it before touching any
    sensor."""
    state_path = Path(state_path)
    if state_path.exists():
        old = ArmState.load(state_path)
        if any(not (s.downloaded or s.left_out) for s in old.sensors.values()):
            raise DeviceError(
                f"{state_path}: sensors armed on {old.armed_utc} are not downloaded yet; run "
                "`runform sensors download` first (or delete the file to abandon them)"
            )


async def arm_sensors(
    sensors: dict[str, str],
    state_path: str | os.PathLike[str],
    *,
    settings: StreamSettings,
    connect: Connector,
    host_clock: Callable[[], float] = time.time,
    wrap: bool = False,
    on_armed: Callable[[ArmedSensor], None] | None = None,
) -> ArmState:
    """Arm every sensor (``{sensor id: address}``) and write the arm state.

    Raises
    ------
    DeviceError
        A family that cannot log, a sensor that refused, an unfinished earlier session (its
        journals would be lost: download it first or remove the state file).
    """
    state_path = Path(state_path)
    check_can_arm(state_path)
    state = ArmState(state_path, armed_utc=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    if state.journal_dir.exists():  # journals of an abandoned session must not mix with this one
        log.warning("%s: removing the journals of an earlier, abandoned session", state.journal_dir)
        shutil.rmtree(state.journal_dir)
    for sid, address in sensors.items():
        try:
            async with connect(address) as client:
                family = _identify(client, sid)
                driver = log_driver(family.name)
                firmware = await family.read_firmware(client)
                config = await driver.arm(client, settings, wrap=wrap)
                sync = await _sync(driver, client, host_clock)
        except DeviceError:
            raise
        except Exception as exc:  # no adapter, device not found, link lost while arming
            armed_ok = ", ".join(state.sensors) or "none"
            if no_bluetooth(exc) and not state.sensors:  # as record and live say it
                raise _no_bluetooth_error(sid, address, exc, arming=True) from None
            raise DeviceError(
                f"{sid} ({address}): could not arm ({type(exc).__name__}: {exc}); armed so far: "
                f"{armed_ok} (run `runform sensors download` for them, or arm again)"
            ) from None
        armed = ArmedSensor(sid, address, family.name, config, sync, firmware)
        state.sensors[sid] = armed
        state.save()  # a sensor armed is a sensor to download, even if the next one fails
        if on_armed is not None:
            on_armed(armed)
    return state


async def sensors_status(
    state: ArmState, *, connect: Connector
) -> dict[str, LogStatus | DeviceError]:
    """Log state, memory and battery of every armed sensor (an error per unreachable one)."""
    out: dict[str, LogStatus | DeviceError] = {}
    for sid, s in state.sensors.items():
        try:
            async with connect(s.address) as client:
                out[sid] = await log_driver(s.device_model).status(client, s.config)
        except DeviceError as exc:
            out[sid] = exc
        except Exception as exc:  # unreachable: report it, ask the others
            if no_bluetooth(exc):
                raise _no_bluetooth_error(sid, s.address, exc, arming=False) from None
            out[sid] = DeviceError(f"{sid} ({s.address}): {type(exc).__name__}: {exc}")
    return out


@dataclass
class DownloadSummary:
    """What a download wrote.

    Attributes
    ----------
    path : str
    samples, gaps, overwritten, duplicates : dict of str to int
        Per sensor: samples written, gap intervals, samples lost to wrap-around, packets seen
        twice (resumed downloads) and dropped.
    drift_ppm, sync_uncertainty_ms : dict of str to float
        The fitted clock drift and the worse of the two sync points' uncertainty.
    reconnects : dict of str to int
    full : dict of str to bool
        The log was full at download (stopped, or overwrote its oldest data).
    left_out : list of str
        Sensors left out of the recording (``without``): not downloaded, their logs and
        journals kept.
    """

    path: str
    samples: dict[str, int] = field(default_factory=dict)
    gaps: dict[str, int] = field(default_factory=dict)
    overwritten: dict[str, int] = field(default_factory=dict)
    duplicates: dict[str, int] = field(default_factory=dict)
    drift_ppm: dict[str, float] = field(default_factory=dict)
    sync_uncertainty_ms: dict[str, float] = field(default_factory=dict)
    reconnects: dict[str, int] = field(default_factory=dict)
    full: dict[str, bool] = field(default_factory=dict)
    left_out: list[str] = field(default_factory=list)


async def _download_one(
    s: ArmedSensor,
    state: ArmState,
    connect: Connector,
    host_clock: Callable[[], float],
    retries: int,
    progress: Callable[[str, int, int], None] | None,
    tried: int = 0,
) -> int:
    """Download one sensor's log into its journal, reconnecting up to ``retries`` times.

    ``tried``: failed connections to it earlier in this run (the stop pass). A sensor that
    cannot be connected to twice in a row (not reached at all, or gone in the middle of its
    download) gets one warning naming ``--without`` while the retries go on: a sensor lost for
    good took every retry (1.5 min) before the user heard of it."""
    driver = log_driver(s.device_model)
    journal = state.journal(s.sensor_id)
    failures = 0
    misses = tried  # failed connections in a row
    reached = False
    told = False
    try:
        while True:
            connected = False
            try:
                async with connect(s.address) as client:
                    connected = reached = True
                    if not s.stopped:
                        await _stop_and_sync(s, state, client, host_clock)
                    await driver.download(
                        client,
                        s.config,
                        journal,
                        None
                        if progress is None
                        else (lambda done, total: progress(s.sensor_id, done, total)),
                    )
                return failures
            except DeviceError:
                raise
            except (Exception, asyncio.CancelledError) as exc:
                # a dropped link (bumble cancels the requests pending on it): reconnect and
                # resume from the journal; a cancellation of this task itself goes on
                task = asyncio.current_task()
                if isinstance(exc, asyncio.CancelledError) and task and task.cancelling():
                    raise
                if no_bluetooth(exc):
                    raise _no_bluetooth_error(s.sensor_id, s.address, exc, arming=False) from None
                failures += 1
                misses = 0 if connected else misses + 1
                why = f"{type(exc).__name__}: {exc}"
                if failures > retries:
                    what = (
                        f"download interrupted {failures} times"
                        if reached
                        else f"not reachable in {failures + tried} tries"
                    )
                    raise DeviceError(
                        f"{s.sensor_id} ({s.address}): {what} ({why}); {len(journal)} packets "
                        f"are kept in {journal.path}: run `runform sensors download` again to "
                        f"resume, or add --without {s.sensor_id} to write the other sensors "
                        "without it"
                    ) from None
                if misses >= 2 and not told:
                    told = True
                    log.warning(
                        "%s (%s): not reachable (%s); still trying, %d more times. If it is "
                        "lost for good, stop this (Ctrl-C) and run the download again with "
                        "--without %s: what is downloaded so far is kept",
                        s.sensor_id,
                        s.address,
                        why,
                        retries - failures + 1,
                        s.sensor_id,
                    )
                elif reached:
                    log.warning(
                        "%s: download interrupted (%s); resuming from packet %d",
                        s.sensor_id,
                        why,
                        len(journal),
                    )
                else:
                    log.info("%s: not reachable (%s); trying again", s.sensor_id, why)
                await asyncio.sleep(min(5.0, 0.2 * 2**failures))
    finally:
        journal.close()


async def _stop_and_sync(
    s: ArmedSensor, state: ArmState, client: Any, host_clock: Callable[[], float]
) -> None:
    """Stop logging and take the download-time sync point (once per session)."""
    driver = log_driver(s.device_model)
    st = await driver.status(client, s.config)
    await driver.stop(client, s.config)
    s.full_at_download = st.full
    s.download_sync = await _sync(driver, client, host_clock)
    s.stopped = True
    state.save()


def clock_map(s: ArmedSensor) -> ClockMap:
    """The device → host line of one sensor (both sync points; the arm one alone if needed)."""
    if s.download_sync is None:
        return ClockMap.from_one(s.arm_sync)
    try:
        return ClockMap.from_points(s.arm_sync, s.download_sync)
    except ValueError as exc:
        raise DeviceError(f"{s.sensor_id}: cannot map its clock: {exc}") from None


def samples_to_blocks(
    sensor_id: str,
    logged: LoggedSamples,
    cmap: ClockMap,
    *,
    t_ref_host_s: float,
    rate_hz: float,
    arm_epoch: int = 0,
    t_arm_s: float | None = None,
    t_stop_s: float | None = None,
    full: bool = False,
    block_s: float = 60.0,
) -> list[SampleBlock]:
    """Pure: logged samples → blocks on the recording's time base (s since ``t_ref_host_s``).

    Gaps: every step over 1.5 sample periods; from arming to the first sample when the start
    was overwritten (wrap-around); from the last sample to the stop when the log was full.
    """
    keep = logged.epoch == arm_epoch
    if not keep.all():
        log.warning(
            "%s: %d samples after a device reset cannot be placed in time; left out",
            sensor_id,
            int((~keep).sum()),
        )
    t = cmap.to_host(logged.device_time_s[keep]) - t_ref_host_s
    acc, gyr, seq = logged.acc[keep], logged.gyr[keep], logged.seq[keep]
    if len(t) == 0:
        return []
    period = 1.0 / rate_hz
    jumps = np.flatnonzero(np.diff(t) > 1.5 * period)
    gaps = [(float(t[i]), float(t[i + 1])) for i in jumps]
    # a log whose start was overwritten (wrap-around) or that stopped early (full) lost data
    # between arming and its first sample, or between its last sample and the stop
    lost_start = t_arm_s is not None and (
        (logged.overwritten and t_arm_s < t[0]) or t[0] > t_arm_s + LOST_EDGE_S
    )
    if lost_start:
        gaps.insert(0, (float(t_arm_s), float(t[0])))  # type: ignore[arg-type]
    lost_end = t_stop_s is not None and (
        (full and t_stop_s > t[-1] + 1.5 * period) or t_stop_s > t[-1] + LOST_EDGE_S
    )
    if lost_end:
        gaps.append((float(t[-1]), float(t_stop_s)))  # type: ignore[arg-type]
    blocks: list[SampleBlock] = []
    edges = np.searchsorted(t, np.arange(t[0], t[-1] + block_s, block_s), side="left")
    edges = np.unique(np.append(edges, len(t)))
    gi = 0
    for a, b in itertools.pairwise(edges):
        if b <= a:
            continue
        mine = []
        while gi < len(gaps) and gaps[gi][1] <= t[b - 1]:
            mine.append(gaps[gi])
            gi += 1
        if b == len(t):
            mine.extend(gaps[gi:])
        blocks.append(
            SampleBlock(
                sensor_id,
                t[a:b],
                acc[a:b],
                gyr[a:b],
                seq=seq[a:b],
                gaps=np.array(mine, dtype=np.float64).reshape(-1, 2),
            )
        )
    return blocks


#: ``write(out, sensor infos, blocks, notes, start_utc)``: write one recording and return only
#: once it is safely on disk (the caller's writer: firmware_bridge does not write files itself);
#: ``start_utc`` is the wall clock of ``t = 0`` (the first arm-time sync point), ISO 8601.
RecordingWrite = Callable[[Path, list[SensorInfo], list[SampleBlock], str, str], None]


async def download_sensors(
    state: ArmState,
    out: str | os.PathLike[str],
    *,
    connect: Connector,
    write: RecordingWrite,
    host_clock: Callable[[], float] = time.time,
    retries: int = 5,
    erase: bool = True,
    progress: Callable[[str, int, int], None] | None = None,
    without: Collection[str] = (),
) -> DownloadSummary:
    """Download every armed sensor into one recording at ``out`` (written by ``write``, e.g.
    :func:`runform.commands.sensors.write_recording`); then erase the logs.

    ``without``: sensors to leave out (lost for good): not contacted, not in the recording,
    named in its notes; their logs and journals are kept, and once the recording is written
    they stay left out (:attr:`ArmedSensor.left_out`).

    Raises
    ------
    DeviceError
        A sensor could not be downloaded (the journals stay: run it again to resume), or
        ``without`` names a sensor not armed, or every one.
    """
    out = Path(out)
    unknown = sorted(set(without) - set(state.sensors))
    if unknown:
        raise DeviceError(
            f"--without {', '.join(unknown)}: not armed in {state.path} "
            f"(armed: {', '.join(state.sensors)})"
        )
    if state.written_to is not None:
        # the recording was written by an earlier run; only the erase is left to do
        log.warning(
            "%s: already written to %s; erasing the logs left", state.path, state.written_to
        )
        summary = DownloadSummary(path=state.written_to)
        if erase:
            await _erase_all(state, connect)
        return summary
    left = [sid for sid, s in state.sensors.items() if s.left_out or sid in without]
    if len(left) == len(state.sensors):
        raise DeviceError(f"--without {', '.join(left)}: that leaves no sensor to download")
    sensors = {sid: s for sid, s in state.sensors.items() if sid not in left}
    summary = DownloadSummary(path=str(out), left_out=left)
    # every sensor stops logging first, so their logs end together (not one download later)
    unreached: set[str] = set()
    for sid, s in sensors.items():
        if not s.stopped:
            try:
                async with connect(s.address) as client:
                    await _stop_and_sync(s, state, client, host_clock)
            except DeviceError:
                raise
            except Exception as exc:  # retried by the download of this sensor
                if no_bluetooth(exc):
                    raise _no_bluetooth_error(sid, s.address, exc, arming=False) from None
                log.warning("%s: could not stop logging yet (%s)", sid, exc)
                unreached.add(sid)
    # the sensors reached first: one that is lost does not hold the others' downloads back
    for sid in sorted(sensors, key=lambda sid: sid in unreached):
        summary.reconnects[sid] = await _download_one(
            sensors[sid],
            state,
            connect,
            host_clock,
            retries,
            progress,
            tried=int(sid in unreached),
        )
    # t = 0 stays the first arm (of every sensor armed: the same time base with or without one)
    t_ref = min(s.arm_sync.host_s for s in state.sensors.values())
    infos, blocks = [], []
    for sid, s in sensors.items():
        journal = state.journal(sid)
        try:
            logged = log_driver(s.device_model).decode_log(journal.packets, s.config)
        finally:
            journal.close()
        cmap = clock_map(s)
        placement = sid if sid in PLACEMENTS else "pelvis"
        infos.append(
            SensorInfo(
                sensor_id=sid,
                placement=placement,
                device_model=s.device_model,
                sample_rate_hz=s.config.rate_hz,
                acc_range_g=s.config.acc_range_g,
                gyr_range_dps=s.config.gyr_range_dps,
                firmware=s.firmware,
            )
        )
        t_stop = (s.download_sync.host_s - t_ref) if s.download_sync else None
        bl = samples_to_blocks(
            sid,
            logged,
            cmap,
            t_ref_host_s=t_ref,
            rate_hz=s.config.rate_hz,
            arm_epoch=s.arm_sync.epoch,
            t_arm_s=s.arm_sync.host_s - t_ref,
            t_stop_s=t_stop,
            full=s.full_at_download and not s.config.wrap,
        )
        blocks.extend(bl)
        summary.samples[sid] = sum(len(b) for b in bl)
        summary.gaps[sid] = sum(len(b.gaps) for b in bl)
        summary.overwritten[sid] = logged.overwritten
        summary.duplicates[sid] = logged.duplicates
        summary.drift_ppm[sid] = cmap.drift_ppm
        unc = [s.arm_sync.uncertainty_s] + (
            [s.download_sync.uncertainty_s] if s.download_sync else []
        )
        summary.sync_uncertainty_ms[sid] = 1e3 * max(unc)
        summary.full[sid] = (
            s.full_at_download
            or logged.overwritten > 0
            or any(len(b.gaps) and b.gaps[0][0] == s.arm_sync.host_s - t_ref for b in bl[:1])
            or any(len(b.gaps) and t_stop is not None and b.gaps[-1][1] == t_stop for b in bl[-1:])
        )
    blocks.sort(key=lambda b: float(b.t[0]))
    notes = (
        f"downloaded from on-sensor logs; armed {state.armed_utc}; time base: each sensor's "
        "clock mapped by its arm-time and download-time clock reads"
    )
    if left:
        notes += f"; without {', '.join(left)} (armed, left out of the download: lost)"
    start_utc = datetime.fromtimestamp(t_ref, UTC).isoformat(timespec="milliseconds")
    start_utc = start_utc.replace("+00:00", "Z")
    await asyncio.to_thread(write, out, infos, blocks, notes, start_utc)
    log.info("wrote %s", out)
    state.written_to = str(out)
    for sid in left:
        state.sensors[sid].left_out = True
    state.save()
    if erase:
        await _erase_all(state, connect)
    else:
        for s in sensors.values():
            s.downloaded = True
        state.save()
    return summary


async def _erase_all(state: ArmState, connect: Connector) -> None:
    """Erase every log not erased yet (the recording is safe), then drop its journal."""
    for sid, s in state.sensors.items():
        if s.downloaded or s.left_out:
            continue
        journal = state.journal(sid)
        try:
            async with connect(s.address) as client:
                await log_driver(s.device_model).erase(client, s.config, journal)
        except Exception as exc:  # the file is safe; the log just stays on the sensor
            log.warning(
                "%s: log not erased (%s); it stays on the sensor (run `runform sensors "
                "download` again to erase it)",
                sid,
                exc,
            )
            journal.close()
            continue
        s.downloaded = True
        state.save()
        journal.remove()
    if all(s.downloaded or s.left_out for s in state.sensors.values()):
        with contextlib.suppress(OSError):
            state.journal_dir.rmdir()
