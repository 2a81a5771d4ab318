"""Throughput of the vendor decoders (packets/s and samples/s) and, with ``--alignment``, the
time-base alignment of each emulated vendor sensor streamed through bleak.

Run::

    .venv/bin/python benchmarks/bench_decoders.py               # decoder throughput
    .venv/bin/python benchmarks/bench_decoders.py --alignment   # + alignment on the emulator

Throughput: each decoder is fed realistic notifications (as the emulators build them) in a loop,
with a fresh decoder state, and the packets per second of one CPU core are printed together with
the ratio to what the device sends at its highest streaming rate (the "headroom").

Alignment: each emulated device streams ``--seconds`` of session time at ``--speed`` over the
bumble link with a 30 ms connection interval, 10 % skipped connection events and a drifting
device clock (±40 ppm for timestamped devices, ±0.5 % rate error for sample-counting ones); the
session times given by :class:`firmware_bridge.timesync.SensorTimeline` are compared with the
true sample times (after a 60 s warm-up).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable

import numpy as np

from dsp.block import STANDARD_GRAVITY
from firmware_bridge.devices import DecoderState, metawear, movesense, polar, rsc, witmotion


def _signal(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 100.0
    acc = np.stack([3 * np.sin(7 * t), np.sin(11 * t), 9.8 + 8 * np.cos(7 * t)], 1)
    gyr = np.stack([50 * np.sin(7 * t), 400 * np.sin(7 * t), 30 * np.cos(14 * t)], 1)
    return acc + rng.normal(0, 0.05, acc.shape), gyr + rng.normal(0, 0.5, gyr.shape)


def movesense_case() -> tuple[list[bytes], Callable[[], DecoderState], int, float]:
    acc, gyr = _signal(8 * 400)
    pk = [
        bytes([2, movesense.IMU6_REF])
        + movesense.encode_imu6_payload(i * 77, acc[8 * i : 8 * i + 8], gyr[8 * i : 8 * i + 8])
        for i in range(400)
    ]

    def state() -> DecoderState:
        return DecoderState(208.0, 8.0, 2000.0, mtu=247, extra={"ref": movesense.IMU6_REF})

    return pk, state, 8, 1666.0 / 8  # 8 samples per notification at up to 1666 Hz


def metawear_case() -> tuple[list[bytes], Callable[[], DecoderState], int, float]:
    acc, gyr = _signal(3 * 400)
    pk = []
    for i in range(400):
        a = acc[3 * i : 3 * i + 3] / STANDARD_GRAVITY * 2048
        g = gyr[3 * i : 3 * i + 3] * 16.4
        pk += [metawear.encode_packed(0x03, 0x05, a), metawear.encode_packed(0x13, 0x05, g)]

    def state() -> DecoderState:
        return DecoderState(100.0, 16.0, 2000.0, extra={"chip": "bmi270"})

    return pk, state, 3, 2 * 200.0 / 3  # acc + gyro packets at 200 Hz


def witmotion_case() -> tuple[list[bytes], Callable[[], DecoderState], int, float]:
    acc, gyr = _signal(400)
    pk = [
        witmotion.encode_frame(acc[i] / STANDARD_GRAVITY, gyr[i], np.zeros(3)) for i in range(400)
    ]

    def state() -> DecoderState:
        return DecoderState(200.0, 16.0, 2000.0)

    return pk, state, 1, 200.0  # one frame per notification at 200 Hz


def polar_case() -> tuple[list[bytes], Callable[[], DecoderState], int, float]:
    spp = 36
    acc, gyr = _signal(spp * 200)
    f_acc, f_gyr = 8000 / 32768, 2000 / 32768
    pk = []
    for i in range(200):
        ts = 10**18 + i * spp * 19_230_769
        a = np.rint(acc[spp * i : spp * (i + 1)] / STANDARD_GRAVITY * 1000 / f_acc)
        g = np.rint(gyr[spp * i : spp * (i + 1)] / f_gyr)
        pk.append(polar.encode_data_frame(2, ts, 0x81, polar.encode_delta_frame(a)))
        pk.append(polar.encode_data_frame(5, ts, 0x80, polar.encode_delta_frame(g)))

    def state() -> DecoderState:
        return DecoderState(52.0, 8.0, 2000.0, extra={"factor": {2: f_acc, 5: f_gyr}})

    return pk, state, spp // 2, 2 * 416.0 / spp  # ACC + GYRO frames at 416 Hz


def rsc_case() -> tuple[list[bytes], Callable[[], DecoderState], int, float]:
    pk = [
        rsc.encode_rsc_measurement(rsc.RscMeasurement(3 + i / 1000, 170, 1.1, i * 3.0, True))
        for i in range(400)
    ]

    def state() -> DecoderState:
        return DecoderState(1.0, 0.0, 0.0)

    return pk, state, 1, 1.0


CASES = {
    "movesense": (movesense.DRIVER, movesense_case),
    "metawear": (metawear.DRIVER, metawear_case),
    "witmotion": (witmotion.DRIVER, witmotion_case),
    "polar": (polar.DRIVER, polar_case),
    "rsc": (rsc.DRIVER, rsc_case),
}


def throughput(min_time_s: float = 0.5) -> None:
    print(
        f"{'decoder':<10} {'packets/s':>11} {'samples/s':>11} {'device pk/s':>11} {'headroom':>9}"
    )
    for name, (driver, make) in CASES.items():
        packets, make_state, spp, device_rate = make()
        decode = driver.decode_stream if name == "rsc" else driver.decode
        n = 0
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < min_time_s:
            st = make_state()
            for p in packets:
                decode(p, st)
            n += len(packets)
        dt = time.perf_counter() - t0
        rate = n / dt
        print(
            f"{name:<10} {rate:>11,.0f} {rate * spp:>11,.0f} {device_rate:>11,.0f} "
            f"{rate / device_rate:>8,.0f}x"
        )


def alignment(seconds: float, speed: float, only: list[str] | None = None) -> None:
    from firmware_bridge.devices import StreamSettings
    from firmware_bridge.emulator.base import DeviceClock, RadioConditions, SyntheticSignal
    from firmware_bridge.emulator.metawear import EmulatedMetaWear
    from firmware_bridge.emulator.movesense import EmulatedMovesense
    from firmware_bridge.emulator.polar import EmulatedPolarVeritySense
    from firmware_bridge.emulator.vendor_harness import stream_emulated
    from firmware_bridge.emulator.witmotion import EmulatedWitMotion
    from firmware_bridge.virtual_link import VirtualLink

    devices = [
        ("movesense", EmulatedMovesense, {}, 104.0, 40.0, 100.0),
        ("metawear", EmulatedMetaWear, {"chip": "bmi160"}, 100.0, 5000.0, 0.0),
        ("witmotion", EmulatedWitMotion, {}, 100.0, -5000.0, 0.0),
        ("polar", EmulatedPolarVeritySense, {}, 52.0, -40.0, 8.1e8),
    ]
    print(
        f"\n{seconds:g} s at {speed:g}x, 30 ms connection interval, 10 % skipped events; "
        "error = session time - true sample time, after 60 s"
    )
    print(
        f"{'device':<10} {'clock':>10} {'samples':>8} {'lost':>5} {'median ms':>10} "
        f"{'p95|dev| ms':>12} {'max|err| ms':>12} {'max first 60 s':>15}"
    )

    async def one(name, cls, kw, rate, drift, offset):
        link = VirtualLink(speed=speed)
        per = cls(
            link,
            signal=SyntheticSignal(),
            clock=DeviceClock(offset, drift),
            radio=RadioConditions(0.030, 0.10),
            seed=3,
            **kw,
        )
        await per.start()
        try:
            res = await stream_emulated(per, seconds, StreamSettings(rate_hz=rate))
        finally:
            await per.close()
        err = res.alignment_error(skip_s=60.0) * 1e3
        early = np.max(np.abs(res.alignment_error(skip_s=0.0)[: int(60 * rate)])) * 1e3
        med = np.median(err)
        print(
            f"{name:<10} {drift:>7g}ppm {len(res.t):>8} {res.lost:>5} {med:>10.2f} "
            f"{np.percentile(np.abs(err - med), 95):>12.2f} {np.max(np.abs(err)):>12.2f} "
            f"{early:>15.2f}"
        )

    for d in devices:
        if only is None or d[0] in only:
            asyncio.run(one(*d))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--alignment", action="store_true", help="also measure time-base alignment")
    ap.add_argument("--seconds", type=float, default=300.0, help="session seconds per device")
    ap.add_argument("--speed", type=float, default=3.0, help="session seconds per wall second")
    ap.add_argument("--devices", nargs="*", help="only these (movesense metawear witmotion polar)")
    args = ap.parse_args()
    throughput()
    if args.alignment:
        alignment(args.seconds, args.speed, args.devices)


if __name__ == "__main__":
    main()
