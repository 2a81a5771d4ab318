"""Offline recording of a Polar Verity Sense: PMD offline ACC + GYRO, files over PFTP.

Facts from the Polar BLE SDK (polarofficial/polar-ble-sdk; ``documentation/
SdkOfflineRecordingExplained.md``, ``TimeSystemExplained.md``, ``products/PolarVeritySense.md``,
the Android sources ``BlePMDClient.kt``, ``PmdControlPointCommand.kt``, ``PmdRecordingType.kt``,
``PmdActiveMeasurement.kt``, ``PmdControlPointResponse.kt``, ``OfflineRecordingData.kt``,
``PolarOfflineRecordingUtils.kt``, ``BDBleApiImpl.kt``; see ``docs/devices.md``):

* PMD control point (:mod:`firmware_bridge.devices.polar`): bit 7 of the measurement-type byte
  selects the *offline* recording: ``01 82`` offline ACC settings, ``02 82 TLVs…`` start offline
  ACC (``85`` for GYRO), ``03 02`` / ``03 05`` stop; ``05`` (GET_MEASUREMENT_STATUS) answers one
  byte per measurement, ``type | state << 6`` with state 2 = offline active. Status 14 =
  ERROR_DISK_FULL. The Verity Sense offers ACC and GYRO offline at 13, 26 and 52 Hz (52 Hz,
  8 g, 2000 deg/s outside SDK mode).
* Files (PFTP, :mod:`firmware_bridge.sensorlog.pftp`): ``/U/0/YYYYMMDD/R/HHMMSS/ACC.REC`` and
  ``GYRO.REC``, or split into ``ACC0.REC``, ``ACC1.REC``, …; an SDK-style recording listing
  walks ``/U/0/`` (GET of a folder path answers a ``PbPFtpDirectory``). A file is removed with a
  REMOVE operation; empty folders up to ``/U/0`` are removed after it.
* Offline file (no encryption): security strategy byte (0 = none), header ``uint32 magic
  0x3D7C4C2B, version, free, esw hash``, start time as 20 bytes of text (``YYYY-MM-DD
  HH:MM:SS`` and a terminator), ``uint8`` settings length + PMD setting TLVs (sample rate,
  resolution, range, channels, conversion factor), ``uint8`` security-info length (0), then
  PMD data frames, each preceded by its ``uint16 LE`` size. A frame is exactly an online PMD
  data frame (type, ``uint64`` ns timestamp of its last sample, frame type, delta-compressed
  samples); split files continue the previous file's timestamps.
* Device time: ns since 2000-01-01 in the time last set with PFTP SET_LOCAL_TIME; read with
  GET_LOCAL_TIME (millisecond resolution).

Journal (resumable download): each file is fetched whole with one PFTP GET (the protocol has no
offset); every frame's data goes to the journal as it arrives, and a closing record with its size
and CRC-32 marks the file complete. A download cut mid-file fetches that file again under a new
attempt number; :func:`decode_journal` keeps exactly one complete copy of each file, so nothing
is counted twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import struct
import time
import zlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from firmware_bridge.devices import polar as pl
from firmware_bridge.devices._vendor import await_notification
from firmware_bridge.devices.base import DecodeError, StreamSettings, pick_range
from firmware_bridge.errors import DeviceError
from firmware_bridge.sensorlog import pftp
from firmware_bridge.sensorlog.base import (
    LogConfig,
    LogDriver,
    LoggedSamples,
    LogStatus,
    ProgressFn,
)
from firmware_bridge.sensorlog.timebase import ClockRead

if TYPE_CHECKING:
    from bleak import BleakClient

    from firmware_bridge.sensorlog.journal import Journal

__all__ = [
    "OFFLINE_MAGIC",
    "OfflineFile",
    "PolarLogDriver",
    "decode_journal",
    "encode_offline_file",
    "file_samples",
    "parse_offline_file",
]

log = logging.getLogger(__name__)

OFFLINE = 0x80
CP_MEASUREMENT_STATUS = 0x05
STATE_OFFLINE = 2
PMD_DISK_FULL = 14
OFFLINE_MAGIC = 0x3D7C4C2B
_HEADER = struct.Struct("<IIII")
_START_LEN = 20
#: Offline ACC/GYRO rates of the Verity Sense (SDK mode; 52 Hz only outside it).
OFFLINE_RATES_HZ = (13.0, 26.0, 52.0)
ROOT = "/U/0/"
_REC = re.compile(r"^(?P<kind>[A-Z]+?)(?P<index>\d*)\.REC$")
#: Folders a recording listing walks: date, ``R``, time of day.
_FOLDER = re.compile(r"\d{8}/|R/|\d{6}/")
_KINDS = {"ACC": pl.TYPE_ACC, "GYRO": pl.TYPE_GYRO}

# journal records
_DIR, _CHUNK, _DONE = b"D", b"C", b"F"
_CHUNK_HEAD = struct.Struct("<HHI")  # file index, attempt, offset
_DONE_HEAD = struct.Struct("<HHII")  # file index, attempt, size, crc32


# --- offline file format (pure) ---------------------------------------------------------------
@dataclass(frozen=True)
class OfflineFile:
    """One parsed offline recording file.

    Attributes
    ----------
    start_time : str
        The recording's start as the file states it (``YYYY-MM-DD HH:MM:SS``, device time).
    settings : dict
        PMD settings TLVs ({setting type: [values]}); 5 = conversion factor.
    frames : list of bytes
        PMD data frames, in file order.
    truncated : bool
        The file ends inside a frame (the part is left out).
    """

    version: int
    start_time: str
    settings: dict[int, list[float]]
    frames: list[bytes]
    truncated: bool = False


def encode_offline_file(
    start_time: str, settings: dict[int, int | float], frames: Sequence[bytes], version: int = 1
) -> bytes:
    """An unencrypted offline file (what :func:`parse_offline_file` reads)."""
    st = start_time.encode("ascii")[: _START_LEN - 1].ljust(_START_LEN, b"\0")
    tlv = pl.settings_bytes(settings)
    out = bytearray(b"\x00" + _HEADER.pack(OFFLINE_MAGIC, version, 0, 0) + st)
    out += bytes([len(tlv)]) + tlv + b"\x00"
    for f in frames:
        out += len(f).to_bytes(2, "little") + f
    return bytes(out)


def parse_offline_file(data: bytes, name: str = "offline file") -> OfflineFile:
    """Parse an offline recording file (pure).

    Raises
    ------
    DecodeError
        One line naming ``name`` and what was expected: empty, encrypted, wrong magic,
        truncated meta data, unreadable settings.
    """
    if not data:
        raise DecodeError(f"{name}: empty file: expected a Polar offline recording")
    if data[0] != 0:
        raise DecodeError(
            f"{name}: encrypted (security strategy {data[0]}): expected an unencrypted "
            "recording (runform starts recordings without a key)"
        )
    meta = 1 + _HEADER.size + _START_LEN + 1
    if len(data) < meta:
        raise DecodeError(f"{name}: {len(data)} bytes: the meta data alone needs {meta + 1}")
    magic, version, _free, _hash = _HEADER.unpack_from(data, 1)
    if magic != OFFLINE_MAGIC:
        raise DecodeError(f"{name}: magic 0x{magic:08x}: expected 0x{OFFLINE_MAGIC:08x}")
    raw_start = data[1 + _HEADER.size : 1 + _HEADER.size + _START_LEN]
    try:
        start = raw_start[:-1].decode("ascii").rstrip("\0")
    except UnicodeDecodeError:
        raise DecodeError(f"{name}: start time is not text: expected YYYY-MM-DD HH:MM:SS") from None
    i = 1 + _HEADER.size + _START_LEN
    n_set = data[i]
    i += 1
    if i + n_set + 1 > len(data):
        raise DecodeError(f"{name}: settings of {n_set} bytes do not fit the file")
    try:
        settings = pl.parse_settings(bytes(data[i : i + n_set]))
    except DecodeError as exc:
        raise DecodeError(f"{name}: settings: {exc}") from None
    i += n_set
    n_sec = data[i]
    i += 1
    if n_sec:
        if i >= len(data) or data[i] != 0:
            raise DecodeError(f"{name}: encrypted payload: expected security info 0 (none)")
        i += n_sec
    frames: list[bytes] = []
    truncated = False
    while i < len(data):
        if i + 2 > len(data):
            truncated = True
            break
        size = int.from_bytes(data[i : i + 2], "little")
        i += 2
        if size == 0 or i + size > len(data):
            truncated = True
            break
        frames.append(bytes(data[i : i + size]))
        i += size
    return OfflineFile(version, start, settings, frames, truncated)


def file_samples(
    files: Sequence[tuple[str, bytes]], meas_type: int, rate_hz: float
) -> tuple[np.ndarray, np.ndarray, int]:
    """Samples of consecutive files of one measurement (pure).

    Returns ``(device_time_s (N,), values (N, 3), bad_frames)``: values in m/s² (ACC) or
    deg/s (GYRO); each frame's samples spread between the previous frame's timestamp and its
    own (the first one back from it at the nominal rate), as the SDK does; a frame that does not
    decode is skipped and counted (the SDK logs and continues, too).

    Raises
    ------
    DecodeError
        A file's meta data is unreadable (naming the file).
    """
    period_ns = 1e9 / rate_hz
    times: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    prev: int | None = None
    bad = 0
    for name, data in files:
        f = parse_offline_file(data, name)
        if f.truncated:
            log.warning("%s: ends inside a frame; the partial frame is left out", name)
        factor = (f.settings.get(pl.SETTING_FACTOR) or [1.0])[0]
        if not (np.isfinite(factor) and factor > 0):
            raise DecodeError(f"{name}: conversion factor {factor!r}: expected a positive number")
        for frame in f.frames:
            if len(frame) < 10 or (frame[0] & 0x3F) != meas_type:
                bad += 1
                continue
            ts = int.from_bytes(frame[1:9], "little")
            try:
                v = pl.frame_values(meas_type, frame[9], frame[10:], factor)
            except DecodeError as exc:
                log.debug("%s: frame skipped: %s", name, exc)
                bad += 1
                continue
            n = len(v)
            if prev is not None and prev < ts and (ts - prev) < 2 * n * period_ns:
                step = (ts - prev) / n
            else:
                step = period_ns
            times.append((ts - step * np.arange(n - 1, -1, -1)) / 1e9)
            vals.append(v)
            prev = ts
    if not times:
        return np.empty(0), np.empty((0, 3)), bad
    return np.concatenate(times), np.concatenate(vals), bad


# --- journal (pure) ---------------------------------------------------------------------------
_DIR_HEAD = struct.Struct("<HH")  # part, parts
#: Bytes of ``size path`` lines per file-list record (a journal record holds < 64 KiB).
_DIR_PART = 16_000


def dir_records(files: Sequence[tuple[str, int]]) -> list[bytes]:
    """The journal records of the files a download fetches: ``D``, part, parts, then
    ``size path`` lines; the list counts only when every part is there."""
    lines = [f"{size} {path}\n" for path, size in files]
    parts: list[str] = [""]
    for line in lines:
        if len(parts[-1]) + len(line) > _DIR_PART:
            parts.append("")
        parts[-1] += line
    return [_DIR + _DIR_HEAD.pack(i, len(parts)) + t.encode("utf-8") for i, t in enumerate(parts)]


def chunk_record(index: int, attempt: int, offset: int, data: bytes) -> bytes:
    return _CHUNK + _CHUNK_HEAD.pack(index, attempt, offset) + data


def done_record(index: int, attempt: int, data: bytes) -> bytes:
    return _DONE + _DONE_HEAD.pack(index, attempt, len(data), zlib.crc32(data))


def _parse_dir(rec: bytes) -> tuple[int, int, list[tuple[str, int]]]:
    if len(rec) < 1 + _DIR_HEAD.size:
        raise DecodeError(f"polar journal: file list record of {len(rec)} bytes")
    part, parts = _DIR_HEAD.unpack_from(rec, 1)
    if not part < parts:
        raise DecodeError(f"polar journal: file list part {part} of {parts}")
    out = []
    try:
        text = rec[1 + _DIR_HEAD.size :].decode("utf-8")
    except UnicodeDecodeError:
        raise DecodeError("polar journal: file list is not UTF-8") from None
    for line in text.splitlines():
        size, _, path = line.partition(" ")
        if not size.isdigit() or not path.startswith("/"):
            raise DecodeError(f"polar journal: file list line {line!r}: expected 'SIZE /PATH'")
        out.append((path, int(size)))
    return part, parts, out


@dataclass
class JournalFiles:
    """What a journal holds: the file list, each complete file, attempts made, repeats."""

    files: list[tuple[str, int]]
    complete: dict[int, bytes]
    attempts: dict[int, int]
    duplicates: int = 0
    bad: int = 0


def decode_journal(packets: Sequence[bytes]) -> JournalFiles:
    """The complete files a journal holds (pure): one copy of each, checked by size and CRC-32;
    chunks of cut attempts and repeated copies are counted in ``duplicates``."""
    files: list[tuple[str, int]] = []
    dir_parts: dict[int, list[tuple[str, int]]] = {}
    chunks: dict[tuple[int, int], dict[int, bytes]] = {}
    done: dict[tuple[int, int], tuple[int, int]] = {}
    attempts: dict[int, int] = {}
    bad = 0
    for p in packets:
        kind = p[:1]
        try:
            if kind == _DIR:
                part, n_parts, listed = _parse_dir(p)
                if part == 0:
                    dir_parts = {}
                dir_parts[part] = listed
                if len(dir_parts) == n_parts:
                    files = [f for k in sorted(dir_parts) for f in dir_parts[k]]
            elif kind == _CHUNK and len(p) >= 1 + _CHUNK_HEAD.size:
                idx, att, off = _CHUNK_HEAD.unpack_from(p, 1)
                chunks.setdefault((idx, att), {})[off] = p[1 + _CHUNK_HEAD.size :]
                attempts[idx] = max(attempts.get(idx, -1), att)
            elif kind == _DONE and len(p) == 1 + _DONE_HEAD.size:
                idx, att, size, crc = _DONE_HEAD.unpack_from(p, 1)
                done[(idx, att)] = (size, crc)
                attempts[idx] = max(attempts.get(idx, -1), att)
            else:
                raise DecodeError(f"polar journal record {p[:1].hex()} of {len(p)} bytes")
        except DecodeError as exc:
            log.debug("%s", exc)
            bad += 1
    complete: dict[int, bytes] = {}
    dup = 0
    for (idx, att), parts in sorted(chunks.items()):
        whole = None
        if (idx, att) in done and idx not in complete:
            size, crc = done[(idx, att)]
            data = bytearray()
            for off in sorted(parts):
                if off != len(data):
                    break
                data += parts[off]
            if len(data) == size and zlib.crc32(data) == crc:
                whole = bytes(data)
        if whole is not None:
            complete[idx] = whole
        else:
            dup += len(parts)
    for (idx, _att), (size, crc) in done.items():  # empty files have no chunks
        if size == 0 and idx not in complete and crc == zlib.crc32(b""):
            complete[idx] = b""
    return JournalFiles(files, complete, attempts, dup, bad)


def _rec_kind(path: str) -> tuple[int, int] | None:
    """(measurement type, split index) of an ACC/GYRO recording file path, else None."""
    m = _REC.match(path.rsplit("/", 1)[-1])
    if m is None or m["kind"] not in _KINDS:
        return None
    return _KINDS[m["kind"]], int(m["index"] or 0)


def decode_log(packets: Sequence[bytes], config: LogConfig) -> LoggedSamples:
    """Pure: acc + gyro samples of a Polar journal (ACC and GYRO rows paired by device time
    within half a sample period)."""
    j = decode_journal(packets)
    if j.bad:
        log.warning("polar journal: %d unreadable records skipped", j.bad)
    missing = [p for i, (p, _s) in enumerate(j.files) if i not in j.complete]
    if missing:
        log.warning("polar log: %d file(s) not downloaded completely: %s", len(missing), missing)
    rate = config.rate_hz
    by_type: dict[int, list[tuple[int, str, bytes]]] = {pl.TYPE_ACC: [], pl.TYPE_GYRO: []}
    for i, (path, _size) in enumerate(j.files):
        kind = _rec_kind(path)
        if kind is None or i not in j.complete:
            continue
        by_type[kind[0]].append((kind[1], path, j.complete[i]))
    series = {}
    for meas, items in by_type.items():
        items.sort()
        tt, vv, bad = file_samples([(p, d) for _k, p, d in items], meas, rate)
        if bad:
            log.warning(
                "polar log: %d undecodable %s frames skipped",
                bad,
                "ACC" if meas == pl.TYPE_ACC else "GYRO",
            )
        series[meas] = (tt, vv)
    ta, acc = series[pl.TYPE_ACC]
    tg, gyr = series[pl.TYPE_GYRO]
    rows_a: list[int] = []
    rows_g: list[int] = []
    if len(ta) and len(tg):
        j_near = np.clip(np.searchsorted(tg, ta), 1, len(tg) - 1) if len(tg) > 1 else None
        if j_near is None:
            k = np.zeros(len(ta), dtype=int)
        else:
            left = j_near - 1
            k = np.where(np.abs(tg[left] - ta) <= np.abs(tg[j_near] - ta), left, j_near)
        ok = np.abs(tg[k] - ta) <= 0.5 / rate
        # each gyro row pairs once
        used: set[int] = set()
        for row in np.flatnonzero(ok).tolist():
            if int(k[row]) not in used:
                used.add(int(k[row]))
                rows_a.append(row)
                rows_g.append(int(k[row]))
    ia, ig = np.array(rows_a, dtype=int), np.array(rows_g, dtype=int)
    t = ta[ia] if len(ia) else np.empty(0)
    keep = np.concatenate([[True], np.diff(t) > 0]) if len(t) else np.empty(0, dtype=bool)
    t, ia, ig = t[keep], ia[keep], ig[keep]
    seq = np.rint((t - t[0]) * rate).astype(np.int64) if len(t) else np.empty(0, dtype=np.int64)
    return LoggedSamples(
        device_time_s=t,
        acc=acc[ia] if len(ia) else np.empty((0, 3)),
        gyr=gyr[ig] if len(ig) else np.empty((0, 3)),
        seq=(seq & 0xFFFFFFFF).astype(np.uint32),
        epoch=np.zeros(len(t), dtype=int),
        overwritten=0,
        duplicates=j.duplicates,
    )


# --- PFTP over bleak --------------------------------------------------------------------------
class PftpLinkError(ConnectionError):
    """A PFTP exchange broke off (timeout, lost frame): retried by the download loop."""


class _Pftp:
    """Requests and queries over a connected client's PS-FTP service (one at a time)."""

    def __init__(self, client: BleakClient, timeout_s: float) -> None:
        self.client = client
        self.timeout_s = timeout_s
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.dev = f"polar {getattr(client, 'address', '?')}"

    def on_notify(self, _c: object, data: bytearray) -> None:
        self.queue.put_nowait(bytes(data))

    def _payload_size(self) -> int:
        return max(20, int(getattr(self.client, "mtu_size", 23)) - 3)

    async def exchange(
        self,
        message: bytes,
        what: str,
        on_part: Callable[[bytes], None] | None = None,
    ) -> bytes:
        """Send one RFC60 message in RFC76 frames; the answer's data (parts go to ``on_part``
        as they arrive).

        Raises
        ------
        PftpError
            The device answered with an error code.
        PftpLinkError
            No frame within the timeout, or a frame lost on the way.
        """
        while not self.queue.empty():  # a stale answer of an exchange cut earlier
            self.queue.get_nowait()
        for frame in pftp.split_frames(message, self._payload_size()):
            await self.client.write_gatt_char(pftp.PFTP_MTU_UUID, frame, response=True)
        reader = pftp.ResponseReader(f"{self.dev}: {what}")
        waited = 0.0
        while True:
            try:  # short waits: a link that is gone fails now, not after the timeout
                packet = await asyncio.wait_for(self.queue.get(), 0.25)
            except TimeoutError:
                waited += 0.25
                if not getattr(self.client, "is_connected", True):
                    raise PftpLinkError(f"{self.dev}: link lost during {what}") from None
                if waited >= self.timeout_s:
                    raise PftpLinkError(f"{self.dev}: no PFTP answer to {what}") from None
                continue
            waited = 0.0
            try:
                complete = reader.feed(packet)
            except pftp.PftpError as exc:
                if exc.code in (200, 303):
                    with contextlib.suppress(Exception):
                        await self.client.write_gatt_char(
                            pftp.PFTP_MTU_UUID, pftp.CANCEL, response=True
                        )
                    raise PftpLinkError(str(exc)) from None
                raise
            if on_part is not None and reader.parts:
                on_part(reader.parts[-1])
                reader.parts[-1] = b""
            if complete:
                return reader.data

    async def request(
        self, command: int, path: str, on_part: Callable[[bytes], None] | None = None
    ) -> bytes:
        msg = pftp.request_message(pftp.encode_operation(command, path))
        return await self.exchange(
            msg, f"{('GET', 'PUT', 'MERGE', 'REMOVE')[command]} {path}", on_part
        )

    async def query(self, query_id: int, params: bytes = b"") -> bytes:
        return await self.exchange(pftp.query_message(query_id, params), f"query {query_id}")

    async def list_recursive(self, path: str = ROOT) -> list[tuple[str, int]]:
        """Every recording file under ``path`` (depth first), as (full path, size): like the
        SDK's listing it walks only date folders (``YYYYMMDD/``), ``R/`` and time folders
        (``HHMMSS/``), not the sensor's other data."""
        out = []
        try:
            entries = pftp.decode_directory(await self.request(pftp.GET, path), path)
        except pftp.PftpError as exc:
            if exc.code == pftp.NO_SUCH_FILE:
                return []
            raise
        for name, size in entries:
            if name.endswith("/"):
                if _FOLDER.fullmatch(name):
                    out.extend(await self.list_recursive(path + name))
            elif name.endswith(".REC"):
                out.append((path + name, size))
        return out


@contextlib.asynccontextmanager
async def pftp_session(client: BleakClient, timeout_s: float = 10.0) -> AsyncIterator[_Pftp]:
    """A PFTP channel over ``client``. Subscribes to the MTU characteristic (the answers) and,
    as the SDK does before its first request, to device-to-host notifications (not used by
    runform; logged)."""
    p = _Pftp(client, timeout_s)
    await client.start_notify(pftp.PFTP_MTU_UUID, p.on_notify)
    d2h = False
    try:
        await client.start_notify(
            pftp.PFTP_D2H_UUID, lambda _c, b: log.debug("%s: PFTP notification %s", p.dev, b.hex())
        )
        d2h = True
    except Exception as exc:  # optional for runform: it sends no notification-driven request
        log.debug("%s: no PFTP device-to-host notifications: %s", p.dev, exc)
    try:
        yield p
    finally:
        for uuid in (pftp.PFTP_MTU_UUID, pftp.PFTP_D2H_UUID) if d2h else (pftp.PFTP_MTU_UUID,):
            with contextlib.suppress(Exception):  # the link may be gone
                await client.stop_notify(uuid)


def _device_error(client: BleakClient, exc: pftp.PftpError) -> DeviceError:
    """The one line a user gets for an error the sensor answered."""
    hint = (
        " (the sensor is in its own recording or swimming mode: switch it to sensor mode, "
        "then run the command again)"
        if exc.code == pftp.SYSTEM_BUSY
        else ""
    )
    return DeviceError(f"polar {getattr(client, 'address', '?')}: {exc}{hint}")


def _recording_files(files: list[tuple[str, int]], before: Sequence[str]) -> list[tuple[str, int]]:
    old = set(before)
    return sorted(
        (p, s) for p, s in files if p not in old and _rec_kind(p) is not None and "/R/" in p
    )


class PolarLogDriver(LogDriver):
    """Offline ACC + GYRO recording on a Polar Verity Sense."""

    name = "polar-verity-sense"
    #: Seconds without a PFTP frame before an exchange counts as cut.
    frame_timeout_s = 10.0

    def _pftp(self, client: BleakClient):
        return pftp_session(client, self.frame_timeout_s)

    async def _cp(self, client: BleakClient, request: bytes, what: str) -> bytes:
        dev = f"polar {getattr(client, 'address', '?')}"
        resp = await await_notification(
            client,
            pl.PMD_CP_UUID,
            request,
            pl.PMD_CP_UUID,
            lambda b: len(b) >= 4 and b[0] == pl.CP_RESPONSE and b[1] == request[0],
            device=dev,
            what=what,
        )
        return resp

    async def _settings(self, client: BleakClient, meas: int) -> dict[int, list[float]]:
        resp = await self._cp(
            client, bytes([pl.CP_GET_SETTINGS, OFFLINE | meas]), f"offline settings of {meas}"
        )
        if resp[3] != 0:
            raise DeviceError(
                f"polar {client.address}: no offline recording of measurement {meas} (PMD "
                f"status {resp[3]}); offline recording needs a Verity Sense with firmware 2.1.0+"
            )
        return pl.parse_settings(resp[5:]) if len(resp) > 5 else {}

    async def _active(self, client: BleakClient) -> dict[int, int]:
        resp = await self._cp(client, bytes([CP_MEASUREMENT_STATUS]), "measurement status")
        return {b & 0x3F: b >> 6 for b in resp[5:]} if resp[3] == 0 else {}

    async def arm(self, client: BleakClient, settings: StreamSettings, *, wrap: bool) -> LogConfig:
        dev = f"polar {client.address}"
        if wrap:
            raise DeviceError(
                f"{dev}: a Verity Sense cannot overwrite old data; it stops recording when its "
                "memory runs low (arm without --wrap)"
            )
        active = await self._active(client)
        for meas in (pl.TYPE_ACC, pl.TYPE_GYRO):
            if active.get(meas, 0) & STATE_OFFLINE:  # the files stay on the sensor
                log.warning("%s: an offline recording of %d was running; stopped", dev, meas)
                await self._cp(client, bytes([pl.CP_STOP, meas]), f"stop of {meas}")
        async with self._pftp(client) as p:
            now = time.time() - pl.EPOCH_2000_NS / 1e9
            with contextlib.suppress(pftp.PftpError):  # optional on some firmware (SDK too)
                await p.query(pftp.Q_SET_SYSTEM_TIME, pftp.encode_system_time(now))
            try:
                await p.query(pftp.Q_SET_LOCAL_TIME, pftp.encode_local_time(now))
                before = [path for path, _s in await p.list_recursive()]
            except pftp.PftpError as exc:
                raise _device_error(client, exc) from None
        chosen: dict[int, dict[int, int | float]] = {}
        for meas, want_range, key in (
            (pl.TYPE_ACC, settings.acc_range_g, "acc"),
            (pl.TYPE_GYRO, settings.gyr_range_dps, "gyr"),
        ):
            offered = await self._settings(client, meas)
            rates = offered.get(pl.SETTING_SAMPLE_RATE) or [52.0]
            ranges = offered.get(pl.SETTING_RANGE) or [want_range]
            rate = min(rates, key=lambda r: (abs(r - settings.rate_hz), -r))
            rng = pick_range(ranges, want_range)
            chosen[meas] = {
                pl.SETTING_SAMPLE_RATE: int(rate),
                pl.SETTING_RESOLUTION: 16,
                pl.SETTING_RANGE: int(rng),
                pl.SETTING_CHANNELS: 3,
            }
            log.debug("%s: offline %s at %g Hz, range %g", dev, key, rate, rng)
        rate_acc = chosen[pl.TYPE_ACC][pl.SETTING_SAMPLE_RATE]
        if chosen[pl.TYPE_GYRO][pl.SETTING_SAMPLE_RATE] != rate_acc:
            raise DeviceError(f"{dev}: offline ACC and GYRO offer no common sample rate")
        if abs(rate_acc - settings.rate_hz) > 0.5:
            log.warning(
                "%s: offline recording runs at %g Hz, not %g Hz (the rates it offers)",
                dev,
                rate_acc,
                settings.rate_hz,
            )
        started = []
        try:
            for meas in (pl.TYPE_ACC, pl.TYPE_GYRO):
                resp = await self._cp(
                    client,
                    bytes([pl.CP_START, OFFLINE | meas]) + pl.settings_bytes(chosen[meas]),
                    f"offline start of {meas}",
                )
                if resp[3] == PMD_DISK_FULL:
                    raise DeviceError(
                        f"{dev}: memory full (PMD status 14): download or remove the recordings "
                        "on the sensor first"
                    )
                if resp[3] != 0:
                    raise DeviceError(
                        f"{dev}: offline start of {meas} refused (PMD status {resp[3]})"
                    )
                started.append(meas)
        except DeviceError:
            for meas in started:
                with contextlib.suppress(Exception):
                    await self._cp(client, bytes([pl.CP_STOP, meas]), "stop")
            raise
        return LogConfig(
            rate_hz=float(rate_acc),
            acc_range_g=float(chosen[pl.TYPE_ACC][pl.SETTING_RANGE]),
            gyr_range_dps=float(chosen[pl.TYPE_GYRO][pl.SETTING_RANGE]),
            wrap=False,
            extra={"before": before},
        )

    async def read_clock(self, client: BleakClient) -> tuple[float, int]:
        async with self._pftp(client) as p:
            return pftp.decode_local_time(await p.query(pftp.Q_GET_LOCAL_TIME)), 0

    async def read_clocks(
        self, client: BleakClient, host_clock: Callable[[], float], n: int
    ) -> list[ClockRead]:
        """GET_LOCAL_TIME queries on one PS-FTP subscription, each bracketed by the host clock."""
        out = []
        async with self._pftp(client) as p:
            for _ in range(n):
                h0 = host_clock()
                raw = await p.query(pftp.Q_GET_LOCAL_TIME)
                h1 = host_clock()
                out.append(ClockRead(h0, h1, pftp.decode_local_time(raw), 0))
        return out

    async def status(self, client: BleakClient, config: LogConfig | None) -> LogStatus:
        try:
            return await self._status(client, config)
        except pftp.PftpError as exc:
            raise _device_error(client, exc) from None

    async def _status(self, client: BleakClient, config: LogConfig | None) -> LogStatus:
        active = await self._active(client)
        on = all(active.get(m, 0) & STATE_OFFLINE for m in (pl.TYPE_ACC, pl.TYPE_GYRO))
        async with self._pftp(client) as p:
            total, free = pftp.decode_disk_space(await p.query(pftp.Q_GET_DISK_SPACE))
            files = _recording_files(
                await p.list_recursive(), config.extra.get("before", []) if config else []
            )
        return LogStatus(
            logging=on,
            used_bytes=total - free,
            capacity_bytes=total,
            records=len(files),
            full=config is not None and not on,
            battery_pct=await pl.DRIVER.read_battery(client),
        )

    async def stop(self, client: BleakClient, config: LogConfig) -> None:
        for meas in (pl.TYPE_ACC, pl.TYPE_GYRO):
            resp = await self._cp(client, bytes([pl.CP_STOP, meas]), f"stop of {meas}")
            if resp[3] not in (0, 6):  # 6: already stopped (memory limit 2, switched off)
                log.warning("polar %s: stop of %d: PMD status %d", client.address, meas, resp[3])

    async def download(
        self,
        client: BleakClient,
        config: LogConfig,
        journal: Journal,
        progress: ProgressFn | None = None,
    ) -> None:
        try:
            await self._download(client, config, journal, progress)
        except pftp.PftpError as exc:
            raise _device_error(client, exc) from None

    async def _download(
        self,
        client: BleakClient,
        config: LogConfig,
        journal: Journal,
        progress: ProgressFn | None,
    ) -> None:
        have = decode_journal(journal.packets)
        async with self._pftp(client) as p:
            files = have.files
            if not files:
                files = _recording_files(await p.list_recursive(), config.extra.get("before", []))
                for rec in dir_records(files):
                    journal.append(rec)
                journal.sync()
            total = sum(s for _p, s in files) or 1
            done = sum(len(d) for d in have.complete.values())
            for idx, (path, _size) in enumerate(files):
                if idx in have.complete:
                    continue
                attempt = have.attempts.get(idx, -1) + 1
                offset = 0
                got = bytearray()

                def part(data: bytes, idx=idx, attempt=attempt, got=got) -> None:
                    nonlocal offset, done
                    if not data:
                        return
                    journal.append(chunk_record(idx, attempt, offset, data))
                    got.extend(data)
                    offset += len(data)
                    done += len(data)
                    if progress is not None:
                        progress(done, total)

                await p.request(pftp.GET, path, part)
                journal.append(done_record(idx, attempt, bytes(got)))
                journal.sync()

    async def erase(self, client: BleakClient, config: LogConfig, journal: Journal) -> None:
        files = decode_journal(journal.packets).files
        dirs: set[str] = set()
        async with self._pftp(client) as p:
            for path, _s in files:
                try:
                    await p.request(pftp.REMOVE, path)
                except pftp.PftpError as exc:
                    if exc.code != pftp.NO_SUCH_FILE:
                        raise DeviceError(f"polar {client.address}: {exc}") from None
                d = path.rsplit("/", 1)[0]
                while d.startswith(ROOT):
                    dirs.add(d + "/")
                    d = d.rsplit("/", 1)[0]
            for d in sorted(dirs, key=len, reverse=True):  # empty folders, deepest first
                with contextlib.suppress(pftp.PftpError):
                    if not pftp.decode_directory(await p.request(pftp.GET, d), d):
                        await p.request(pftp.REMOVE, d)

    def decode_log(self, packets: Sequence[bytes], config: LogConfig) -> LoggedSamples:
        return decode_log(packets, config)


#: The registered logging driver of the Verity Sense.
LOG_DRIVER = PolarLogDriver()
