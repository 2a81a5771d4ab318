"""On-clip logging of the runform DIY clip (``docs/protocol.md``, "Logging to flash").

Three characteristics in the clip service, next to config and data:

* log control ``7e1a0004-…`` (write with response; answers are notified on it): LOG_START,
  LOG_STOP, LOG_STATUS, LOG_READ, LOG_ERASE;
* log data ``7e1a0005-…`` (notify): one log record per notification during a LOG_READ;
* clock ``7e1a0006-…`` (read): the clip's µs clock (uint64), the one the records are stamped with.

A log record (in flash and on the air) is a 16-byte header (uint32 record number, uint64 µs
timestamp of the first sample, rate code, range byte, sample count, flags) and up to 19 samples
of 12 bytes (the streaming packet's sample layout): 244 bytes, one notification at an ATT MTU
of 247 and one 256-byte flash page. Record numbers count from 0 at LOG_START and never repeat,
so a download resumes at "the record after the last one I hold" and drops a record it sees
twice.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dsp.block import STANDARD_GRAVITY
from firmware_bridge.devices import diy
from firmware_bridge.devices._vendor import await_notification
from firmware_bridge.devices.base import DecodeError, StreamSettings, pick_range
from firmware_bridge.errors import DeviceError
from firmware_bridge.sensorlog.base import (
    LogConfig,
    LogDriver,
    LoggedSamples,
    LogStatus,
    ProgressFn,
)

if TYPE_CHECKING:
    from bleak import BleakClient

    from firmware_bridge.sensorlog.journal import Journal

__all__ = [
    "CLOCK_UUID",
    "LOG_CONTROL_UUID",
    "LOG_DATA_UUID",
    "RECORD_HEADER",
    "RECORD_SAMPLES",
    "DiyLogDriver",
    "LogRecord",
    "decode_record",
    "encode_record",
    "parse_answer",
]

log = logging.getLogger(__name__)

LOG_CONTROL_UUID = "7e1a0004-5f3c-4b8e-9a51-72756e666f72"
LOG_DATA_UUID = "7e1a0005-5f3c-4b8e-9a51-72756e666f72"
CLOCK_UUID = "7e1a0006-5f3c-4b8e-9a51-72756e666f72"

OP_LOG_START = 0x10
OP_LOG_STOP = 0x11
OP_LOG_STATUS = 0x12
OP_LOG_READ = 0x13
OP_LOG_ERASE = 0x14
ANSWER = 0x80  # an answer's first byte is the opcode | 0x80

ST_OK, ST_BAD_COMMAND, ST_BAD_PARAMETER, ST_BUSY = 0, 1, 2, 3
STATUS_TEXT = {0: "ok", 1: "unknown command", 2: "bad parameter", 3: "busy"}

FLAG_WRAP = 0x01  # LOG_START flags: overwrite the oldest records when full
REC_FIRST = 0x01  # record flags: first record after LOG_START
REC_LOSS = 0x02  # record flags: the IMU FIFO overran before this record (samples lost)

#: Record header: record number, µs timestamp of the first sample, rate code, range byte,
#: sample count, flags.
RECORD_HEADER = struct.Struct("<IQBBBB")
#: Samples per full record (244 bytes: one notification at MTU 247, one 256-byte flash page).
RECORD_SAMPLES = 19
RECORD_BYTES = RECORD_HEADER.size + RECORD_SAMPLES * diy.SAMPLE.size
_START = struct.Struct("<BHBHB")
#: LOG_STATUS answer: 0x92, status, flags (bit 0 logging, bit 1 wrap, bit 2 full), capacity
#: bytes, used bytes, first record, next record, records overwritten, record size.
STATUS_ANSWER = struct.Struct("<BBBIIIIIH")
_READ = struct.Struct("<BII")
_ERASE = struct.Struct("<BI")
_U32 = struct.Struct("<I")


@dataclass(frozen=True)
class LogRecord:
    """One decoded log record (raw counts kept for the round trip tests)."""

    number: int
    timestamp_us: int
    rate_hz: float
    acc_range_g: float
    gyr_range_dps: float
    flags: int
    counts: np.ndarray  # (N, 6) int16


def encode_record(
    number: int,
    timestamp_us: int,
    counts: np.ndarray,
    rate_hz: float,
    acc_range_g: float,
    gyr_range_dps: float,
    flags: int = 0,
) -> bytes:
    """One log record's bytes (what the firmware writes to flash and notifies)."""
    counts = np.asarray(counts, dtype="<i2").reshape(-1, 6)
    if not 1 <= counts.shape[0] <= RECORD_SAMPLES:
        raise ValueError(f"a log record holds 1..{RECORD_SAMPLES} samples, got {counts.shape[0]}")
    ranges = diy.ACC_RANGES_G.index(acc_range_g) | (diy.GYR_RANGES_DPS.index(gyr_range_dps) << 4)
    head = RECORD_HEADER.pack(
        number & 0xFFFFFFFF,
        timestamp_us & 0xFFFFFFFFFFFFFFFF,
        diy.RATES_HZ.index(rate_hz),
        ranges,
        counts.shape[0],
        flags & 0xFF,
    )
    return head + counts.tobytes()


def decode_record(packet: bytes) -> LogRecord:
    """Decode one log record; pure, raises only :class:`DecodeError`."""
    if len(packet) < RECORD_HEADER.size:
        raise DecodeError(
            f"runform-diy log record: {len(packet)} bytes, expected at least {RECORD_HEADER.size}"
        )
    number, ts, rate_code, ranges, n, flags = RECORD_HEADER.unpack_from(packet)
    acc_code, gyr_code = ranges & 0x0F, ranges >> 4
    if rate_code >= len(diy.RATES_HZ):
        raise DecodeError(f"runform-diy log record {number}: rate code {rate_code} unknown")
    if acc_code >= len(diy.ACC_RANGES_G) or gyr_code >= len(diy.GYR_RANGES_DPS):
        raise DecodeError(f"runform-diy log record {number}: range byte 0x{ranges:02x} unknown")
    if not 1 <= n <= RECORD_SAMPLES or len(packet) != RECORD_HEADER.size + n * diy.SAMPLE.size:
        raise DecodeError(
            f"runform-diy log record {number}: {len(packet)} bytes for {n} samples, expected "
            f"{RECORD_HEADER.size + n * diy.SAMPLE.size} and 1 <= N <= {RECORD_SAMPLES}"
        )
    counts = np.frombuffer(packet, dtype="<i2", offset=RECORD_HEADER.size).reshape(n, 6)
    return LogRecord(
        number=number,
        timestamp_us=ts,
        rate_hz=diy.RATES_HZ[rate_code],
        acc_range_g=diy.ACC_RANGES_G[acc_code],
        gyr_range_dps=diy.GYR_RANGES_DPS[gyr_code],
        flags=flags,
        counts=counts,
    )


def parse_answer(raw: bytes, op: int) -> bytes:
    """The payload after ``[op | 0x80, status]`` of a control answer; raises on a bad status.

    Raises
    ------
    DecodeError
        Not an answer to ``op``.
    DeviceError
        The clip refused (status ≠ 0).
    """
    if len(raw) < 2 or raw[0] != (op | ANSWER):
        raise DecodeError(f"runform-diy log answer {raw.hex()}: expected 0x{op | ANSWER:02x} ..")
    if raw[1] != ST_OK:
        raise DeviceError(
            f"runform-diy: log command 0x{op:02x} refused ({STATUS_TEXT.get(raw[1], raw[1])})"
        )
    return raw[2:]


def decode_status(raw: bytes) -> LogStatus:
    """A LOG_STATUS answer → :class:`LogStatus` (battery not included)."""
    if len(raw) != STATUS_ANSWER.size:
        raise DecodeError(f"runform-diy log status of {len(raw)} bytes, expected 23")
    _, st, flags, cap, used, first, nxt, over, _rec = STATUS_ANSWER.unpack(raw)
    if st != ST_OK:
        raise DeviceError(f"runform-diy: log status refused ({STATUS_TEXT.get(st, st)})")
    return LogStatus(
        logging=bool(flags & 1),
        used_bytes=used,
        capacity_bytes=cap,
        records=nxt - first,
        overwritten=over,
        full=bool(flags & 4),
    )


def decode_records(packets: Sequence[bytes], rate_hz: float) -> LoggedSamples:
    """Pure: the samples of a set of log records in any order, each record number once.

    Bad packets are skipped (logged); a record seen twice (a resumed download) is counted in
    ``duplicates``. Records lost before the first one held (wrap-around) are counted in
    ``overwritten`` when the first record held is not record 0.
    """
    by_number: dict[int, LogRecord] = {}
    dup = bad = 0
    for p in packets:
        try:
            r = decode_record(p)
        except DecodeError as exc:
            bad += 1
            log.debug("%s", exc)
            continue
        if r.number in by_number:
            dup += 1
            continue
        by_number[r.number] = r
    if bad:
        log.warning("runform-diy log: %d undecodable packets skipped", bad)
    recs = [by_number[k] for k in sorted(by_number)]
    if not recs:
        e = np.empty(0)
        return LoggedSamples(
            e, np.empty((0, 3)), np.empty((0, 3)), e.astype(np.uint32), e.astype(int), 0, dup
        )
    t_parts, acc_parts, gyr_parts = [], [], []
    for r in recs:
        n = r.counts.shape[0]
        t_parts.append(r.timestamp_us * 1e-6 + np.arange(n) / r.rate_hz)
        acc_parts.append(r.counts[:, :3] * (r.acc_range_g * STANDARD_GRAVITY / 32768.0))
        gyr_parts.append(r.counts[:, 3:] * (r.gyr_range_dps / 32768.0))
    t = np.concatenate(t_parts)
    acc = np.concatenate(acc_parts)
    gyr = np.concatenate(gyr_parts)
    keep = np.concatenate([[True], np.diff(t) > 0])  # a corrupt clock must not reorder samples
    t, acc, gyr = t[keep], acc[keep], gyr[keep]
    seq = np.rint((t - t[0]) * rate_hz).astype(np.int64)
    overwritten = recs[0].number * RECORD_SAMPLES if not recs[0].flags & REC_FIRST else 0
    return LoggedSamples(
        device_time_s=t,
        acc=acc,
        gyr=gyr,
        seq=(seq & 0xFFFFFFFF).astype(np.uint32),
        epoch=np.zeros(len(t), dtype=int),
        overwritten=int(overwritten),
        duplicates=dup,
    )


class DiyLogDriver(LogDriver):
    """Logging to the DIY clip's flash (see the module docstring)."""

    name = "runform-diy"
    #: Records asked for per LOG_READ (the journal is fsynced after each).
    chunk_records = 256

    async def _command(self, client: BleakClient, payload: bytes, what: str, timeout_s=10.0):
        op = payload[0]
        raw = await await_notification(
            client,
            LOG_CONTROL_UUID,
            payload,
            LOG_CONTROL_UUID,
            lambda b: len(b) >= 2 and b[0] == (op | ANSWER),
            device=f"runform-diy {client.address}",
            what=what,
            timeout_s=timeout_s,
        )
        return raw

    def _check_service(self, client: BleakClient) -> None:
        services = getattr(client, "services", None)
        if services is None or services.get_characteristic(LOG_CONTROL_UUID) is None:
            raise DeviceError(
                f"runform-diy {client.address}: no log control characteristic "
                f"({LOG_CONTROL_UUID}); the clip's firmware cannot log (update it, "
                "docs/firmware/)"
            )

    async def arm(self, client: BleakClient, settings: StreamSettings, *, wrap: bool) -> LogConfig:
        self._check_service(client)
        rate = diy.DRIVER.pick_rate(settings.rate_hz)
        acc = pick_range(diy.ACC_RANGES_G, settings.acc_range_g)
        gyr = pick_range(diy.GYR_RANGES_DPS, settings.gyr_range_dps)
        await self._command(client, bytes([OP_LOG_STOP]), "log stop")
        parse_answer(
            await self._command(client, _ERASE.pack(OP_LOG_ERASE, 0xFFFFFFFF), "log erase"),
            OP_LOG_ERASE,
        )
        start = _START.pack(OP_LOG_START, round(rate), round(acc), round(gyr), FLAG_WRAP * wrap)
        parse_answer(await self._command(client, start, "log start"), OP_LOG_START)
        st = await self.status(client, None)
        if not st.logging:
            raise DeviceError(f"runform-diy {client.address}: logging did not start")
        return LogConfig(rate_hz=rate, acc_range_g=acc, gyr_range_dps=gyr, wrap=wrap)

    async def read_clock(self, client: BleakClient) -> tuple[float, int]:
        raw = bytes(await client.read_gatt_char(CLOCK_UUID))
        if len(raw) != 8:
            raise DeviceError(
                f"runform-diy {client.address}: clock of {len(raw)} bytes, expected 8"
            )
        return int.from_bytes(raw, "little") * 1e-6, 0

    async def status(self, client: BleakClient, config: LogConfig | None) -> LogStatus:
        self._check_service(client)
        raw = await self._command(client, bytes([OP_LOG_STATUS]), "log status")
        st = decode_status(raw)
        batt = await diy.DRIVER.read_battery(client)
        return LogStatus(**{**st.__dict__, "battery_pct": batt})

    async def stop(self, client: BleakClient, config: LogConfig) -> None:
        parse_answer(await self._command(client, bytes([OP_LOG_STOP]), "log stop"), OP_LOG_STOP)

    async def download(
        self,
        client: BleakClient,
        config: LogConfig,
        journal: Journal,
        progress: ProgressFn | None = None,
    ) -> None:
        self._check_service(client)
        raw = await self._command(client, bytes([OP_LOG_STATUS]), "log status")
        _, _, _, _, _, first, nxt, _, _ = STATUS_ANSWER.unpack(raw)
        held = {decode_record(p).number for p in journal.packets if _decodes(p)}
        start = max(first, max(held) + 1 if held else first)
        total = nxt - first
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        await client.start_notify(LOG_DATA_UUID, lambda _c, d: queue.put_nowait(bytes(d)))
        try:
            while start < nxt:
                count = min(self.chunk_records, nxt - start)
                answer = await self._command(
                    client,
                    _READ.pack(OP_LOG_READ, start, count),
                    f"log read of records {start}..{start + count - 1}",
                    timeout_s=30.0 + count * 0.05,
                )
                (next_unread,) = _U32.unpack(parse_answer(answer, OP_LOG_READ)[:4])
                # the answer follows the records on the same connection: all have arrived
                while not queue.empty():
                    journal.append(queue.get_nowait())
                journal.sync()
                if next_unread <= start:
                    raise DeviceError(
                        f"runform-diy {client.address}: log read from record {start} "
                        "returned nothing"
                    )
                start = next_unread
                if progress is not None:
                    progress(start - first, total)
        finally:
            while not queue.empty():
                journal.append(queue.get_nowait())
            journal.sync()
            try:
                await client.stop_notify(LOG_DATA_UUID)
            except Exception as exc:  # the link may be gone
                log.debug("stop_notify failed: %s", exc)

    async def erase(self, client: BleakClient, config: LogConfig, journal: Journal) -> None:
        numbers = [decode_record(p).number for p in journal.packets if _decodes(p)]
        upto = max(numbers) + 1 if numbers else 0
        parse_answer(
            await self._command(client, _ERASE.pack(OP_LOG_ERASE, upto), "log erase"),
            OP_LOG_ERASE,
        )

    def decode_log(self, packets: Sequence[bytes], config: LogConfig) -> LoggedSamples:
        return decode_records(packets, config.rate_hz)


def _decodes(p: bytes) -> bool:
    try:
        decode_record(p)
    except DecodeError:
        return False
    return True


#: The registered logging driver of the DIY clip.
LOG_DRIVER = DiyLogDriver()
