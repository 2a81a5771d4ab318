"""An emulated Polar Verity Sense on the virtual link: PMD ACC + GYRO streams and (in
:class:`EmulatedPolarVeritySenseLogging`) PMD offline recording with its files over PS-FTP."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import numpy as np

from dsp.block import STANDARD_GRAVITY
from firmware_bridge.devices import polar as pl
from firmware_bridge.devices.base import DecodeError
from firmware_bridge.emulator._vendor import VendorPeripheral, char, notify_now
from firmware_bridge.emulator.base import SampleChunk
from firmware_bridge.emulator.flash import LogSampler
from firmware_bridge.sensorlog import pftp
from firmware_bridge.sensorlog import polar as plog

__all__ = ["EmulatedPolarVeritySense", "EmulatedPolarVeritySenseLogging"]

log = logging.getLogger(__name__)

#: PMD feature bits of a Verity Sense (byte 1: PPG, ACC, PPI, GYRO, MAG).
_FEATURES = bytes([0x0F, 0x02 | 0x04 | 0x08 | 0x20 | 0x40, 0x00])
_WORST_DELTA_BITS = 17  # difference of two int16 values


class EmulatedPolarVeritySense(VendorPeripheral):
    """A Verity Sense answering PMD control-point requests and streaming ACC (compressed frame
    type 1, factor in milli-g per LSB) and GYRO (compressed frame type 0, factor in deg/s per
    LSB) frames with ns timestamps (since 2000-01-01) of their last sample.

    Samples per frame: as many as fit the negotiated MTU in the worst case (17-bit deltas).
    Each stream starts with its own start request; both come from the same IMU, so a sample of
    ACC and of GYRO taken at the same instant carry the same time.
    """

    device_model = "polar-verity-sense"
    advertised_service_uuids = (pl.PMD_SERVICE_UUID,)

    def __init__(self, link: Any, *, has_gyro: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("name", "Polar Sense B5A0E12F")
        super().__init__(link, **kwargs)
        #: False emulates a Polar sensor without gyroscope (H10, OH1): GYRO is "not supported".
        self.has_gyro = has_gyro
        self._cp: Any = None
        self._data: Any = None
        self.rate_hz = 52.0
        self.acc_range_g = 8.0
        self.gyr_range_dps = 2000.0
        self.on = {pl.TYPE_ACC: False, pl.TYPE_GYRO: False}

    @property
    def factors(self) -> dict[int, float]:
        """Conversion factors: ACC milli-g per LSB, GYRO deg/s per LSB."""
        return {
            pl.TYPE_ACC: float(np.float32(self.acc_range_g * 1000.0 / 32768.0)),
            pl.TYPE_GYRO: float(np.float32(self.gyr_range_dps / 32768.0)),
        }

    def gatt_services(self) -> list[Any]:
        from bumble.gatt import Characteristic, CharacteristicValue, Service

        props = Characteristic.Properties
        self._cp = char(
            pl.PMD_CP_UUID,
            props.READ | props.WRITE | props.NOTIFY,
            CharacteristicValue(read=lambda _c: _FEATURES, write=self._on_cp),
            writeable=True,
        )
        self._data = char(pl.PMD_DATA_UUID, props.NOTIFY)
        return [Service(pl.PMD_SERVICE_UUID, [self._cp, self._data])]

    def _answer(self, op: int, meas: int, status: int, params: bytes = b"") -> None:
        notify_now(self, self._cp, bytes([pl.CP_RESPONSE, op, meas, status, 0]) + params)

    def _on_cp(self, connection: Any, value: bytes) -> None:
        v = bytes(value)
        self.commands.append(v)
        if len(v) < 2:
            return
        op, meas = v[0], v[1] & 0x3F
        if meas not in self.on:
            self._answer(op, meas, 2)  # invalid measurement type
            return
        if meas == pl.TYPE_GYRO and not self.has_gyro:
            self._answer(op, meas, 3)  # not supported
            return
        if op == pl.CP_GET_SETTINGS:
            ranges = pl.ACC_RANGES_G if meas == pl.TYPE_ACC else pl.GYR_RANGES_DPS
            params = bytes([pl.SETTING_SAMPLE_RATE, len(pl.RATES_HZ)])
            params += b"".join(int(r).to_bytes(2, "little") for r in pl.RATES_HZ)
            params += bytes([pl.SETTING_RESOLUTION, 1, 16, 0, pl.SETTING_RANGE, len(ranges)])
            params += b"".join(int(r).to_bytes(2, "little") for r in ranges)
            self._answer(op, meas, 0, params)
        elif op == pl.CP_START:
            try:
                settings = pl.parse_settings(v[2:])
            except Exception:
                self._answer(op, meas, 5)  # invalid parameter
                return
            rate = settings.get(pl.SETTING_SAMPLE_RATE, [self.rate_hz])[0]
            rng = settings.get(pl.SETTING_RANGE, [None])[0]
            if rate not in pl.RATES_HZ or (self.streaming and rate != self.rate_hz):
                self._answer(op, meas, 8)  # invalid sample rate
                return
            if self.on[meas]:
                self._answer(op, meas, 6)  # already in state
                return
            if rng is not None:
                if meas == pl.TYPE_ACC and rng in pl.ACC_RANGES_G:
                    self.acc_range_g = rng
                elif meas == pl.TYPE_GYRO and rng in pl.GYR_RANGES_DPS:
                    self.gyr_range_dps = rng
                else:
                    self._answer(op, meas, 9)  # invalid range
                    return
            self.rate_hz = rate
            self.on[meas] = True
            factor = pl.settings_bytes({pl.SETTING_FACTOR: self.factors[meas]})
            self._answer(op, meas, 0, factor)
            if not self.streaming:
                cap = self.att_payload() - 10 - 6 - 2
                spp = 1 + max(0, min(255, cap * 8 // (3 * _WORST_DELTA_BITS)))
                self.start_stream(self.rate_hz, spp, self._data)
        elif op == pl.CP_STOP:
            self.on[meas] = False
            self._answer(op, meas, 0)
            if not any(self.on.values()):
                self.stop_stream()

    def on_disconnected(self) -> None:
        self.on = {pl.TYPE_ACC: False, pl.TYPE_GYRO: False}
        super().on_disconnected()

    def make_packets(self, chunk: SampleChunk) -> list[bytes]:
        f = self.factors
        ts_ns = round(float(chunk.device_time_s[-1]) * 1e9)
        out = []
        if self.on[pl.TYPE_ACC]:
            self.record_truth(chunk)
            raw = np.clip(
                np.rint(chunk.acc / STANDARD_GRAVITY * 1000.0 / f[pl.TYPE_ACC]), -32768, 32767
            )
            out.append(pl.encode_data_frame(pl.TYPE_ACC, ts_ns, 0x81, pl.encode_delta_frame(raw)))
        if self.on[pl.TYPE_GYRO]:
            raw = np.clip(np.rint(chunk.gyr / f[pl.TYPE_GYRO]), -32768, 32767)
            out.append(pl.encode_data_frame(pl.TYPE_GYRO, ts_ns, 0x80, pl.encode_delta_frame(raw)))
        return out


class _Recorder:
    """Offline ACC/GYRO files being written (one sample grid, a file per measurement)."""

    def __init__(self, owner: EmulatedPolarVeritySenseLogging, tau0: float, rate: float) -> None:
        self.owner = owner
        self.rate = rate
        self.sampler = LogSampler(owner.clock, owner.signal, rate, tau0)
        self.on: dict[int, bool] = {pl.TYPE_ACC: False, pl.TYPE_GYRO: False}
        #: Sample index from which each measurement records (None: not started).
        self.first: dict[int, int | None] = {pl.TYPE_ACC: None, pl.TYPE_GYRO: None}
        self.pending: dict[int, list[np.ndarray]] = {pl.TYPE_ACC: [], pl.TYPE_GYRO: []}
        self.pending_tau: dict[int, list[np.ndarray]] = {pl.TYPE_ACC: [], pl.TYPE_GYRO: []}


class EmulatedPolarVeritySenseLogging(EmulatedPolarVeritySense):
    """A Verity Sense that also records offline (PMD offline ACC + GYRO) and serves its files
    over PS-FTP (``firmware_bridge/sensorlog/polar.py`` is the host side).

    Parameters
    ----------
    disk_bytes : int
        Its memory.
    start_limit_bytes, stop_limit_bytes : int
        Polar's "memory limit 1" (no start below this much free: PMD status 14) and "memory
        limit 2" (recordings stop below this much free); 2 MB and 300 KB on a Verity Sense.
    frame_samples : int
        Samples per PMD frame in a file (not documented by Polar; an emulator choice).
    split_bytes : int or None
        Start a new sub-file (``ACC0.REC``, ``ACC1.REC``, …) when a file would grow past this;
        None: one ``ACC.REC`` per recording.
    pftp_frames_per_event : int
        RFC76 frames notified per connection event (the download's speed).
    offline_rates_hz : tuple
        Offline rates offered (52 Hz only outside SDK mode).
    """

    def __init__(
        self,
        link: Any,
        *,
        disk_bytes: int = 16 * 1024 * 1024,
        start_limit_bytes: int = 2 * 1024 * 1024,
        stop_limit_bytes: int = 300 * 1024,
        frame_samples: int = 64,
        split_bytes: int | None = None,
        pftp_frames_per_event: int = 4,
        offline_rates_hz: tuple[float, ...] = (52.0,),
        **kwargs: Any,
    ) -> None:
        super().__init__(link, **kwargs)
        self.disk_bytes = int(disk_bytes)
        self.start_limit_bytes = int(start_limit_bytes)
        self.stop_limit_bytes = int(stop_limit_bytes)
        self.frame_samples = int(frame_samples)
        self.split_bytes = split_bytes
        self.pftp_frames_per_event = int(pftp_frames_per_event)
        self.offline_rates_hz = tuple(offline_rates_hz)
        #: Files on the sensor: path → bytes (other apps' files may be put here by tests).
        self.files: dict[str, bytearray] = {}
        #: Local time − device clock, s (what SET_LOCAL_TIME sets; 2019-01-01 by default).
        self.time_base_s = 599_616_000.0
        self.rec: _Recorder | None = None
        self.rec_dir: str | None = None
        self.rec_settings: dict[int, dict[int, int | float]] = {}
        self._stopped_at: float | None = None
        self._rec_state: dict[str, Any] | None = None
        self.frames_refused = 0
        #: The sensor's own recording / swimming mode: every file operation answers SYSTEM_BUSY.
        self.own_recording_mode = False
        #: Fault: walk out of range (for ``cut_away_s``) once this many bytes of files were sent.
        self.cut_after_bytes: int | None = None
        self.cut_away_s = 0.3
        self._file_bytes_sent = 0
        #: Device times of the samples written, per measurement (the emulator's truth).
        self._written: dict[int, list[np.ndarray]] = {pl.TYPE_ACC: [], pl.TYPE_GYRO: []}
        self._mtu: Any = None
        self._host = pftp.ResponseReader("host message")
        self._tx_task: asyncio.Task[None] | None = None
        self._restoring = False

    # --- GATT --------------------------------------------------------------------------------
    def gatt_services(self) -> list[Any]:
        from bumble.gatt import Characteristic, CharacteristicValue, Service

        props = Characteristic.Properties
        services = super().gatt_services()
        self._mtu = char(
            pftp.PFTP_MTU_UUID,
            props.WRITE | props.WRITE_WITHOUT_RESPONSE | props.NOTIFY,
            CharacteristicValue(write=self._on_mtu),
            readable=False,
            writeable=True,
        )
        d2h = char(pftp.PFTP_D2H_UUID, props.NOTIFY)
        h2d = char(pftp.PFTP_H2D_UUID, props.WRITE | props.WRITE_WITHOUT_RESPONSE, writeable=True)
        services.append(Service(pftp.PFTP_SERVICE_UUID, [self._mtu, d2h, h2d]))
        return services

    # --- time ---------------------------------------------------------------------------------
    def local_time_s(self, tau: float | np.ndarray | None = None) -> Any:
        """Local time (s since 2000) at device time ``tau`` (default now)."""
        if tau is None:
            tau = self.clock.device_time(self.link.now())
        return np.asarray(tau) + self.time_base_s

    # --- memory -------------------------------------------------------------------------------
    @property
    def used_bytes(self) -> int:
        return sum(len(b) for b in self.files.values())

    @property
    def free_bytes(self) -> int:
        return self.disk_bytes - self.used_bytes

    # --- offline recording ---------------------------------------------------------------------
    def _file_for(self, meas: int, frame_len: int) -> str:
        kind = "ACC" if meas == pl.TYPE_ACC else "GYRO"
        assert self.rec_dir is not None
        if self.split_bytes is None:
            path = f"{self.rec_dir}{kind}.REC"
        else:
            k = 0
            while f"{self.rec_dir}{kind}{k + 1}.REC" in self.files:
                k += 1
            path = f"{self.rec_dir}{kind}{k}.REC"
            if path in self.files and len(self.files[path]) + 2 + frame_len > self.split_bytes:
                path = f"{self.rec_dir}{kind}{k + 1}.REC"
        if path not in self.files:
            st = self.rec_settings[meas]
            start = _iso(float(self.local_time_s()))
            self.files[path] = bytearray(plog.encode_offline_file(start, st, []))
        return path

    def _write_frame(self, meas: int, raw: np.ndarray, tau: np.ndarray) -> bool:
        ts_ns = round(float(self.local_time_s(tau[-1])) * 1e9)
        ft = 0x81 if meas == pl.TYPE_ACC else 0x80
        frame = pl.encode_data_frame(meas, ts_ns, ft, pl.encode_delta_frame(raw))
        if self.free_bytes - (len(frame) + 2) < self.stop_limit_bytes:
            self.frames_refused += 1
            return False
        path = self._file_for(meas, len(frame))
        self.files[path] += len(frame).to_bytes(2, "little") + frame
        self._written[meas].append(np.asarray(tau, dtype=np.float64))
        return True

    def fill_log(self, t_true: float | None = None, *, flush: bool = False) -> None:
        """Record every sample taken up to session time ``t_true`` (default now)."""
        rec = self.rec
        if rec is None:
            return
        chunk = rec.sampler.take_until(self.link.now() if t_true is None else t_true)
        f = self.factors
        if chunk is not None:
            idx = chunk.index0 + np.arange(len(chunk.device_time_s))
            raws = {
                pl.TYPE_ACC: np.clip(
                    np.rint(chunk.acc / STANDARD_GRAVITY * 1000.0 / f[pl.TYPE_ACC]), -32768, 32767
                ),
                pl.TYPE_GYRO: np.clip(np.rint(chunk.gyr / f[pl.TYPE_GYRO]), -32768, 32767),
            }
            for meas in (pl.TYPE_ACC, pl.TYPE_GYRO):
                first = rec.first[meas]
                m = (
                    np.zeros(len(idx), dtype=bool)
                    if first is None or not rec.on[meas]
                    else idx >= first
                )
                rec.pending[meas].append(raws[meas][m])
                rec.pending_tau[meas].append(chunk.device_time_s[m])
        # frames of both files in the order their last samples were taken (as a device writes
        # them), so that a full memory cuts both at about the same time
        todo: list[tuple[float, int, np.ndarray, np.ndarray]] = []
        rest: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for meas in (pl.TYPE_ACC, pl.TYPE_GYRO):
            if not rec.pending[meas]:
                continue
            raw = np.concatenate(rec.pending[meas])
            tau = np.concatenate(rec.pending_tau[meas])
            n = self.frame_samples
            k = 0
            while len(raw) - k >= n or (flush and len(raw) > k):
                m = min(n, len(raw) - k)
                todo.append((float(tau[k + m - 1]), meas, raw[k : k + m], tau[k : k + m]))
                k += m
            rest[meas] = (raw[k:], tau[k:])
        todo.sort(key=lambda x: (x[0], x[1]))
        for _last, meas, raw, tau in todo:
            if not self._write_frame(meas, raw, tau):
                self._memory_stop()
                return
        for meas, (raw, tau) in rest.items():
            rec.pending[meas] = [raw]
            rec.pending_tau[meas] = [tau]

    def _memory_stop(self) -> None:
        """Memory limit 2: every offline recording stops (what was buffered is lost)."""
        rec = self.rec
        if rec is None:
            return
        log.info("%s: memory limit reached; offline recording stopped", self.name)
        rec.on = {pl.TYPE_ACC: False, pl.TYPE_GYRO: False}
        self._finish_rec()

    def _finish_rec(self) -> None:
        rec = self.rec
        assert rec is not None
        self._stopped_at = self.link.now()
        self.rec = None

    def log_truth(self) -> tuple[np.ndarray, np.ndarray]:
        """Device and true times of every sample written to both the ACC and the GYRO file."""
        w = [np.concatenate(self._written[m]) if self._written[m] else np.empty(0) for m in (2, 5)]
        tau = np.intersect1d(np.round(w[0] * 1e7), np.round(w[1] * 1e7)) / 1e7
        return tau, np.asarray(self.clock.true_time(tau), dtype=np.float64)

    # --- PMD control point (offline) -----------------------------------------------------------
    def _on_cp(self, connection: Any, value: bytes) -> None:
        v = bytes(value)
        self.fill_log()
        if v[:1] == bytes([plog.CP_MEASUREMENT_STATUS]):
            self.commands.append(v)
            body = bytes(
                meas
                | (plog.STATE_OFFLINE << 6 if self.rec and self.rec.on[meas] else 0)
                | (1 << 6 if self.on[meas] else 0)
                for meas in (pl.TYPE_ACC, pl.TYPE_GYRO)
            )
            notify_now(self, self._cp, bytes([pl.CP_RESPONSE, v[0], 0, 0, 0]) + body)
            return
        if len(v) >= 2 and v[0] == pl.CP_STOP and self.rec is not None and self.rec.on.get(v[1]):
            self.commands.append(v)
            meas = v[1]
            self.fill_log(flush=True)
            if self.rec is not None:
                self.rec.on[meas] = False
                if not any(self.rec.on.values()):
                    self._finish_rec()
            self._answer(v[0], meas, 0)
            return
        if len(v) < 2 or not v[1] & plog.OFFLINE:
            super()._on_cp(connection, v)
            return
        self.commands.append(v)
        op, meas = v[0], v[1] & 0x3F
        if meas not in (pl.TYPE_ACC, pl.TYPE_GYRO):
            self._answer(op, v[1], 2)
            return
        ranges = pl.ACC_RANGES_G if meas == pl.TYPE_ACC else pl.GYR_RANGES_DPS
        if op == pl.CP_GET_SETTINGS:
            params = bytes([pl.SETTING_SAMPLE_RATE, len(self.offline_rates_hz)])
            params += b"".join(int(r).to_bytes(2, "little") for r in self.offline_rates_hz)
            params += bytes([pl.SETTING_RESOLUTION, 1, 16, 0, pl.SETTING_RANGE, len(ranges)])
            params += b"".join(int(r).to_bytes(2, "little") for r in ranges)
            params += bytes([pl.SETTING_CHANNELS, 1, 3])
            self._answer(op, v[1], 0, params)
        elif op == pl.CP_START:
            try:
                st = pl.parse_settings(v[2:])
            except Exception:
                self._answer(op, v[1], 5)
                return
            rate = st.get(pl.SETTING_SAMPLE_RATE, [0.0])[0]
            rng = st.get(pl.SETTING_RANGE, [ranges[-1]])[0]
            if rate not in self.offline_rates_hz or (self.rec and rate != self.rec.rate):
                self._answer(op, v[1], 8)
                return
            if rng not in ranges:
                self._answer(op, v[1], 9)
                return
            if self.on[meas] or (self.rec is not None and self.rec.on[meas]):
                self._answer(op, v[1], 6)
                return
            if self.free_bytes < self.start_limit_bytes:
                self._answer(op, v[1], plog.PMD_DISK_FULL)
                return
            if meas == pl.TYPE_ACC:
                self.acc_range_g = rng
            else:
                self.gyr_range_dps = rng
            self._start_offline(meas, rate, rng)
            self._answer(op, v[1], 0)
        else:
            self._answer(op, v[1], 1)

    def _start_offline(self, meas: int, rate: float, rng: float) -> None:
        if self.rec is None:
            tau0 = float(np.ceil(self.clock.device_time(self.link.now()) * rate) / rate)
            self.rec = _Recorder(self, tau0, rate)
            self._written = {pl.TYPE_ACC: [], pl.TYPE_GYRO: []}
            stamp = _iso(float(self.local_time_s()))
            self.rec_dir = f"/U/0/{stamp[:10].replace('-', '')}/R/{stamp[11:19].replace(':', '')}/"
            self._stopped_at = None
            self._rec_state = {"tau0_s": tau0, "rate_hz": rate, "rec_dir": self.rec_dir}
        self.rec.on[meas] = True
        self.rec.first[meas] = self.rec.sampler.taken
        self.rec_settings[meas] = {
            pl.SETTING_SAMPLE_RATE: int(rate),
            pl.SETTING_RESOLUTION: 16,
            pl.SETTING_RANGE: int(rng),
            pl.SETTING_CHANNELS: 3,
            pl.SETTING_FACTOR: self.factors[meas],
        }

    # --- PS-FTP ----------------------------------------------------------------------------------
    def _on_mtu(self, connection: Any, value: bytes) -> None:
        v = bytes(value)
        self.fill_log()
        if v == pftp.CANCEL:
            self._cancel_tx()
            self._host = pftp.ResponseReader("host message")
            return
        try:
            if self._host.done:
                self._host = pftp.ResponseReader("host message")
            if not self._host.feed(v):
                return
        except DecodeError as exc:
            log.debug("%s: bad PFTP frame %s: %s", self.name, v.hex(), exc)
            self._host = pftp.ResponseReader("host message")
            self._reply(pftp.error_frame(200))
            return
        message = self._host.data
        self._host = pftp.ResponseReader("host message")
        try:
            kind, ident, header, _data = pftp.parse_host_message(message)
            if kind == "query":
                frames = self._query(ident, header)
            else:
                frames = self._request(header)
        except DecodeError as exc:
            log.debug("%s: bad PFTP message: %s", self.name, exc)
            frames = [pftp.error_frame(102)]
        self._reply(*frames)

    def _data_frames(self, data: bytes) -> list[bytes]:
        return pftp.split_frames(data, self.att_payload())

    def _query(self, ident: int, params: bytes) -> list[bytes]:
        if ident in (pftp.Q_SET_LOCAL_TIME, pftp.Q_SET_SYSTEM_TIME):
            t = pftp.decode_local_time(params)
            if ident == pftp.Q_SET_LOCAL_TIME:
                self.time_base_s = t - float(self.clock.device_time(self.link.now()))
            return [pftp.error_frame(0)]
        if ident == pftp.Q_GET_LOCAL_TIME:
            t = np.floor(float(self.local_time_s()) * 1000.0) / 1000.0
            return self._data_frames(pftp.encode_local_time(float(t)))
        if ident == pftp.Q_GET_DISK_SPACE:
            frag = 512
            return self._data_frames(
                pftp.encode_disk_space(
                    frag, self.disk_bytes // frag, max(0, self.free_bytes) // frag
                )
            )
        return [pftp.error_frame(201)]

    def _children(self, folder: str) -> list[tuple[str, int]]:
        names: dict[str, int] = {}
        for p, b in self.files.items():
            if p.startswith(folder):
                rest = p[len(folder) :]
                if "/" in rest:
                    names[rest.split("/", 1)[0] + "/"] = 0
                else:
                    names[rest] = len(b)
        return sorted(names.items())

    def _request(self, header: bytes) -> list[bytes]:
        cmd, path = pftp.decode_operation(header)
        if self.own_recording_mode:  # products/PolarVeritySense.md: file transfer refused
            return [pftp.error_frame(pftp.SYSTEM_BUSY)]
        if cmd == pftp.GET:
            if path.endswith("/"):
                kids = self._children(path)
                if not kids and path != plog.ROOT:
                    return [pftp.error_frame(pftp.NO_SUCH_FILE)]
                return self._data_frames(pftp.encode_directory(kids))
            if path not in self.files:
                return [pftp.error_frame(pftp.NO_SUCH_FILE)]
            self._sending_file = True
            return self._data_frames(bytes(self.files[path]))
        if cmd == pftp.REMOVE:
            folder = path if path.endswith("/") else path + "/"
            gone = [p for p in self.files if p == path or p.startswith(folder)]
            if not gone:
                return [pftp.error_frame(pftp.NO_SUCH_FILE)]
            for p in gone:
                del self.files[p]
            self.removed.extend(gone)
            return [pftp.error_frame(0)]
        return [pftp.error_frame(201)]

    @property
    def removed(self) -> list[str]:
        if not hasattr(self, "_removed"):
            self._removed: list[str] = []
        return self._removed

    def _reply(self, *frames: bytes) -> None:
        self._cancel_tx()
        is_file, self._sending_file = getattr(self, "_sending_file", False), False
        self._tx_task = asyncio.get_running_loop().create_task(
            self._send_frames(list(frames), is_file)
        )

    async def _send_frames(self, frames: list[bytes], is_file: bool = False) -> None:
        """A few frames per connection event (a slow download)."""
        try:
            i = 0
            while i < len(frames):
                if i:  # the first batch goes with the next connection event
                    await self.link.sleep(self.radio.conn_interval_s)
                if self.connection is None:
                    return
                if (  # the frames sent so far have arrived: walk away now
                    is_file
                    and self.cut_after_bytes is not None
                    and self._file_bytes_sent >= self.cut_after_bytes
                ):
                    self.cut_after_bytes = None
                    await self.drop_connection(away_s=self.cut_away_s)
                    return
                for f in frames[i : i + self.pftp_frames_per_event]:
                    self.send(self._mtu, f)
                    if is_file:
                        self._file_bytes_sent += len(f) - 1
                i += self.pftp_frames_per_event
        except asyncio.CancelledError:
            pass

    def _cancel_tx(self) -> None:
        if self._tx_task is not None:
            self._tx_task.cancel()
            self._tx_task = None

    def on_disconnected(self) -> None:
        self._cancel_tx()
        self._host = pftp.ResponseReader("host message")
        super().on_disconnected()  # an online stream stops with the link; offline goes on

    async def close(self) -> None:
        self._cancel_tx()
        await super().close()

    # --- persistence (LoggingRig) ---------------------------------------------------------------
    def log_state(self) -> dict[str, Any] | None:
        """To rebuild the recording later (:meth:`restore_log`); None if there is none."""
        self.fill_log()
        if self._rec_state is None:
            return None
        first = (
            {str(k): v for k, v in self.rec.first.items()}
            if self.rec is not None
            else self._rec_state.get("first", {})
        )
        return {
            **self._rec_state,
            "first": first,
            "on": self.rec is not None,
            "stopped_at_s": self._stopped_at,
            "time_base_s": self.time_base_s,
            "acc_range_g": self.acc_range_g,
            "gyr_range_dps": self.gyr_range_dps,
            "removed": list(self.removed),
        }

    def restore_log(self, st: dict[str, Any]) -> None:
        """Rebuild the recording a sensor with :meth:`log_state` ``st`` holds now."""
        self.time_base_s = float(st["time_base_s"])
        self.acc_range_g, self.gyr_range_dps = float(st["acc_range_g"]), float(st["gyr_range_dps"])
        rate = float(st["rate_hz"])
        self.rec = _Recorder(self, float(st["tau0_s"]), rate)
        self.rec_dir = st["rec_dir"]
        self._rec_state = {k: st[k] for k in ("tau0_s", "rate_hz", "rec_dir")}
        first = {int(k): v for k, v in st["first"].items()}
        self._rec_state["first"] = {str(k): v for k, v in first.items()}
        for meas in (pl.TYPE_ACC, pl.TYPE_GYRO):
            rng = self.acc_range_g if meas == pl.TYPE_ACC else self.gyr_range_dps
            self.rec_settings[meas] = {
                pl.SETTING_SAMPLE_RATE: int(rate),
                pl.SETTING_RESOLUTION: 16,
                pl.SETTING_RANGE: int(rng),
                pl.SETTING_CHANNELS: 3,
                pl.SETTING_FACTOR: self.factors[meas],
            }
            self.rec.first[meas] = first.get(meas)
            self.rec.on[meas] = first.get(meas) is not None
        stopped = st.get("stopped_at_s")
        self.fill_log(None if stopped is None else float(stopped), flush=stopped is not None)
        if stopped is not None and self.rec is not None:
            self._finish_rec()
            self._stopped_at = float(stopped)
        for p in st.get("removed", []):
            self.files.pop(p, None)
        self.removed.extend(st.get("removed", []))


def _iso(t_s: float) -> str:
    """``YYYY-MM-DD HH:MM:SS`` of ``t_s`` seconds since 2000-01-01."""
    from datetime import datetime, timedelta

    return (datetime(2000, 1, 1) + timedelta(seconds=int(t_s))).strftime("%Y-%m-%d %H:%M:%S")
