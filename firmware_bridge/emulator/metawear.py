"""An emulated MbientLab MetaMotion board (BMI160 or BMI270) on the virtual link: streaming
and on-board logging (module 0x0B, ``firmware_bridge/sensorlog/metawear.py``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import numpy as np

from dsp.block import STANDARD_GRAVITY
from firmware_bridge.devices import metawear as mw
from firmware_bridge.emulator._vendor import VendorPeripheral, char, notify_now
from firmware_bridge.emulator.base import EmulatedPeripheral, SampleChunk
from firmware_bridge.emulator.flash import LogSampler, SlotFlash
from firmware_bridge.sensorlog import metawear as mlog

__all__ = ["EmulatedMetaWear"]

log = logging.getLogger(__name__)

#: Module implementation ids answered to a module-info read (``[module, 0x80]``).
_IMPL = {
    "bmi160": {mw.MODULE_ACC: 1, mw.MODULE_GYRO: 0},
    "bmi270": {mw.MODULE_ACC: 4, mw.MODULE_GYRO: 1},
}


class EmulatedMetaWear(VendorPeripheral):
    """A MetaMotion R (``chip="bmi160"``, model number "5") or S (``"bmi270"``, model "8").

    Understands the accelerometer and gyroscope module commands the driver sends (data config,
    data subscribe, interrupt enable, power mode, module-info reads) and streams packed acc and
    packed gyro notifications (three int16 triplets each) at the configured rate once both
    sensors are powered. No timestamps, no counters: like the real board.
    """

    device_model = "metawear"
    advertised_service_uuids = (mw.METAWEAR_SERVICE_UUID,)

    def __init__(
        self,
        link: Any,
        *,
        chip: str = "bmi160",
        log_entries: int = 1_000_000,
        page_entries: int = 512,
        log_packets_per_event: int = 6,
        **kwargs: Any,
    ) -> None:
        if chip not in mw.PACKED_REGISTERS:
            raise ValueError(f"metawear emulator chip {chip!r}: expected bmi160 or bmi270")
        kwargs.setdefault("name", "MetaWear")
        super().__init__(link, **kwargs)
        self.chip = chip
        self.model_number = "8" if chip == "bmi270" else "5"
        self._notify: Any = None
        self.acc_rate_hz, self.acc_range_g = 100.0, 16.0
        self.gyr_rate_hz, self.gyr_range_dps = 100.0, 2000.0
        self.powered = {mw.MODULE_ACC: False, mw.MODULE_GYRO: False}
        self.subscribed: set[tuple[int, int]] = set()
        # --- logging (module 0x0B) ---
        #: Log memory in entries (9 bytes each); the page size of the readout handshake.
        self.flash = SlotFlash(log_entries, mlog.ENTRY.size)
        self.page_entries = int(page_entries)
        self.log_packets_per_event = int(log_packets_per_event)
        self.reset_uid = 0
        self.loggers: dict[int, tuple[int, int, int, int]] = {}  # id → module, reg, offset, size
        self.log_enabled = False
        self.log_wrap = False
        self.log_sampler: LogSampler | None = None
        self._log_tau0 = 0.0
        self._log_stopped_at: float | None = None
        self._readout_flags: set[int] = set()
        self._readout_task: asyncio.Task[None] | None = None
        self._page_confirmed = asyncio.Event()
        self.log_truth_tau: list[np.ndarray] = []
        self.log_truth_t: list[np.ndarray] = []
        self._truth_dropped = 0  # samples overwritten (wrap) since logging started
        #: Logging module revision: 3 on the MetaMotion S (NAND: entries wait in a RAM page of
        #: ``page_entries`` until it is full or flushed), 2 on the others.
        self.log_revision = mlog.REVISION_MMS if chip == "bmi270" else mlog.REVISION_EXTENDED
        self._page_buf: list[bytes] = []

    async def start(self) -> EmulatedPeripheral:
        # the Device Information model number (which the base fills from ``device_model``)
        # tells the central which chip this board has
        self.device_model = self.model_number  # type: ignore[misc]
        try:
            return await super().start()
        finally:
            del self.device_model

    def gatt_services(self) -> list[Any]:
        from bumble.gatt import Characteristic, CharacteristicValue, Service

        props = Characteristic.Properties
        cmd = char(
            mw.METAWEAR_COMMAND_UUID,
            props.READ | props.WRITE | props.WRITE_WITHOUT_RESPONSE,
            CharacteristicValue(write=self._on_command),
            writeable=True,
        )
        self._notify = char(mw.METAWEAR_NOTIFY_UUID, props.NOTIFY)
        return [Service(mw.METAWEAR_SERVICE_UUID, [cmd, self._notify])]

    def _on_command(self, connection: Any, value: bytes) -> None:
        v = bytes(value)
        self.commands.append(v)
        if v and v[0] == mlog.MODULE_LOGGING:
            self._on_logging(v)
            return
        if len(v) < 2 or v[0] not in (mw.MODULE_ACC, mw.MODULE_GYRO):
            return
        module, reg, body = v[0], v[1], v[2:]
        if reg == 0x80:  # module info read
            notify_now(self, self._notify, bytes([module, 0x80, _IMPL[self.chip][module], 1]))
            return
        acc_reg, gyr_reg = mw.PACKED_REGISTERS[self.chip]
        try:
            if reg == mw.REG_DATA_CONFIG and len(body) == 2:
                if module == mw.MODULE_ACC:
                    self.acc_rate_hz, self.acc_range_g = mw.parse_acc_config(self.chip, body)
                else:
                    self.gyr_rate_hz, self.gyr_range_dps = mw.parse_gyr_config(body)
            elif reg in (acc_reg if module == mw.MODULE_ACC else gyr_reg,) and len(body) == 1:
                if body[0]:
                    self.subscribed.add((module, reg))
                else:
                    self.subscribed.discard((module, reg))
            elif reg == mw.REG_POWER_MODE and len(body) == 1:
                self.powered[module] = bool(body[0])
                self._update_stream()
                self._update_logging()
        except ValueError as exc:
            log.debug("%s: ignored command %s: %s", self.name, v.hex(), exc)

    # --- logging ---------------------------------------------------------------------------
    def _tick(self, tau: np.ndarray | float) -> np.ndarray:
        return (np.floor(np.asarray(tau) / mlog.TICK_S).astype(np.int64)) & 0xFFFFFFFF

    def _logged_signals(self) -> tuple[list[int], list[int]]:
        """Logger ids of the acc and the gyro data signal, ordered by offset."""
        gyr_reg = mw.GYRO_DATA_REGISTER[self.chip]
        acc = sorted((o, i) for i, (m, r, o, _) in self.loggers.items() if (m, r) == (3, 4))
        gyr = sorted(
            (o, i) for i, (m, r, o, _) in self.loggers.items() if (m, r) == (0x13, gyr_reg)
        )
        return [i for _, i in acc], [i for _, i in gyr]

    def _update_logging(self) -> None:
        """Logging runs while it is enabled, both sensors are on and acc + gyro loggers exist."""
        acc_ids, gyr_ids = self._logged_signals()
        on = self.log_enabled and all(self.powered.values()) and len(acc_ids) == len(gyr_ids) == 2
        if on and self.log_sampler is None:
            rate = self.acc_rate_hz
            tau0 = float(np.ceil(self.clock.device_time(self.link.now()) * rate) / rate)
            self._log_tau0, self._log_stopped_at = tau0, None
            self.log_sampler = LogSampler(self.clock, self.signal, rate, tau0)
            self.log_truth_tau.clear()
            self.log_truth_t.clear()
            self._truth_dropped = 0
            self.stop_stream()
        elif not on and self.log_sampler is not None:
            self.fill_log()
            self._log_stopped_at = self.link.now()
            self.log_sampler = None

    def fill_log(self, t_true: float | None = None) -> None:
        """Log every sample taken up to session time ``t_true`` (default now): four entries."""
        if self.log_sampler is None:
            return
        chunk = self.log_sampler.take_until(self.link.now() if t_true is None else t_true)
        if chunk is None:
            return
        acc_ids, gyr_ids = self._logged_signals()
        acc_raw = np.clip(
            np.rint(chunk.acc / STANDARD_GRAVITY * mw.ACC_LSB_PER_G[self.acc_range_g]),
            -32768,
            32767,
        ).astype("<i2")
        gyr_raw = np.clip(
            np.rint(chunk.gyr * mw.GYR_LSB_PER_DPS[self.gyr_range_dps]), -32768, 32767
        ).astype("<i2")
        ticks = self._tick(chunk.device_time_s)
        kept = np.zeros(len(ticks), dtype=bool)
        for k in range(len(ticks)):
            a, g, tk = acc_raw[k].tobytes(), gyr_raw[k].tobytes(), int(ticks[k])
            ents = [
                mlog.encode_entry(acc_ids[0], self.reset_uid, tk, a[:4]),
                mlog.encode_entry(acc_ids[1], self.reset_uid, tk, a[4:] + b"\0\0"),
                mlog.encode_entry(gyr_ids[0], self.reset_uid, tk, g[:4]),
                mlog.encode_entry(gyr_ids[1], self.reset_uid, tk, g[4:] + b"\0\0"),
            ]
            ok = [self._write_entry(e) for e in ents]
            kept[k] = all(ok)
            if not any(ok) and not self.flash.wrap:
                break  # full: the board stops adding entries
        self.log_truth_tau.append(chunk.device_time_s[kept])
        self.log_truth_t.append(chunk.t_true[kept])
        self._truth_dropped = self.flash.overwritten // 4

    def _write_entry(self, entry: bytes) -> bool:
        if self.log_revision != mlog.REVISION_MMS:
            return self.flash.write(entry)
        if self.flash.full and not self.flash.wrap:
            self.flash.dropped += 1
            return False
        self._page_buf.append(entry)
        if len(self._page_buf) >= self.page_entries:
            self._flush_page()
        return True

    def _flush_page(self) -> None:
        """Write the RAM page to the NAND (MetaMotion S)."""
        for e in self._page_buf:
            self.flash.write(e)
        self._page_buf = []

    def log_truth(self) -> tuple[np.ndarray, np.ndarray]:
        """Device and true time of every sample whose four entries went to the log."""
        if not self.log_truth_tau:
            return np.empty(0), np.empty(0)
        tau, t = np.concatenate(self.log_truth_tau), np.concatenate(self.log_truth_t)
        n = self._truth_dropped  # wrap: the oldest samples are gone (4 entries each)
        return tau[n:], t[n:]

    def log_state(self) -> dict[str, Any] | None:
        """To rebuild the log later (:meth:`restore_log`); None if there is none."""
        if self.log_sampler is None and not self.flash.records:
            return None
        return {
            "rate_hz": self.acc_rate_hz,
            "acc_range_g": self.acc_range_g,
            "gyr_range_dps": self.gyr_range_dps,
            "wrap": self.flash.wrap,
            "tau0_s": self._log_tau0,
            "stopped_at_s": self._log_stopped_at,
            "loggers": {str(k): list(v) for k, v in self.loggers.items()},
        }

    def restore_log(self, st: dict[str, Any]) -> None:
        """Rebuild the log a board with :meth:`log_state` ``st`` holds now (deterministic)."""
        self.acc_rate_hz = self.gyr_rate_hz = float(st["rate_hz"])
        self.acc_range_g, self.gyr_range_dps = float(st["acc_range_g"]), float(st["gyr_range_dps"])
        self.loggers = {int(k): tuple(v) for k, v in st["loggers"].items()}  # type: ignore[misc]
        self.flash.reset(wrap=bool(st["wrap"]))
        self._log_tau0 = float(st["tau0_s"])
        self.log_sampler = LogSampler(self.clock, self.signal, self.acc_rate_hz, self._log_tau0)
        stopped = st.get("stopped_at_s")
        self.fill_log(None if stopped is None else float(stopped))
        self.log_enabled = stopped is None
        self.powered = {mw.MODULE_ACC: stopped is None, mw.MODULE_GYRO: stopped is None}
        if stopped is not None:
            self.log_sampler = None
            self._log_stopped_at = float(stopped)
            self._flush_page()  # runform's stop flushes the last page (MetaMotion S)

    def _on_logging(self, v: bytes) -> None:
        self.fill_log()
        reg = v[1] if len(v) > 1 else -1
        body = v[2:]
        L = mlog.MODULE_LOGGING
        if reg == mlog.READ:  # module info: implementation 0, revision, number of loggers
            notify_now(self, self._notify, bytes([L, mlog.READ, 0, self.log_revision, 32]))
        elif reg == mlog.PAGE_FLUSH:
            self._flush_page()
        elif reg == mlog.READ | mlog.TIME:
            tick = int(self._tick(self.clock.device_time(self.link.now())))
            notify_now(
                self,
                self._notify,
                bytes([L, reg]) + tick.to_bytes(4, "little") + bytes([self.reset_uid]),
            )
        elif reg == mlog.READ | mlog.LENGTH:
            notify_now(
                self, self._notify, bytes([L, reg]) + len(self.flash.records).to_bytes(4, "little")
            )
        elif reg == mlog.READ | mlog.ENABLE:
            notify_now(self, self._notify, bytes([L, reg, int(self.log_enabled)]))
        elif reg == mlog.TRIGGER and len(body) == 4:
            free = [i for i in range(32) if i not in self.loggers]
            if not free:
                return  # no answer: the SDK times out
            module, register, _data_id, spec = body
            self.loggers[free[0]] = (module, register, spec & 0x1F, (spec >> 5) + 1)
            notify_now(self, self._notify, bytes([L, mlog.TRIGGER, free[0]]))
        elif reg == mlog.REMOVE and len(body) == 1:
            self.loggers.pop(body[0], None)
            self._update_logging()
        elif reg == mlog.REMOVE_ALL:
            self.loggers.clear()
            self._update_logging()
        elif reg == mlog.ENABLE and len(body) == 1:
            self.log_enabled = bool(body[0])
            self._update_logging()
        elif reg == mlog.CIRCULAR_BUFFER and len(body) == 1:
            self.log_wrap = bool(body[0])
            if not self.flash.records:
                self.flash.reset(wrap=self.log_wrap)
            self.flash.wrap = self.log_wrap
        elif reg == mlog.REMOVE_ENTRIES and len(body) == 4:
            n = int.from_bytes(body, "little")
            if n == 0xFFFFFFFF:
                self.flash.reset(wrap=self.log_wrap)
                self._page_buf = []
            else:
                self.flash.erase_before(self.flash.first + n)
        elif reg in (mlog.READOUT_NOTIFY, mlog.READOUT_PROGRESS, mlog.PAGE_COMPLETED) and body:
            (self._readout_flags.add if body[0] else self._readout_flags.discard)(reg)
        elif reg == mlog.PAGE_CONFIRM:
            self._page_confirmed.set()
        elif reg == mlog.READOUT and len(body) == 8:
            n = int.from_bytes(body[:4], "little")
            every = int.from_bytes(body[4:], "little")
            if self._readout_task is None or self._readout_task.done():
                self._readout_task = asyncio.get_running_loop().create_task(self._readout(n, every))
        else:
            log.debug("%s: logging command %s ignored", self.name, v.hex())

    async def _readout(self, n: int, every: int) -> None:
        """Entries oldest first, two per notification, a few notifications per connection
        event; progress every ``every`` entries and at the end; a page handshake every
        ``page_entries`` entries when enabled. A readout does not remove entries."""
        L = mlog.MODULE_LOGGING
        entries = [e for _, e in self.flash.read(self.flash.first, n)]
        sent = 0
        try:
            while sent < len(entries):
                await self.link.sleep(self.radio.conn_interval_s)
                if self.connection is None:
                    return
                for _ in range(self.log_packets_per_event):
                    if sent >= len(entries):
                        break
                    pair = entries[sent : sent + 2]
                    if mlog.READOUT_NOTIFY in self._readout_flags:
                        self.send(self._notify, mlog.readout_packet(pair))
                    before = sent
                    sent += len(pair)
                    if (
                        every
                        and mlog.READOUT_PROGRESS in self._readout_flags
                        and (sent // every > before // every)
                        and sent < len(entries)
                    ):
                        left = len(entries) - sent
                        self.send(
                            self._notify,
                            bytes([L, mlog.READOUT_PROGRESS]) + left.to_bytes(4, "little"),
                        )
                    if (
                        mlog.PAGE_COMPLETED in self._readout_flags
                        and (sent // self.page_entries > before // self.page_entries)
                        and sent < len(entries)
                    ):
                        self._page_confirmed.clear()
                        self.send(self._notify, bytes([L, mlog.PAGE_COMPLETED]))
                        await self._page_confirmed.wait()
                        break
            if mlog.READOUT_PROGRESS in self._readout_flags:
                self.send(self._notify, bytes([L, mlog.READOUT_PROGRESS, 0, 0, 0, 0]))
        except asyncio.CancelledError:
            pass

    def on_disconnected(self) -> None:
        if self._readout_task is not None:
            self._readout_task.cancel()
            self._readout_task = None
        super().on_disconnected()

    async def close(self) -> None:
        if self._readout_task is not None:
            self._readout_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._readout_task
        await super().close()

    def _update_stream(self) -> None:
        if self.log_enabled:  # a logging board does not stream
            return
        if all(self.powered.values()):
            if not self.streaming:
                if self.acc_rate_hz != self.gyr_rate_hz:
                    log.warning(
                        "%s: acc %g Hz != gyro %g Hz", self.name, self.acc_rate_hz, self.gyr_rate_hz
                    )
                self.start_stream(self.acc_rate_hz, 3, self._notify)
        else:
            self.stop_stream()

    def make_packets(self, chunk: SampleChunk) -> list[bytes]:
        self.record_truth(chunk)
        acc_reg, gyr_reg = mw.PACKED_REGISTERS[self.chip]
        acc_raw = chunk.acc / STANDARD_GRAVITY * mw.ACC_LSB_PER_G[self.acc_range_g]
        gyr_raw = chunk.gyr * mw.GYR_LSB_PER_DPS[self.gyr_range_dps]
        out = []
        if (mw.MODULE_ACC, acc_reg) in self.subscribed:
            out.append(mw.encode_packed(mw.MODULE_ACC, acc_reg, acc_raw))
        if (mw.MODULE_GYRO, gyr_reg) in self.subscribed:
            out.append(mw.encode_packed(mw.MODULE_GYRO, gyr_reg, gyr_raw))
        return out
