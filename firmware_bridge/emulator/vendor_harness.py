"""Stream one emulated vendor sensor end to end through bleak and measure what arrives.

The path is the real one: :class:`bleak.BleakScanner` (bumble backend) sees the advertisement,
:func:`firmware_bridge.devices.detect` names the driver, :class:`bleak.BleakClient` connects and
subscribes, the driver's ``start`` configures the emulated device over GATT, notifications are
stamped with the session clock on arrival, decoded by the driver and timed by
:class:`firmware_bridge.timesync.SensorTimeline`. The result is compared with the emulator's
ground truth: samples lost, value errors, and the alignment of the session times with the true
sample times (what the time sync achieves from device timestamps or, for MetaWear and WitMotion,
from sample counting and host-arrival regression).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from firmware_bridge.devices import Advertisement, DecodeError, DeviceDriver, StreamSettings, detect
from firmware_bridge.emulator._vendor import VendorPeripheral
from firmware_bridge.timesync import SensorTimeline, delivered_samples

__all__ = ["StreamResult", "emulator_for", "stream_emulated"]

log = logging.getLogger(__name__)


def emulator_for(device_model: str) -> type[VendorPeripheral]:
    """The emulator class of a vendor ``device_model`` (``movesense``, ``metawear``,
    ``witmotion``, ``polar-verity-sense``, ``rsc-footpod``).

    Raises
    ------
    KeyError
        Unknown model (the message lists the known ones).
    """
    from firmware_bridge.emulator.metawear import EmulatedMetaWear
    from firmware_bridge.emulator.movesense import EmulatedMovesense
    from firmware_bridge.emulator.polar import EmulatedPolarVeritySense
    from firmware_bridge.emulator.rsc import EmulatedFootpod
    from firmware_bridge.emulator.witmotion import EmulatedWitMotion

    known: dict[str, type[VendorPeripheral]] = {
        c.device_model: c
        for c in (
            EmulatedMovesense,
            EmulatedMetaWear,
            EmulatedWitMotion,
            EmulatedPolarVeritySense,
            EmulatedFootpod,
        )
    }
    if device_model not in known:
        raise KeyError(f"no emulator for {device_model!r}; known: {', '.join(sorted(known))}")
    return known[device_model]


@dataclass
class StreamResult:
    """What one end-to-end stream delivered and how it compares with the truth.

    Attributes
    ----------
    driver : DeviceDriver
        The driver ``detect`` chose from the advertisement.
    t : ndarray (N,)
        Session times of the decoded samples, s.
    acc, gyr : ndarray (N, 3)
        Decoded samples, m/s² and deg/s.
    device_time : ndarray (N,)
        Device time of each sample when the device sends timestamps, else NaN.
    packets, bad_packets : int
        Notifications received on the data characteristics; those the decoder refused.
    truth_t, truth_tau : ndarray (M,)
        True session times and device times of every sample the emulator took.
    truth_sent : ndarray (M,)
        Session time at which each of them was packed and handed to the radio.
    matched : ndarray (N,), int
        Index into the truth of each decoded sample (-1 if none).
    lost : int
        Truth samples between the first and last matched one that never arrived decoded.
    """

    driver: DeviceDriver
    t: np.ndarray
    acc: np.ndarray
    gyr: np.ndarray
    device_time: np.ndarray
    packets: int
    bad_packets: int
    truth_t: np.ndarray
    truth_tau: np.ndarray
    truth_sent: np.ndarray
    matched: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=int))
    lost: int = 0
    wall_s: float = 0.0
    t_start: float = 0.0
    t_stop: float = 0.0

    def sent_before_stop(self) -> int:
        """Truth samples the device handed to its radio before the stop command: what the
        central must receive."""
        return int(np.sum(self.truth_sent <= self.t_stop))

    def received_of_sent(self) -> int:
        """How many of :meth:`sent_before_stop` were decoded."""
        ok = np.unique(self.matched[self.matched >= 0])
        return int(np.sum(self.truth_sent[ok] <= self.t_stop))

    def alignment_error(self, skip_s: float = 10.0) -> np.ndarray:
        """``t − t_true`` of the matched samples after the first ``skip_s`` s (warm-up), s."""
        ok = self.matched >= 0
        err = self.t[ok] - self.truth_t[self.matched[ok]]
        keep = self.t[ok] >= (self.t[ok][0] + skip_s if ok.any() else 0.0)
        return err[keep]


async def stream_emulated(
    peripheral: VendorPeripheral,
    duration_s: float,
    settings: StreamSettings,
    *,
    expect: str | None = None,
    scan_timeout_s: float = 5.0,
    mtu: int | None = None,
) -> StreamResult:
    """Scan, detect, connect, start, stream ``duration_s`` of session time, stop, decode, time.

    Parameters
    ----------
    peripheral : VendorPeripheral
        A started emulated device (advertising on its link).
    duration_s : float
        Session seconds to stream after ``start`` returned.
    settings : StreamSettings
        What to ask the driver for.
    expect : str, optional
        ``device_model`` the detected driver must have.
    mtu : int, optional
        ATT MTU the central asks for (default: the bumble backend's, 247).
    """
    from bleak import BleakClient, BleakScanner

    from firmware_bridge.bumble_backend import BumbleClient, BumbleScanner

    link = peripheral.link
    loop = asyncio.get_running_loop()
    wall0 = loop.time()
    adv: Advertisement | None = None
    found = asyncio.Event()

    def on_adv(device: Any, data: Any) -> None:
        nonlocal adv
        if device.address == peripheral.address and adv is None:
            adv = Advertisement.from_bleak(device, data)
            found.set()

    async with BleakScanner(on_adv, backend=BumbleScanner, link=link):
        await asyncio.wait_for(found.wait(), scan_timeout_s)
    assert adv is not None
    driver = detect(adv)
    if driver is None or (expect is not None and driver.name != expect):
        raise AssertionError(f"advertisement {adv} detected as {driver and driver.name}")

    arrivals: list[tuple[float, bytes]] = []

    def on_notify(_char: Any, data: bytearray) -> None:
        arrivals.append((link.now(), bytes(data)))

    kwargs: dict[str, Any] = {"backend": BumbleClient, "link": link}
    if mtu is not None:
        kwargs["mtu"] = mtu
    async with BleakClient(peripheral.address, **kwargs) as client:
        for uuid in driver.data_characteristics:
            await client.start_notify(uuid, on_notify)
        peripheral.reset_truth()
        state = await driver.start(client, settings)
        t_start = link.now()
        await link.sleep(duration_s)
        t_stop = link.now()
        await driver.stop(client)
        await link.sleep(max(0.5, 3 * peripheral.radio.conn_interval_s))
        for uuid in driver.data_characteristics:
            await client.stop_notify(uuid)

    timeline = SensorTimeline(0.0)
    ts, accs, gyrs, devt = [], [], [], []
    bad = 0
    resolution = 0.0  # coarsest device timestamp quantum seen, s
    for arrival, payload in arrivals:
        try:
            dec = driver.decode(payload, state)
        except DecodeError as exc:
            bad += 1
            log.debug("bad packet: %s", exc)
            continue
        timed = timeline.push(dec, arrival)
        if timed is None:
            continue
        dec = delivered_samples(dec, timed)
        resolution = max(resolution, dec.device_time_resolution_s or 0.0)
        ts.append(timed.t)
        accs.append(dec.acc)
        gyrs.append(dec.gyr)
        n = len(dec)
        if dec.device_time_s is not None:
            devt.append(dec.device_time_s + np.arange(n) * dec.sample_period_s)
        else:
            devt.append(np.full(n, np.nan))
    truth_t, truth_tau, _ = peripheral.truth()
    res = StreamResult(
        driver=driver,
        t=np.concatenate(ts) if ts else np.empty(0),
        acc=np.concatenate(accs) if accs else np.empty((0, 3)),
        gyr=np.concatenate(gyrs) if gyrs else np.empty((0, 3)),
        device_time=np.concatenate(devt) if devt else np.empty(0),
        packets=len(arrivals),
        bad_packets=bad,
        truth_t=truth_t,
        truth_tau=truth_tau,
        truth_sent=peripheral.generated_at(),
        wall_s=loop.time() - wall0,
        t_start=t_start,
        t_stop=t_stop,
    )
    _match(res, state.sample_rate_hz, resolution)
    return res


def _match(res: StreamResult, rate_hz: float, resolution_s: float = 0.0) -> None:
    """Map decoded samples to truth samples (by device time, else by order) and count losses."""
    n, m = len(res.t), len(res.truth_t)
    matched = np.full(n, -1, dtype=int)
    if n == 0 or m == 0:
        res.matched, res.lost = matched, 0
        return
    period = 1.0 / rate_hz
    if np.isfinite(res.device_time).all():
        # the device clock of the emulator is what the timestamps encode (ms/ns rounding aside)
        idx = np.clip(np.searchsorted(res.truth_tau, res.device_time), 1, m - 1)
        near = np.where(
            np.abs(res.truth_tau[idx - 1] - res.device_time)
            < np.abs(res.truth_tau[idx] - res.device_time),
            idx - 1,
            idx,
        )
        # a coarse stamp (Movesense: whole ms) is off by up to half its quantum
        tol = max(period / 4, 0.5 * resolution_s + 1e-6)
        ok = np.abs(res.truth_tau[near] - res.device_time) < tol
        matched[ok] = near[ok]
    else:
        # sample counting: the k-th decoded sample is the k-th sample taken since the stream
        # started (the truth is recorded from the start command on)
        idx = np.arange(n)
        ok = idx < m
        matched[ok] = idx[ok]
    res.matched = matched
    got = matched[matched >= 0]
    res.lost = int(got.max() - got.min() + 1 - len(np.unique(got))) if len(got) else 0
