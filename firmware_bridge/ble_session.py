"""Streaming several BLE sensors at once with bleak: a :class:`~dsp.source.BlockSource`.

One task per sensor owns its connection: connect (one connect at a time, under a lock — BLE
adapters handle one pending connection), subscribe to the driver's data characteristics, send
the driver's start commands, then wait for a disconnect; on a disconnect it reconnects with
exponential backoff (bleak-retry-connector for the connect itself), re-subscribes and re-sends
the start commands, for as long as the session runs — recording never stops because one sensor
dropped. Connection resources live in an :class:`contextlib.AsyncExitStack` per connection, the
tasks in one per session.

Notification callbacks only enqueue ``(sensor, host arrival time, payload)``; decoding
(:meth:`DeviceDriver.decode`) and time sync (:class:`~firmware_bridge.timesync.SensorTimeline`)
run in :meth:`BleSession.blocks`, outside the callback. Nothing is dropped between the callback
and the consumer (the queue is unbounded; its size is reported).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dsp.block import PLACEMENTS, SENSOR_ID_PATTERN, SampleBlock, SensorInfo
from dsp.source import SensorStatus
from firmware_bridge.devices import DRIVERS, DecodeError, DecoderState, DeviceDriver, StreamSettings
from firmware_bridge.devices import driver_by_name as _driver_by_name
from firmware_bridge.devices.base import settings_changed
from firmware_bridge.errors import DeviceError, no_bluetooth
from firmware_bridge.timesync import SensorTimeline

__all__ = ["BleSession", "SensorSpec"]

log = logging.getLogger(__name__)

_SEGMENT, _DATA, _END = 0, 1, 2


def _is_stream(driver: DeviceDriver) -> bool:
    """A driver of a non-IMU device (e.g. an RSC footpod) feeding a ``/streams`` group."""
    return bool(getattr(driver, "stream_kind", None))


@dataclass(frozen=True)
class SensorSpec:
    """One sensor to stream.

    Parameters
    ----------
    sensor_id : str
        Unique id; also the placement when it is one of ``left_foot``, ``right_foot``, ``pelvis``.
    address : str
        Bluetooth address (or platform identifier).
    placement : str, optional
        Placement if ``sensor_id`` is not one.
    driver : str, optional
        ``device_model`` of the driver; detected from the GATT services when omitted.
    """

    sensor_id: str
    address: str
    placement: str | None = None
    driver: str | None = None

    @property
    def where(self) -> str:
        """The IMU placement (raises :class:`DeviceError` when there is none)."""
        if self.placement in PLACEMENTS:
            return self.placement
        if self.placement is None and self.sensor_id in PLACEMENTS:
            return self.sensor_id
        raise DeviceError(
            f"sensor {self.sensor_id}: placement {self.placement or self.sensor_id!r}, expected "
            f"one of {', '.join(PLACEMENTS)} (only a footpod may be placed elsewhere)"
        )


@dataclass
class _Sensor:
    spec: SensorSpec
    status: SensorStatus
    timeline: SensorTimeline
    driver: DeviceDriver | None = None
    state: DecoderState | None = None
    info: SensorInfo | None = None
    firmware: str | None = None
    started: asyncio.Future[None] | None = None
    rate_window: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=64))
    last_error: str = ""
    stream_t: list[float] = field(default_factory=list)
    stream_rows: list[dict[str, float]] = field(default_factory=list)


class BleSession:
    """Stream several BLE sensors on one time base; a :class:`~dsp.source.BlockSource`.

    Parameters
    ----------
    sensors : list of SensorSpec, or dict of sensor id → address
        The sensors to stream.
    settings : StreamSettings
        Rate and ranges asked of every sensor.
    client_backend, scanner_backend : type, optional
        bleak client and scanner backend classes (``None``: the platform's, e.g. BlueZ).
    backend_kwargs : dict, optional
        Extra keyword arguments for the bleak client (e.g. ``link=`` for the bumble backend).
    clock : callable, optional
        Host clock in s (default :func:`time.monotonic`).
    sleep : callable, optional
        Coroutine sleeping a number of seconds of that clock (default :func:`asyncio.sleep`).
    connect_timeout_s : float
        Timeout of one connection attempt, s.
    first_connect_attempts : int
        Attempts per sensor before :meth:`__aenter__` gives up.
    backoff_min_s, backoff_max_s : float
        Reconnect backoff: starts at the minimum, doubles up to the maximum, ±20 % jitter.
    battery_interval_s : float
        How often the battery level is read, s.
    use_retry_connector : bool
        Connect through ``bleak_retry_connector.establish_connection``.
    hold_s : float
        The first packets of each sensor are held back this long so that the time sync starts
        from the lower envelope of their arrivals (see :class:`SensorTimeline`), s. Kept short:
        held data are not yet on disk if the recorder is killed.
    """

    def __init__(
        self,
        sensors: list[SensorSpec] | dict[str, str],
        *,
        settings: StreamSettings | None = None,
        client_backend: type | None = None,
        scanner_backend: type | None = None,
        backend_kwargs: dict[str, Any] | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        connect_timeout_s: float = 10.0,
        first_connect_attempts: int = 3,
        backoff_min_s: float = 0.5,
        backoff_max_s: float = 10.0,
        battery_interval_s: float = 60.0,
        use_retry_connector: bool = True,
        hold_s: float = 0.2,
    ) -> None:
        if isinstance(sensors, dict):
            sensors = [SensorSpec(sid, addr) for sid, addr in sensors.items()]
        if not sensors:
            raise DeviceError("BLE session: no sensors given, expected at least one")
        ids = [s.sensor_id for s in sensors]
        if len(set(ids)) != len(ids):
            raise DeviceError(f"BLE session: sensor ids {ids} are not unique")
        for s in sensors:
            if not SENSOR_ID_PATTERN.match(s.sensor_id):
                raise DeviceError(
                    f"sensor id {s.sensor_id!r}: expected 1-32 characters of [a-z0-9_]"
                )
            if s.driver is not None and _is_stream(_driver_by_name(s.driver)):
                continue  # a footpod's placement is free text
            if s.placement is not None or s.driver is not None:
                s.where  # noqa: B018 - an IMU needs a placement: checked early
        self.settings = settings or StreamSettings()
        self.client_backend = client_backend
        self.scanner_backend = scanner_backend
        self.backend_kwargs = dict(backend_kwargs or {})
        self.clock = clock or time.monotonic
        self._sleep = sleep or asyncio.sleep
        self.connect_timeout_s = connect_timeout_s
        self.first_connect_attempts = first_connect_attempts
        self.backoff_min_s = backoff_min_s
        self.backoff_max_s = backoff_max_s
        self.battery_interval_s = battery_interval_s
        self.use_retry_connector = use_retry_connector
        self.hold_s = hold_s
        self.t0 = 0.0
        self._sensors = {
            s.sensor_id: _Sensor(
                spec=s, status=SensorStatus(s.sensor_id, connected=False), timeline=SensorTimeline()
            )
            for s in sensors
        }
        self._queue: asyncio.Queue[tuple[int, str, float, bytes]] | None = None
        self._connect_lock: asyncio.Lock | None = None
        self._stack: contextlib.AsyncExitStack | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._ended = False

    @classmethod
    def on_virtual_link(cls, sensors: list[SensorSpec] | dict[str, str], link: Any, **kwargs: Any):
        """A session over the bumble backend on ``link``, on the link's (virtual) clock."""
        from firmware_bridge.bumble_backend import BumbleClient, BumbleScanner

        kwargs.setdefault("client_backend", BumbleClient)
        kwargs.setdefault("scanner_backend", BumbleScanner)
        kwargs.setdefault("clock", link.now)
        kwargs.setdefault("sleep", link.sleep)
        kwargs.setdefault("backend_kwargs", {}).setdefault("link", link)
        return cls(sensors, **kwargs)

    # --- BlockSource ---------------------------------------------------------------------------
    @property
    def sensors(self) -> list[SensorInfo]:
        """SensorInfo of every sensor (known once the session is entered)."""
        return [s.info for s in self._sensors.values() if s.info is not None]

    def status(self) -> dict[str, SensorStatus]:
        """Live diagnostics per sensor (rate over the last seconds, losses, battery, ...)."""
        out = {}
        now = self.clock()
        for sid, s in self._sensors.items():
            st = s.status
            st.lost_samples = s.timeline.lost_samples
            w = s.rate_window
            if len(w) >= 2 and now - w[-1][0] < 2.0 + 1.0 / max(st.rate_hz, 0.5):
                dt = w[-1][0] - w[0][0]
                st.rate_hz = (w[-1][1] - w[0][1]) / dt if dt > 0 else 0.0
            else:
                st.rate_hz = 0.0
            out[sid] = st
        return out

    def now(self) -> float:
        """Session time, s (0 when the session was entered)."""
        return self.clock() - self.t0

    @property
    def queued(self) -> int:
        """Packets received but not yet decoded."""
        return self._queue.qsize() if self._queue is not None else 0

    async def __aenter__(self) -> BleSession:
        self._queue = asyncio.Queue()
        self._connect_lock = asyncio.Lock()
        self.t0 = self.clock()
        loop = asyncio.get_running_loop()
        for s in self._sensors.values():
            s.timeline = SensorTimeline(self.t0, hold_s=self.hold_s)
            s.started = loop.create_future()
        self._stack = contextlib.AsyncExitStack()
        await self._stack.__aenter__()
        self._stack.push_async_callback(self._cancel_tasks)
        try:
            for s in self._sensors.values():
                self._tasks.append(loop.create_task(self._run(s), name=f"ble-{s.spec.sensor_id}"))
            for s in self._sensors.values():
                assert s.started is not None
                await s.started
        except BaseException:
            self.stop()
            await self._stack.aclose()
            # the first failure is the one raised; the others' (all sensors fail alike when
            # there is no Bluetooth) are taken here, else asyncio logs each at exit as
            # "Future exception was never retrieved"
            for other in self._sensors.values():
                if other.started is not None and other.started.done():
                    if not other.started.cancelled():
                        other.started.exception()
                elif other.started is not None:
                    other.started.cancel()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop()
        if self._stack is not None:
            await self._stack.aclose()
            self._stack = None

    def stop(self) -> None:
        """Ask the session to end: :meth:`blocks` yields what is queued, then ends."""
        if not self._stopping:
            self._stopping = True
            if self._queue is not None:
                self._queue.put_nowait((_END, "", 0.0, b""))

    async def _cancel_tasks(self) -> None:
        # let each sensor stop its device and disconnect; cancel what does not finish
        if self._tasks:
            _, late = await asyncio.wait(self._tasks, timeout=5.0)
            for t in late:
                t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()

    # --- per-sensor connection loop -------------------------------------------------------------
    def _on_notify(self, sid: str, _char: Any, data: bytearray) -> None:
        # the only thing a notification callback does
        assert self._queue is not None
        self._queue.put_nowait((_DATA, sid, self.clock(), bytes(data)))

    async def _connect(self, s: _Sensor, on_disconnect: Callable[[Any], None]) -> Any:
        from bleak import BleakClient

        kwargs = dict(self.backend_kwargs)
        if self.client_backend is not None:
            kwargs["backend"] = self.client_backend
        if self.use_retry_connector:
            from bleak import BleakScanner
            from bleak.exc import BleakDeviceNotFoundError
            from bleak_retry_connector import establish_connection

            # establish_connection wants the BLEDevice of a scan (BlueZ needs its D-Bus path)
            scan_kwargs = dict(self.backend_kwargs)
            if self.scanner_backend is not None:
                scan_kwargs["backend"] = self.scanner_backend
            device = await BleakScanner.find_device_by_address(
                s.spec.address, timeout=self.connect_timeout_s, **scan_kwargs
            )
            if device is None:
                raise BleakDeviceNotFoundError(
                    s.spec.address, f"device {s.spec.address} not found in a scan"
                )
            async with asyncio.timeout(self.connect_timeout_s * 1.5 + 1.0):
                return await establish_connection(
                    BleakClient,
                    device,
                    s.spec.sensor_id,
                    disconnected_callback=on_disconnect,
                    max_attempts=1,
                    timeout=self.connect_timeout_s,
                    **kwargs,
                )
        client = BleakClient(
            s.spec.address,
            disconnected_callback=on_disconnect,
            timeout=self.connect_timeout_s,
            **kwargs,
        )
        await client.connect()
        return client

    def _identify(self, s: _Sensor, client: Any) -> DeviceDriver:
        if s.spec.driver:
            return _driver_by_name(s.spec.driver)
        uuids = {svc.uuid.lower() for svc in client.services}
        for d in DRIVERS:
            if uuids.intersection(u.lower() for u in d.service_uuids):
                return d
        raise DeviceError(
            f"sensor {s.spec.sensor_id} ({s.spec.address}): no known service among "
            f"{sorted(uuids)}; expected a device runform supports (see `runform scan`)"
        )

    async def _run(self, s: _Sensor) -> None:
        sid = s.spec.sensor_id
        attempt = 0
        failures = 0
        assert self._queue is not None and self._connect_lock is not None and s.started
        while not self._stopping:
            disconnected = asyncio.Event()

            def on_disconnect(_client: Any, ev: asyncio.Event = disconnected) -> None:
                ev.set()

            try:
                async with self._connect_lock:
                    client = await self._connect(s, on_disconnect)
                async with contextlib.AsyncExitStack() as stack:
                    stack.push_async_callback(self._safe_disconnect, client)
                    driver = s.driver or self._identify(s, client)
                    s.driver = driver
                    self._queue.put_nowait((_SEGMENT, sid, self.clock(), b""))
                    for uuid in driver.data_characteristics:
                        await client.start_notify(uuid, functools.partial(self._on_notify, sid))
                    s.state = await driver.start(client, self.settings)
                    stack.push_async_callback(self._safe_stop, driver, client)
                    if s.firmware is None:
                        s.firmware = await driver.read_firmware(client)
                    if s.info is None and not _is_stream(driver):
                        s.info = driver.sensor_info(sid, s.spec.where, s.state, s.firmware)
                    s.status.battery_pct = await driver.read_battery(client)
                    s.status.connected = True
                    if not s.started.done():
                        changed = (
                            None if _is_stream(driver) else settings_changed(self.settings, s.state)
                        )
                        if changed:  # (a rate or range the device does not have)
                            log.warning(
                                "sensor %s (%s): %s (the nearest the device has)",
                                sid,
                                driver.name,
                                changed,
                            )
                        s.started.set_result(None)
                    else:
                        s.status.reconnects += 1
                        log.warning("sensor %s: reconnected", sid)
                    attempt = 0
                    await self._watch(s, driver, client, disconnected)
            except asyncio.CancelledError:
                s.status.connected = False
                raise
            except DeviceError as exc:  # the device refuses: retrying will not help
                s.status.connected = False
                if not s.started.done():
                    s.started.set_exception(exc)
                    return
                log.error("%s", exc)
            except Exception as exc:
                s.status.connected = False
                failures += 1
                s.last_error = f"{type(exc).__name__}: {exc}"
                if no_bluetooth(exc) and not s.started.done():
                    s.started.set_exception(
                        DeviceError(
                            f"sensor {sid}: Bluetooth is not available on this machine "
                            f"({s.last_error}); is there an adapter and is BlueZ running? "
                            "(--simulate needs none)"
                        )
                    )
                    return
                log.info("sensor %s: connection failed: %s", sid, s.last_error)
                if not s.started.done() and failures >= self.first_connect_attempts:
                    s.started.set_exception(
                        DeviceError(
                            f"sensor {sid} ({s.spec.address}): could not connect after "
                            f"{failures} attempts ({s.last_error}); is it on, in range, "
                            "and not connected to another app?"
                        )
                    )
                    return
            s.status.connected = False
            if self._stopping:
                break
            if s.started.done():
                log.warning("sensor %s: disconnected; reconnecting", sid)
            delay = min(self.backoff_max_s, self.backoff_min_s * 2**attempt)
            attempt += 1
            await self._sleep(delay * random.uniform(0.8, 1.2))
        if not s.started.done():
            s.started.set_exception(DeviceError(f"sensor {sid}: stopped before it connected"))

    async def _watch(self, s: _Sensor, driver: DeviceDriver, client: Any, ev: asyncio.Event):
        next_battery = self.clock() + self.battery_interval_s
        while not self._stopping and not ev.is_set() and client.is_connected:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.25):
                    await ev.wait()
            if self.clock() >= next_battery and client.is_connected:
                next_battery = self.clock() + self.battery_interval_s
                with contextlib.suppress(Exception):
                    s.status.battery_pct = await driver.read_battery(client)

    async def _safe_stop(self, driver: DeviceDriver, client: Any) -> None:
        if client.is_connected:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2.0):
                    await driver.stop(client)

    @staticmethod
    async def _safe_disconnect(client: Any) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(5.0):
                await client.disconnect()

    # --- decoding + time sync (outside the callbacks) -------------------------------------------
    async def blocks(self) -> AsyncIterator[SampleBlock]:
        """Blocks of all sensors as they arrive; ends after :meth:`stop` once the queue is
        drained."""
        if self._queue is None:
            raise DeviceError("BLE session: enter it (async with) before reading blocks")
        q = self._queue
        while not self._ended:
            items = [await q.get()]
            while not q.empty() and len(items) < 4096:
                items.append(q.get_nowait())
            pending: dict[str, list[tuple[Any, Any]]] = {}
            for kind, sid, arrival, payload in items:
                if kind == _END:
                    self._ended = True
                    for s in self._sensors.values():  # a short run may still be held back
                        pending.setdefault(s.spec.sensor_id, []).extend(s.timeline.flush())
                    continue
                s = self._sensors[sid]
                if kind == _SEGMENT:
                    if s.timeline.holding:  # keep the reconnect mark between the right packets
                        pending.setdefault(sid, []).extend(s.timeline.flush())
                    s.timeline.reconnected()
                    continue
                self._decode(s, arrival, payload, pending)
            for sid, parts in pending.items():
                if parts:
                    yield self._make_block(sid, parts)
        for sid, s in self._sensors.items():  # a sensor still gone at the end: record the gap
            if not s.status.connected and math.isfinite(s.timeline.last_t):
                end = self.now()
                if end > s.timeline.last_t:
                    yield SampleBlock(
                        sid,
                        np.empty(0),
                        np.empty((0, 3)),
                        np.empty((0, 3)),
                        seq=np.empty(0, dtype=np.uint32),
                        gaps=np.array([[s.timeline.last_t, end]]),
                    )

    def _decode(self, s: _Sensor, arrival: float, payload: bytes, pending: dict) -> None:
        if s.driver is None or s.state is None:
            s.status.bad_packets += 1
            return
        if _is_stream(s.driver):
            self._decode_stream(s, arrival, payload)
            return
        try:
            dec = s.driver.decode(payload, s.state)
        except DecodeError as exc:
            s.status.bad_packets += 1
            log.debug("sensor %s: bad packet: %s", s.spec.sensor_id, exc)
            return
        if dec.battery_pct is not None:
            s.status.battery_pct = dec.battery_pct
        s.status.samples += len(dec)
        s.rate_window.append((arrival, s.status.samples))
        while len(s.rate_window) > 2 and arrival - s.rate_window[0][0] > 3.0:
            s.rate_window.popleft()
        pending.setdefault(s.spec.sensor_id, []).extend(s.timeline.feed(dec, arrival))

    def _decode_stream(self, s: _Sensor, arrival: float, payload: bytes) -> None:
        try:
            row = s.driver.decode_stream(payload, s.state)  # type: ignore[union-attr]
        except DecodeError as exc:
            s.status.bad_packets += 1
            log.debug("sensor %s: bad packet: %s", s.spec.sensor_id, exc)
            return
        # no device clock: stamped with the arrival time (a pod reports once a second)
        t = arrival - self.t0
        if s.stream_t and t <= s.stream_t[-1]:
            return
        s.stream_t.append(t)
        s.stream_rows.append(row)
        s.status.samples += 1
        s.rate_window.append((arrival, s.status.samples))

    def drain_streams(self) -> list[tuple[str, np.ndarray, dict[str, np.ndarray], str, str]]:
        """Non-IMU rows received since the last call (footpods), for
        :meth:`recordings.RecordingWriter.append_stream`.

        Returns
        -------
        list of (stream_id, t (N,), {quantity: (N,)}, device_model, placement)
        """
        out = []
        for sid, s in self._sensors.items():
            if not s.stream_t or s.driver is None:
                continue
            t = np.asarray(s.stream_t, dtype=np.float64)
            keys = list(s.stream_rows[0])
            values = {k: np.array([r[k] for r in s.stream_rows], dtype=np.float64) for k in keys}
            s.stream_t, s.stream_rows = [], []
            out.append((sid, t, values, s.driver.name, s.spec.placement or sid))
        return out

    @staticmethod
    def _make_block(sid: str, parts: list[tuple[Any, Any]]) -> SampleBlock:
        gaps = [timed.gap for _, timed in parts if timed.gap is not None]
        return SampleBlock(
            sensor_id=sid,
            t=np.concatenate([timed.t for _, timed in parts]),
            acc=np.concatenate([dec.acc for dec, _ in parts]),
            gyr=np.concatenate([dec.gyr for dec, _ in parts]),
            seq=np.concatenate([timed.seq for _, timed in parts]),
            gaps=np.array(gaps, dtype=np.float64).reshape(-1, 2),
        )
