"""An emulated runform DIY clip: the GATT server of ``docs/protocol.md`` on the virtual link,
streaming and logging to flash (``docs/protocol.md``, "Logging to flash")."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import numpy as np

from dsp.block import STANDARD_GRAVITY
from firmware_bridge.devices import diy
from firmware_bridge.emulator.base import EmulatedPeripheral, SampleChunk, quantize
from firmware_bridge.emulator.flash import LogSampler, SlotFlash
from firmware_bridge.sensorlog import diy as dlog

__all__ = ["EmulatedDiyClip"]

log = logging.getLogger(__name__)


class EmulatedDiyClip(EmulatedPeripheral):
    """A DIY shoe clip speaking the runform protocol, fed by a signal source.

    Logging: LOG_START makes the clip log at the configured rate into a flash of
    ``flash_bytes`` (one 256-byte page per record of 19 samples); the flash is filled lazily from
    the signal up to the session clock whenever the clip is asked about its log (so an hour of
    running costs one numpy call, not an hour). LOG_READ sends ``log_records_per_event`` records
    per connection event (a slow link: about 65 kB/s at 15 ms).

    Parameters
    ----------
    flash_bytes : int
        Log memory (default 2 MiB, the XIAO nRF52840 Sense's QSPI flash).
    log_records_per_event : int
        Records notified per connection event during a LOG_READ.

    Other keyword arguments are those of
    :class:`~firmware_bridge.emulator.base.EmulatedPeripheral`.
    """

    device_model = "runform-diy"
    advertised_service_uuids = (diy.SERVICE_UUID,)

    def __init__(
        self,
        link: Any,
        *,
        flash_bytes: int = 2 * 1024 * 1024,
        log_records_per_event: int = 4,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("name", "rfclip")
        super().__init__(link, **kwargs)
        self.flash = SlotFlash(flash_bytes // 256, 256)
        self.log_records_per_event = int(log_records_per_event)
        self.log_sampler: LogSampler | None = None
        self.log_config: tuple[float, float, float] = (104.0, 16.0, 2000.0)
        self._log_pending: list[tuple[int, bytes]] = []
        self._log_ctrl: Any = None
        self._log_data: Any = None
        self._log_task: asyncio.Task[None] | None = None
        self._log_first = True
        self._log_tau0 = 0.0
        self._log_stopped_at: float | None = None
        #: Truth of every logged sample: device time and true time, s.
        self.log_truth_tau: list[np.ndarray] = []
        self.log_truth_t: list[np.ndarray] = []
        self.rate_hz = 104.0
        self.acc_range_g = 16.0
        self.gyr_range_dps = 2000.0
        self.max_spp = 0
        self.spp = 0
        self._packet_counter = 0
        self._data_char: Any = None
        #: Commands received, in order (for tests: did the central re-send start?).
        self.commands: list[int] = []

    def gatt_services(self) -> list[Any]:
        from bumble.gatt import Characteristic, CharacteristicValue, Service

        config: Characteristic[bytes] = Characteristic(
            diy.CONFIG_UUID,
            Characteristic.Properties.READ | Characteristic.Properties.WRITE,
            Characteristic.READABLE | Characteristic.WRITEABLE,
            CharacteristicValue(read=self._read_config, write=self._write_config),  # type: ignore[arg-type]
        )
        self._data_char = Characteristic(
            diy.DATA_UUID,
            Characteristic.Properties.NOTIFY,
            Characteristic.READABLE,
            b"",
        )
        props = Characteristic.Properties
        self._log_ctrl = Characteristic(
            dlog.LOG_CONTROL_UUID,
            props.WRITE | props.NOTIFY,
            Characteristic.WRITEABLE,
            CharacteristicValue(write=self._write_log_control),  # type: ignore[arg-type]
        )
        self._log_data = Characteristic(
            dlog.LOG_DATA_UUID, props.NOTIFY, Characteristic.READABLE, b""
        )
        clock: Characteristic[bytes] = Characteristic(
            dlog.CLOCK_UUID,
            props.READ,
            Characteristic.READABLE,
            CharacteristicValue(read=self._read_clock),  # type: ignore[arg-type]
        )
        return [
            Service(
                diy.SERVICE_UUID,
                [config, self._data_char, self._log_ctrl, self._log_data, clock],
            )
        ]

    # --- logging -------------------------------------------------------------------------
    @property
    def logging(self) -> bool:
        return self.log_sampler is not None

    def _read_clock(self, _connection: Any) -> bytes:
        us = round(float(self.clock.device_time(self.link.now())) * 1e6)
        return int(us).to_bytes(8, "little")

    def fill_log(self, t_true: float | None = None) -> None:
        """Log every sample taken up to session time ``t_true`` (default now) into the flash."""
        if self.log_sampler is None:
            return
        t = self.link.now() if t_true is None else t_true
        chunk = self.log_sampler.take_until(t, multiple_of=dlog.RECORD_SAMPLES)
        if chunk is not None:
            self._write_records(chunk.device_time_s, chunk.t_true, chunk.acc, chunk.gyr)

    def _write_records(self, tau, t_true, acc, gyr) -> None:
        rate, acc_g, gyr_dps = self.log_config
        counts = np.concatenate(
            [quantize(acc, acc_g * STANDARD_GRAVITY), quantize(gyr, gyr_dps)], axis=1
        )
        n = dlog.RECORD_SAMPLES
        kept_tau, kept_t = [], []
        for i in range(0, len(tau), n):
            flags = dlog.REC_FIRST if self._log_first else 0
            rec = dlog.encode_record(
                self.flash.next,
                round(float(tau[i]) * 1e6),
                counts[i : i + n],
                rate,
                acc_g,
                gyr_dps,
                flags,
            )
            if self.flash.write(rec):
                self._log_first = False
                kept_tau.append(tau[i : i + n])
                kept_t.append(t_true[i : i + n])
            elif not self.flash.wrap:
                # full and not wrapping: the clip stops logging
                log.info("%s: log full, logging stopped", self.name)
                self.log_sampler = None
                break
        if kept_tau:
            self.log_truth_tau.append(np.concatenate(kept_tau))
            self.log_truth_t.append(np.concatenate(kept_t))

    def log_state(self) -> dict[str, Any] | None:
        """What this clip's log is (to rebuild it later: :meth:`restore_log`), None if empty."""
        if not self.logging and not self.flash.records:
            return None
        rate, acc, gyr = self.log_config
        return {
            "rate_hz": rate,
            "acc_range_g": acc,
            "gyr_range_dps": gyr,
            "wrap": self.flash.wrap,
            "tau0_s": self._log_tau0,
            "stopped_at_s": self._log_stopped_at,
        }

    def restore_log(self, st: dict[str, Any]) -> None:
        """Rebuild the log a clip with :meth:`log_state` ``st`` holds now (deterministic: the
        same signal, clock and start give the same records)."""
        self.log_config = (
            float(st["rate_hz"]),
            float(st["acc_range_g"]),
            float(st["gyr_range_dps"]),
        )
        self.flash.reset(wrap=bool(st["wrap"]))
        self._log_first = True
        self._log_tau0 = float(st["tau0_s"])
        self.log_sampler = LogSampler(self.clock, self.signal, self.log_config[0], self._log_tau0)
        stopped = st.get("stopped_at_s")
        if stopped is None:
            self.fill_log()
            return
        self.fill_log(float(stopped))
        if self.log_sampler is not None:
            chunk = self.log_sampler.take_until(float(stopped))
            if chunk is not None:
                self._write_records(chunk.device_time_s, chunk.t_true, chunk.acc, chunk.gyr)
        self.log_sampler = None
        self._log_stopped_at = float(stopped)

    def log_truth(self) -> tuple[np.ndarray, np.ndarray]:
        """Device time and true time of every sample written to the flash since LOG_START."""
        if not self.log_truth_tau:
            return np.empty(0), np.empty(0)
        return np.concatenate(self.log_truth_tau), np.concatenate(self.log_truth_t)

    def _answer(self, payload: bytes) -> None:
        self.send(self._log_ctrl, payload)

    def _write_log_control(self, connection: Any, value: bytes) -> None:
        v = bytes(value)
        if not v:
            return
        op = v[0]
        self.commands.append(op)
        self.fill_log()
        if op == dlog.OP_LOG_START and len(v) == 7:
            _, rate, acc, gyr, flags = dlog._START.unpack(v)
            if (
                float(rate) not in diy.RATES_HZ
                or float(acc) not in diy.ACC_RANGES_G
                or float(gyr) not in diy.GYR_RANGES_DPS
            ):
                self._answer(bytes([op | dlog.ANSWER, dlog.ST_BAD_PARAMETER]))
                return
            self.log_config = (float(rate), float(acc), float(gyr))
            self.flash.reset(wrap=bool(flags & dlog.FLAG_WRAP))
            self._log_first = True
            self.log_truth_tau.clear()
            self.log_truth_t.clear()
            tau0 = float(np.ceil(self.clock.device_time(self.link.now()) * rate) / rate)
            self.log_sampler = LogSampler(self.clock, self.signal, float(rate), tau0)
            self._log_tau0, self._log_stopped_at = tau0, None
            self._answer(bytes([op | dlog.ANSWER, dlog.ST_OK]))
        elif op == dlog.OP_LOG_STOP:
            if self.log_sampler is not None:
                # the samples of the last, partial record are written as a short record
                chunk = self.log_sampler.take_until(self.link.now())
                if chunk is not None:
                    self._write_records(chunk.device_time_s, chunk.t_true, chunk.acc, chunk.gyr)
            if self.log_sampler is not None:
                self._log_stopped_at = self.link.now()
            self.log_sampler = None
            self._answer(bytes([op | dlog.ANSWER, dlog.ST_OK]))
        elif op == dlog.OP_LOG_STATUS:
            f = self.flash
            flags = int(self.logging) | (2 * f.wrap) | (4 * (f.full or f.dropped > 0))
            self._answer(
                dlog.STATUS_ANSWER.pack(
                    op | dlog.ANSWER,
                    dlog.ST_OK,
                    flags,
                    f.capacity_bytes,
                    f.used_bytes,
                    f.first,
                    f.next,
                    f.overwritten,
                    dlog.RECORD_BYTES,
                )
            )
        elif op == dlog.OP_LOG_READ and len(v) == 9:
            _, start, count = dlog._READ.unpack(v)
            if self._log_task is not None and not self._log_task.done():
                self._answer(bytes([op | dlog.ANSWER, dlog.ST_BUSY]))
                return
            self._log_task = asyncio.get_running_loop().create_task(
                self._log_reader(start, count or 0xFFFFFFFF)
            )
        elif op == dlog.OP_LOG_ERASE and len(v) == 5:
            _, upto = dlog._ERASE.unpack(v)
            if upto == 0xFFFFFFFF:
                self.flash.reset(wrap=self.flash.wrap)
            else:
                self.flash.erase_before(upto)
            self._answer(
                bytes([op | dlog.ANSWER, dlog.ST_OK]) + self.flash.first.to_bytes(4, "little")
            )
        else:
            self._answer(bytes([op | dlog.ANSWER, dlog.ST_BAD_COMMAND]))

    async def _log_reader(self, start: int, count: int) -> None:
        """Notify the records asked for, a few per connection event, then the answer."""
        records = self.flash.read(start, count)
        nxt = max(start, self.flash.first)
        try:
            for i in range(0, len(records), self.log_records_per_event):
                await self.link.sleep(self.radio.conn_interval_s)
                if self.connection is None:
                    return
                for number, rec in records[i : i + self.log_records_per_event]:
                    self.send(self._log_data, rec)
                    nxt = number + 1
            self._answer(
                bytes([dlog.OP_LOG_READ | dlog.ANSWER, dlog.ST_OK]) + nxt.to_bytes(4, "little")
            )
        except asyncio.CancelledError:
            pass

    def on_disconnected(self) -> None:
        if self._log_task is not None:
            self._log_task.cancel()
            self._log_task = None
        super().on_disconnected()

    async def close(self) -> None:
        if self._log_task is not None:
            self._log_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._log_task
        await super().close()

    def _current_spp(self, connection: Any) -> int:
        mtu = int(getattr(connection, "att_mtu", 23)) if connection is not None else 23
        fit = diy.max_samples_per_packet(mtu)
        return max(1, min(fit, self.max_spp) if self.max_spp else fit)

    def _read_config(self, connection: Any) -> bytes:
        return diy.encode_config_read(
            self.streaming,
            self.rate_hz,
            self.acc_range_g,
            self.gyr_range_dps,
            self._current_spp(connection),
        )

    def _write_config(self, connection: Any, value: bytes) -> None:
        if not value:
            return
        op = value[0]
        self.commands.append(op)
        if op == diy.OP_CONFIGURE and len(value) == 7:
            _, rate, acc, gyr, spp = diy._CONFIGURE.unpack(value)
            # like firmware: apply what is supported, ignore the rest (the driver checks)
            if float(rate) in diy.RATES_HZ:
                self.rate_hz = float(rate)
            if float(acc) in diy.ACC_RANGES_G:
                self.acc_range_g = float(acc)
            if float(gyr) in diy.GYR_RANGES_DPS:
                self.gyr_range_dps = float(gyr)
            self.max_spp = spp
        elif op == diy.OP_START:
            self.spp = self._current_spp(connection)
            self._packet_counter = 0
            self.start_stream(self.rate_hz, self.spp, self._data_char)
        elif op == diy.OP_STOP:
            self.stop_stream()
        else:
            log.debug("%s: unknown command %r", self.name, value)

    def make_packets(self, chunk: SampleChunk) -> list[bytes]:
        counts = np.concatenate(
            [
                quantize(chunk.acc, self.acc_range_g * STANDARD_GRAVITY),
                quantize(chunk.gyr, self.gyr_range_dps),
            ],
            axis=1,
        )
        packet = diy.encode_packet(
            counts,
            self._packet_counter,
            round(float(chunk.device_time_s[0]) * 1e6),
            self.rate_hz,
            self.acc_range_g,
            self.gyr_range_dps,
        )
        self._packet_counter = (self._packet_counter + 1) & 0xFFFF
        return [packet]
