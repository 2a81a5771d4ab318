"""On-board logging of MbientLab MetaWear / MetaMotion boards (logging module ``0x0B``).

Protocol facts from MbientLab's MetaWear-SDK-Cpp (``src/metawear/core/cpp/logging.cpp``,
``logging_register.h``) and its logging documentation (see ``docs/devices.md``):

* registers of module ``0x0B``: ENABLE 1, TRIGGER 2 (add a logger), REMOVE 3, TIME 4, LENGTH 5,
  READOUT 6, READOUT_NOTIFY 7, READOUT_PROGRESS 8, REMOVE_ENTRIES 9, REMOVE_ALL 0x0A,
  CIRCULAR_BUFFER 0x0B, READOUT_PAGE_COMPLETED 0x0D, READOUT_PAGE_CONFIRM 0x0E; reading a register
  is writing it with bit 7 set, the answer is notified with the same two header bytes;
* a logger stores 4 bytes of a data signal per entry: ``0B 02 module register data_id
  ((size − 1) << 5 | offset)`` is answered ``0B 02 entry_id``; a 6-byte acc or gyro triplet
  needs two loggers (offset 0 size 4, offset 4 size 2);
* a log entry is 9 bytes: ``entry_id | reset_uid << 5``, uint32 tick (48/32768 s), 4 data bytes;
  a READOUT_NOTIFY notification carries one or two entries (11 or 20 bytes);
* TIME read ``0B 84`` → ``0B 84 tick(uint32) reset_uid``; LENGTH read ``0B 85`` → entries;
  READOUT ``0B 06 n_entries(uint32) n_notify(uint32)`` → entries, progress ``0B 08
  entries_left(uint32)`` (0 at the end), and on extended-logging firmware ``0B 0D`` after each
  page, which the host confirms with ``0B 0E``;
* start ``0B 0B overwrite`` + ``0B 01 01``, stop ``0B 01 00``, erase ``0B 09 ff ff ff ff``;
  on a MetaMotion S (logging module revision 3, read from the module info ``0B 80``) the last,
  partial NAND page is written to flash by ``0B 10 01`` (PAGE_FLUSH) before a download.

runform journals every READOUT_NOTIFY packet and fsyncs the journal before confirming a page, so
the board can never forget an entry the host has not stored. A resumed readout may repeat
entries: :func:`decode_entries` keeps each (logger, reset, tick) once.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from dsp.block import STANDARD_GRAVITY
from firmware_bridge.devices import metawear as mw
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
from firmware_bridge.sensorlog.timebase import ClockRead

if TYPE_CHECKING:
    from bleak import BleakClient

    from firmware_bridge.sensorlog.journal import Journal

__all__ = [
    "ENTRY",
    "MODULE_LOGGING",
    "TICK_S",
    "MetaWearLogDriver",
    "decode_entries",
    "encode_entry",
    "readout_packet",
]

log = logging.getLogger(__name__)

MODULE_LOGGING = 0x0B
ENABLE, TRIGGER, REMOVE, TIME, LENGTH, READOUT = 1, 2, 3, 4, 5, 6
READOUT_NOTIFY, READOUT_PROGRESS, REMOVE_ENTRIES, REMOVE_ALL, CIRCULAR_BUFFER = 7, 8, 9, 10, 11
PAGE_COMPLETED, PAGE_CONFIRM, PAGE_FLUSH = 0x0D, 0x0E, 0x10
#: Logging module revisions: 2 = extended logging (page handshake), 3 = MetaMotion S (NAND
#: pages of 512 entries; the last, partial page is written by a PAGE_FLUSH before a download).
REVISION_EXTENDED, REVISION_MMS = 2, 3
READ = 0x80
#: One log tick, s (48 / 32768 s ≈ 1.465 ms).
TICK_S = 48.0 / 32768.0
#: A log entry: id | reset uid << 5, uint32 tick, 4 data bytes.
ENTRY = struct.Struct("<BI4s")
#: Data signal ids of the acc and gyro data registers (no data id: 0xFF).
NO_DATA_ID = 0xFF
#: Bytes a logged acc + gyro sample takes (four entries).
BYTES_PER_SAMPLE = 4 * ENTRY.size


def encode_entry(entry_id: int, reset_uid: int, tick: int, data: bytes) -> bytes:
    """One 9-byte log entry."""
    return ENTRY.pack((entry_id & 0x1F) | ((reset_uid & 0x7) << 5), tick & 0xFFFFFFFF, data)


def readout_packet(entries: Sequence[bytes]) -> bytes:
    """A READOUT_NOTIFY notification carrying one or two entries."""
    if not 1 <= len(entries) <= 2:
        raise ValueError("a readout notification carries 1 or 2 entries")
    return bytes([MODULE_LOGGING, READOUT_NOTIFY]) + b"".join(entries)


def _entries(packet: bytes) -> list[tuple[int, int, int, bytes]]:
    if len(packet) not in (2 + ENTRY.size, 2 + 2 * ENTRY.size) or packet[:2] != bytes(
        [MODULE_LOGGING, READOUT_NOTIFY]
    ):
        raise DecodeError(
            f"metawear log readout packet {packet[:2].hex()}.. of {len(packet)} bytes: expected "
            "0b 07 and 1 or 2 entries of 9 bytes"
        )
    out = []
    for off in range(2, len(packet), ENTRY.size):
        head, tick, data = ENTRY.unpack_from(packet, off)
        out.append((head & 0x1F, head >> 5, tick, data))
    return out


def _fit_times(ticks_s: np.ndarray, rate_hz: float) -> np.ndarray:
    """Sample times from whole-tick stamps: a line through each unbroken run of samples (the
    IMU's output data rate is steady; the 1.465 ms tick quantum averages out)."""
    t = ticks_s.copy()
    if len(t) < 3:
        return t
    breaks = np.flatnonzero(np.diff(ticks_s) > 1.5 / rate_hz) + 1
    for seg in np.split(np.arange(len(t)), breaks):
        if len(seg) >= 3:
            i = np.arange(len(seg), dtype=np.float64)
            b, a = np.polyfit(i, ticks_s[seg], 1)
            t[seg] = a + b * i
    return t


def decode_entries(packets: Sequence[bytes], config: LogConfig) -> LoggedSamples:
    """Pure: acc + gyro samples of READOUT_NOTIFY packets (any order, repeats dropped).

    ``config.extra`` names the loggers: ``acc_ids`` (offset 0 / 4) and ``gyr_ids``, and the
    chip's scale comes from the ranges. Acc and gyro halves are joined by their tick, acc and
    gyro samples are paired by tick (within half a sample period).
    """
    acc_ids = [int(x) for x in config.extra.get("acc_ids", ())]
    gyr_ids = [int(x) for x in config.extra.get("gyr_ids", ())]
    if len(acc_ids) != 2 or len(gyr_ids) != 2:
        raise DecodeError("metawear log: the arm state names no acc/gyro loggers")
    seen: dict[tuple[int, int, int], bytes] = {}
    dup = bad = 0
    for p in packets:
        try:
            ents = _entries(p)
        except DecodeError:
            bad += 1
            continue
        for eid, reset, tick, data in ents:
            key = (eid, reset, tick)
            if key in seen:
                dup += 1
            else:
                seen[key] = data
    if bad:
        log.warning("metawear log: %d undecodable packets skipped", bad)

    rate = config.rate_hz
    half = max(1, round(0.5 / rate / TICK_S))

    def triplets(ids: list[int]) -> dict[tuple[int, int], np.ndarray]:
        """Join each sample's two halves (their ticks may differ by one or two: the board
        stamps each entry as it writes it), within half a sample period."""
        out = {}
        for reset in {k[1] for k in seen}:
            first = sorted(k[2] for k in seen if k[0] == ids[0] and k[1] == reset)
            second = np.array(
                sorted(k[2] for k in seen if k[0] == ids[1] and k[1] == reset), dtype=np.int64
            )
            if not len(second):
                continue
            for tk in first:
                j = int(np.searchsorted(second, tk))
                near = [i for i in (j - 1, j) if 0 <= i < len(second)]
                i = min(near, key=lambda i: abs(int(second[i]) - tk))
                if abs(int(second[i]) - tk) > half:
                    continue
                lo = seen[(ids[0], reset, tk)]
                hi = seen[(ids[1], reset, int(second[i]))]
                out[(reset, tk)] = np.frombuffer(lo + hi[:2], dtype="<i2").astype(np.float64)
        return out

    acc = triplets(acc_ids)
    gyr = triplets(gyr_ids)
    gyr_by_reset: dict[int, list[int]] = {}
    for r, tk in gyr:
        gyr_by_reset.setdefault(r, []).append(tk)
    gyr_ticks = {r: np.array(sorted(v), dtype=np.int64) for r, v in gyr_by_reset.items()}
    rows = []
    for (r, tk), a in sorted(acc.items()):
        g_ticks = gyr_ticks.get(r)
        if g_ticks is None or not len(g_ticks):
            continue
        j = int(np.searchsorted(g_ticks, tk))
        cands = [k for k in (j - 1, j) if 0 <= k < len(g_ticks)]
        k = min(cands, key=lambda k: abs(int(g_ticks[k]) - tk))
        if abs(int(g_ticks[k]) - tk) <= half:
            rows.append((r, tk, a, gyr[(r, int(g_ticks[k]))]))
    if not rows:
        e = np.empty(0)
        return LoggedSamples(
            e, np.empty((0, 3)), np.empty((0, 3)), e.astype(np.uint32), e.astype(int), 0, dup
        )
    epoch = np.array([r[0] for r in rows], dtype=int)
    ticks_s = np.array([r[1] for r in rows], dtype=np.float64) * TICK_S
    acc_raw = np.stack([r[2] for r in rows])
    gyr_raw = np.stack([r[3] for r in rows])
    t = np.empty_like(ticks_s)
    for e in np.unique(epoch):
        m = epoch == e
        t[m] = _fit_times(ticks_s[m], rate)
    keep = np.concatenate([[True], np.diff(t) > 0]) | (np.diff(epoch, prepend=epoch[0]) != 0)
    t, epoch, acc_raw, gyr_raw = t[keep], epoch[keep], acc_raw[keep], gyr_raw[keep]
    seq = np.rint((t - t[0]) * rate).astype(np.int64)
    return LoggedSamples(
        device_time_s=t,
        acc=acc_raw * (STANDARD_GRAVITY / mw.ACC_LSB_PER_G[config.acc_range_g]),
        gyr=gyr_raw / mw.GYR_LSB_PER_DPS[config.gyr_range_dps],
        seq=(seq & 0xFFFFFFFF).astype(np.uint32),
        epoch=epoch,
        overwritten=0,
        duplicates=dup,
    )


class MetaWearLogDriver(LogDriver):
    """Logging acc + gyro on a MetaWear / MetaMotion board's flash."""

    name = "metawear"
    #: Seconds without a readout packet before the download counts as interrupted.
    readout_timeout_s = 10.0

    async def _write(self, client: BleakClient, payload: bytes) -> None:
        await client.write_gatt_char(mw.METAWEAR_COMMAND_UUID, payload, response=True)

    async def _ask(self, client: BleakClient, payload: bytes, what: str) -> bytes:
        head = payload[:2]
        return await await_notification(
            client,
            mw.METAWEAR_COMMAND_UUID,
            payload,
            mw.METAWEAR_NOTIFY_UUID,
            lambda b: b[:2] == head,
            device=f"metawear {client.address}",
            what=what,
        )

    async def arm(self, client: BleakClient, settings: StreamSettings, *, wrap: bool) -> LogConfig:
        chip = await mw.DRIVER._chip(client)
        rate = mw.DRIVER.pick_rate(settings.rate_hz)
        acc_range = pick_range(mw.ACC_RANGES_G, settings.acc_range_g)
        gyr_range = pick_range(mw.GYR_RANGES_DPS, settings.gyr_range_dps)
        for cmd in (
            [MODULE_LOGGING, ENABLE, 0],
            [MODULE_LOGGING, REMOVE_ALL],
            [MODULE_LOGGING, REMOVE_ENTRIES, 0xFF, 0xFF, 0xFF, 0xFF],
            [mw.MODULE_ACC, mw.REG_DATA_CONFIG, *mw.acc_config_bytes(chip, rate, acc_range)],
            [mw.MODULE_GYRO, mw.REG_DATA_CONFIG, *mw.gyr_config_bytes(rate, gyr_range)],
        ):
            await self._write(client, bytes(cmd))
        info = await self._ask(client, bytes([MODULE_LOGGING, READ]), "logging module info")
        revision = info[3] if len(info) > 3 else 0
        ids: dict[str, list[int]] = {"acc_ids": [], "gyr_ids": []}
        signals = (
            ("acc_ids", mw.MODULE_ACC, mw.REG_ACC_DATA),
            ("gyr_ids", mw.MODULE_GYRO, mw.GYRO_DATA_REGISTER[chip]),
        )
        for key, module, register in signals:
            for offset, size in ((0, 4), (4, 2)):
                spec = ((size - 1) << 5) | offset
                raw = await self._ask(
                    client,
                    bytes([MODULE_LOGGING, TRIGGER, module, register, NO_DATA_ID, spec]),
                    f"logger for module 0x{module:02x} bytes {offset}-{offset + size - 1}",
                )
                if len(raw) < 3:
                    raise DeviceError(f"metawear {client.address}: no logger id in {raw.hex()}")
                ids[key].append(raw[2])
        for cmd in (
            [mw.MODULE_ACC, mw.REG_DATA_INTERRUPT_ENABLE, 1, 0],
            [mw.MODULE_GYRO, mw.REG_DATA_INTERRUPT_ENABLE, 1, 0],
            [mw.MODULE_ACC, mw.REG_POWER_MODE, 1],
            [mw.MODULE_GYRO, mw.REG_POWER_MODE, 1],
            [MODULE_LOGGING, CIRCULAR_BUFFER, int(wrap)],
            [MODULE_LOGGING, ENABLE, 1],
        ):
            await self._write(client, bytes(cmd))
        return LogConfig(
            rate_hz=rate,
            acc_range_g=acc_range,
            gyr_range_dps=gyr_range,
            wrap=wrap,
            extra={"chip": chip, "revision": revision, **ids},
        )

    async def read_clocks(
        self, client: BleakClient, host_clock: Callable[[], float], n: int
    ) -> list[ClockRead]:
        """TIME reads; the answer's arrival is stamped in the notification callback."""
        loop = asyncio.get_running_loop()
        pending: list[asyncio.Future[tuple[float, bytes]]] = []

        def on_notify(_c: object, data: bytearray) -> None:
            b = bytes(data)
            if b[:2] == bytes([MODULE_LOGGING, READ | TIME]) and pending and not pending[-1].done():
                pending[-1].set_result((host_clock(), b))

        out = []
        await client.start_notify(mw.METAWEAR_NOTIFY_UUID, on_notify)
        try:
            for _ in range(n):
                fut: asyncio.Future[tuple[float, bytes]] = loop.create_future()
                pending.append(fut)
                h0 = host_clock()
                await client.write_gatt_char(
                    mw.METAWEAR_COMMAND_UUID, bytes([MODULE_LOGGING, READ | TIME]), response=False
                )
                try:
                    h1, raw = await asyncio.wait_for(fut, 5.0)
                except TimeoutError:
                    raise DeviceError(
                        f"metawear {client.address}: no answer to a log time read"
                    ) from None
                if len(raw) < 7:
                    raise DeviceError(f"metawear {client.address}: log time answer {raw.hex()}")
                tick = int.from_bytes(raw[2:6], "little")
                out.append(ClockRead(h0, h1, tick * TICK_S, raw[6] & 0x7))
        finally:
            try:
                await client.stop_notify(mw.METAWEAR_NOTIFY_UUID)
            except Exception as exc:  # the link may be gone
                log.debug("stop_notify failed: %s", exc)
        return out

    async def read_clock(self, client: BleakClient) -> tuple[float, int]:
        raw = await self._ask(client, bytes([MODULE_LOGGING, READ | TIME]), "log time read")
        if len(raw) < 7:
            raise DeviceError(f"metawear {client.address}: log time answer {raw.hex()}")
        tick = int.from_bytes(raw[2:6], "little")
        return tick * TICK_S, raw[6] & 0x7

    async def _length(self, client: BleakClient) -> int:
        raw = await self._ask(client, bytes([MODULE_LOGGING, READ | LENGTH]), "log length read")
        return int.from_bytes(raw[2:6], "little")

    async def status(self, client: BleakClient, config: LogConfig | None) -> LogStatus:
        n = await self._length(client)
        try:
            en = await self._ask(client, bytes([MODULE_LOGGING, READ | ENABLE]), "log state")
            logging_on = len(en) > 2 and bool(en[2])
        except DeviceError:
            logging_on = config is not None
        return LogStatus(
            logging=logging_on,
            used_bytes=n * ENTRY.size,
            capacity_bytes=0,  # the board does not report it (docs/devices.md)
            records=n,
            battery_pct=await mw.DRIVER.read_battery(client),
        )

    async def stop(self, client: BleakClient, config: LogConfig) -> None:
        await self._write(client, bytes([MODULE_LOGGING, ENABLE, 0]))
        for module in (mw.MODULE_ACC, mw.MODULE_GYRO):
            await self._write(client, bytes([module, mw.REG_POWER_MODE, 0]))
        if config.extra.get("revision") == REVISION_MMS:  # the last NAND page to flash
            await self._write(client, bytes([MODULE_LOGGING, PAGE_FLUSH, 1]))

    async def download(
        self,
        client: BleakClient,
        config: LogConfig,
        journal: Journal,
        progress: ProgressFn | None = None,
    ) -> None:
        queue: asyncio.Queue[bytes] = asyncio.Queue()

        def on_notify(_c: object, data: bytearray) -> None:
            if len(data) >= 2 and data[0] == MODULE_LOGGING:
                queue.put_nowait(bytes(data))

        n = await self._length(client)
        if n == 0:
            return
        await client.start_notify(mw.METAWEAR_NOTIFY_UUID, on_notify)
        try:
            for reg in (PAGE_COMPLETED, READOUT_NOTIFY, READOUT_PROGRESS):
                await self._write(client, bytes([MODULE_LOGGING, reg, 1]))
            every = max(1, n // 100)
            await self._write(
                client,
                bytes([MODULE_LOGGING, READOUT])
                + n.to_bytes(4, "little")
                + every.to_bytes(4, "little"),
            )
            while True:
                p = await asyncio.wait_for(queue.get(), self.readout_timeout_s)
                reg = p[1]
                if reg == READOUT_NOTIFY:
                    journal.append(p)
                elif reg == PAGE_COMPLETED:
                    journal.sync()  # stored before the board may drop the page
                    await client.write_gatt_char(
                        mw.METAWEAR_COMMAND_UUID,
                        bytes([MODULE_LOGGING, PAGE_CONFIRM]),
                        response=False,
                    )
                elif reg == READOUT_PROGRESS and len(p) >= 6:
                    left = int.from_bytes(p[2:6], "little")
                    if progress is not None:
                        progress(n - left, n)
                    if left == 0:
                        break
        finally:
            journal.sync()
            try:
                await client.stop_notify(mw.METAWEAR_NOTIFY_UUID)
            except Exception as exc:  # the link may be gone
                log.debug("stop_notify failed: %s", exc)

    async def erase(self, client: BleakClient, config: LogConfig, journal: Journal) -> None:
        await self._write(client, bytes([MODULE_LOGGING, REMOVE_ENTRIES, 0xFF, 0xFF, 0xFF, 0xFF]))
        await self._write(client, bytes([MODULE_LOGGING, REMOVE_ALL]))

    def decode_log(self, packets: Sequence[bytes], config: LogConfig) -> LoggedSamples:
        return decode_entries(packets, config)


#: The registered logging driver of MetaWear boards.
LOG_DRIVER = MetaWearLogDriver()
