"""BLE bridge numbers: DIY decoder throughput, time sync throughput, and sustained streaming of
three emulated sensors through bleak + bumble into an HDF5 recording (samples lost, CPU use,
inter-sensor time alignment error against the emulators' truth).

    .venv/bin/python benchmarks/bench_ble.py                    # 10 min at 833 Hz, real time
    .venv/bin/python benchmarks/bench_ble.py --duration 60      # shorter
    .venv/bin/python benchmarks/bench_ble.py --skip-stream      # decoder + time sync only

CPU use of the streaming run is the whole process: the three emulated peripherals, both sides
of the virtual bumble radio (controllers, HCI, L2CAP, ATT) and the runform pipeline (bleak
client, decoding, time sync, HDF5 writer).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time

import numpy as np

from firmware_bridge.devices import DecoderState, diy
from firmware_bridge.timesync import SensorTimeline


def bench_decoder(n_packets: int = 100_000) -> None:
    rng = np.random.default_rng(0)
    state = DecoderState(833.0, 16.0, 2000.0, 247)
    packets = [
        diy.encode_packet(
            rng.integers(-32768, 32768, size=(19, 6)), i, i * 22_809, 833.0, 16.0, 2000.0
        )
        for i in range(2000)
    ]
    t = time.perf_counter()
    for i in range(n_packets):
        diy.DRIVER.decode(packets[i % 2000], state)
    dt = time.perf_counter() - t
    rate = n_packets / dt
    print(f"DIY decoder: {rate:,.0f} packets/s ({rate * 19:,.0f} samples/s, 19 samples/packet)")
    need = 3 * 833 / 19
    print(f"  = {rate / need:,.0f}x what 3 sensors at 833 Hz send ({need:.0f} packets/s)")

    decoded = [diy.DRIVER.decode(p, state) for p in packets]
    tl = SensorTimeline(0.0)
    t = time.perf_counter()
    for i, d in enumerate(decoded):
        tl.push(d, i * 19 / 833.0 + 0.01)
    dt = time.perf_counter() - t
    print(f"time sync: {len(decoded) / dt:,.0f} packets/s")


async def _stream(duration_s: float, speed: float, rate_hz: float, out: str) -> dict:
    from firmware_bridge.emulator import VirtualBleSource
    from recordings.recorder import record_source

    src = VirtualBleSource(speed=speed, rate_hz=rate_hz, signal_duration_s=min(duration_s, 120))
    clock = {}

    def started(_src: object) -> None:  # measure streaming only, not simulation + connecting
        clock["w0"], clock["c0"] = time.perf_counter(), time.process_time()

    summary = await record_source(src, out, duration_s=duration_s, on_start=started)
    wall = time.perf_counter() - clock["w0"]
    cpu = time.process_time() - clock["c0"]
    return {"src": src, "summary": summary, "wall": wall, "cpu": cpu}


def bench_stream(duration_s: float, speed: float, rate_hz: float) -> None:
    from recordings import open_recording

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "bench.h5")
        r = asyncio.run(_stream(duration_s, speed, rate_hz, out))
        src, summary = r["src"], r["summary"]
        print(
            f"streaming 3 emulated sensors at {rate_hz:g} Hz for {duration_s:g} s of session time "
            f"(speed {speed:g}x): wall {r['wall']:.1f} s, CPU {r['cpu']:.1f} s = "
            f"{100 * r['cpu'] / r['wall']:.1f} % of one core"
        )
        errs = {}
        with open_recording(out) as rec:
            for info in rec.sensors:
                sid = info.sensor_id
                b = rec.read(sid)
                per = src.virtual.peripherals[sid]
                t_true, _, sent = per.truth()
                seq = b.seq.astype(np.int64)
                upto = int(seq[-1]) + 1
                device_sent = int(np.sum(sent[:upto]))
                missing = device_sent - len(b)
                st = summary.status[sid]
                print(
                    f"  {sid}: {len(b)} samples written, device sent {device_sent} "
                    f"(+{per.samples_generated - upto} still on the radio at stop): "
                    f"{missing} lost in runform; radio losses counted {st.lost_samples}, "
                    f"bad packets {st.bad_packets}, gaps {len(rec.gaps(sid))}"
                )
                truth = t_true[seq] - src.session.t0
                errs[sid] = (truth, b.t - truth)
    # alignment: differences of the sensors' time errors at the same true times, after the
    # first 10 s (warm-up of the drift fit)
    start = 10.0 if duration_s > 20 else duration_s / 3
    grid = np.arange(start, duration_s - 1.0, 0.01)
    e = {sid: np.interp(grid, tr, er) for sid, (tr, er) in errs.items()}
    ids = list(e)
    diffs = np.concatenate([np.abs(e[a] - e[b]) for i, a in enumerate(ids) for b in ids[i + 1 :]])
    print(
        f"inter-sensor alignment error after {start:g} s: median {1e3 * np.median(diffs):.2f} ms, "
        f"95th percentile {1e3 * np.percentile(diffs, 95):.2f} ms, max {1e3 * diffs.max():.2f} ms"
    )
    for sid, er in e.items():
        print(
            f"  {sid}: error vs truth median {1e3 * np.median(er):.2f} ms, "
            f"p5..p95 {1e3 * np.percentile(er, 5):.2f}..{1e3 * np.percentile(er, 95):.2f} ms"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, default=600.0, help="session seconds (600)")
    p.add_argument("--speed", type=float, default=1.0, help="emulation speed (1 = real time)")
    p.add_argument("--rate", type=float, default=833.0, help="sample rate, Hz")
    p.add_argument("--skip-stream", action="store_true")
    args = p.parse_args()
    bench_decoder()
    if not args.skip_stream:
        bench_stream(args.duration, args.speed, args.rate)


if __name__ == "__main__":
    main()
