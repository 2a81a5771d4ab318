"""Viewer speed: frames per second with three sensors at 400 Hz, and alert latency.

Runs the real window (offscreen Qt) fed by a live-like source: three simulated sensors at 400 Hz
paced by the wall clock in 20 ms notifications (what BLE delivers), with the live analysis and
alert engine in the worker thread, exactly as ``runform live``. Prints:

* frames per second actually rendered by the raw-signal view (paint events) and redraw ticks
  per second, over the run after the first 5 s;
* alert latency: for every alert, the session time between the initial contact that raised it
  and the moment the GUI showed it, in seconds and in strides (of that foot), and the time after
  that stride had ended (its next initial contact).

Usage::

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_viewer.py [--seconds 70]

Targets (issue 9): >= 30 frames per second on a 2-core machine; an alert no later than one
stride after the contact that caused it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dsp.alerts import load_profile
from dsp.block import SampleBlock
from dsp.contact import CONTACT_KEYS

#: Rules that fire during the run (after the sensors are aligned), to measure alert latency.
LATENCY_PROFILE = {
    "name": "latency",
    "rule": [
        {"name": "midfoot_strike", "metric": "foot_strike_angle", "below": 8.0, "sound": "beep"},
        {
            "name": "fast_cadence",
            "metric": "cadence",
            "above": 168.0,
            "window": 2,
            "statistic": "min",
            "sound": "rising",
        },
        {"name": "heel_strike", "metric": "foot_strike_angle", "above": 8.0, "sound": "low"},
        # toggles with the stride-to-stride variation: many latency samples
        {
            "name": "long_contact",
            "metric": "contact_time",
            "side": "each",
            "above": 0.238,
            "sound": "falling",
        },
        # pelvis rows (the left stance's drop toggles around its median)
        {
            "name": "hip_drop",
            "metric": "pelvic_drop",
            "side": "left",
            "above": 7.5,
            "sound": "double",
        },
    ],
}

#: Contacts before this (s) wait for the sensor alignment (first 20 s of data): not counted.
ALIGNMENT_S = 22.0


class PacedSource:
    """Pre-simulated blocks of every sensor, released in wall-clock time (live-like)."""

    def __init__(self, sim, *, notify_s: float = 0.02) -> None:
        self.sim = sim
        self.notify_s = notify_s
        self._stop = False

    @property
    def sensors(self):
        return list(self.sim.sensors)

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        return None

    def stop(self) -> None:
        self._stop = True

    def status(self):
        return {}

    async def blocks(self):
        blocks = self.sim.blocks
        idx = dict.fromkeys(blocks, 0)
        t_end = max(b.t[-1] for b in blocks.values())
        wall0 = time.monotonic()
        t = 0.0
        while t < t_end and not self._stop:
            t += self.notify_s
            delay = wall0 + t - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            for sid, b in blocks.items():
                j = int(b.t.searchsorted(t))
                if j > idx[sid]:
                    yield SampleBlock.slice(b, idx[sid], j)
                    idx[sid] = j


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=70.0, help="wall-clock run time (70)")
    ap.add_argument("--rate", type=float, default=400.0, help="sample rate, Hz (400)")
    ap.add_argument("--seed", type=int, default=2)
    args = ap.parse_args()

    from PySide6 import QtCore

    from firmware_bridge.simulator import simulate_session
    from viewer.app import MainWindow, ViewerConfig, make_app
    from viewer.worker import AnalysisWorker

    # heel strike first, midfoot drill from 45 % of the run: the rules above fire after the
    # sensors' alignment (the first 20 s)
    sim = simulate_session(
        "chirunning", duration_s=args.seconds + 5.0, rate_hz=args.rate, seed=args.seed, truth=False
    )
    profile = load_profile(LATENCY_PROFILE, source="benchmark")
    app = make_app()
    worker = AnalysisWorker(lambda: PacedSource(sim), profile)
    win = MainWindow(worker, profile, ViewerConfig(mode="live", sound_backend="log", muted=True))
    worker.start()
    win.show()
    marks: dict[str, tuple[float, int, int]] = {}
    cpu: dict[str, tuple[float, float]] = {}

    def mark(name: str) -> None:
        marks[name] = (time.monotonic(), win.paints, win.frames)
        cpu[name] = (time.thread_time(), time.process_time())  # GUI thread, whole process

    QtCore.QTimer.singleShot(5000, lambda: mark("start"))
    QtCore.QTimer.singleShot(int(args.seconds * 1000), lambda: (mark("end"), app.quit()))
    app.exec()
    worker.stop()

    (w0, p0, f0), (w1, p1, f1) = marks["start"], marks["end"]
    fps = (p1 - p0) / (w1 - w0)
    ticks = (f1 - f0) / (w1 - w0)
    rows = {(r.sensor_id, r.t_ic): r for r in win.model.rows}
    metric_of = {r["name"]: r["metric"] for r in LATENCY_PROFILE["rule"]}
    # contact-only metrics are known at the contact's toe-off: latency counts from its IC; a
    # stride metric (cadence) needs the next contact: latency counts from that stride's end
    lat: dict[str, list[float]] = {"contact": [], "stride": [], "pelvis": [], "pelvis_s": []}
    lat_s: list[float] = []
    skipped = 0
    for alert, _wall, t_now in win.alert_shown:
        if alert.t < ALIGNMENT_S:
            skipped += 1
            continue
        r = rows.get((alert.sensor_id, alert.t))
        st = r.stride_time if r is not None and r.stride_time else None
        d = t_now - alert.t
        lat_s.append(d)
        metric = metric_of[alert.rule]
        if metric == "pelvic_drop":
            lat["pelvis_s"].append(d)  # s after the stance's IC
            if st:
                lat["pelvis"].append(d / st)  # strides (of that foot) after the stance's IC
        elif st and metric in CONTACT_KEYS:
            lat["contact"].append(d / st)
        elif st:
            lat["stride"].append((d - st) / st)
    print(f"viewer benchmark: 3 sensors at {args.rate:.0f} Hz, {w1 - w0:.0f} s measured, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"frames per second rendered: {fps:.1f} (redraw ticks {ticks:.1f}/s; target >= 30)")
    gui_cpu = cpu["end"][0] - cpu["start"][0]
    proc_cpu = cpu["end"][1] - cpu["start"][1]
    per_frame = gui_cpu / max(1, f1 - f0)
    print(
        f"  GUI thread CPU {1000 * per_frame:.1f} ms per frame (all its work / redraw ticks): "
        f"{1 / per_frame:.0f} frames per second if it had a core to itself; whole process "
        f"{proc_cpu / (w1 - w0):.2f} cores busy"
    )
    if lat_s:
        print(f"alert latency over {len(lat_s)} alerts (target: within one stride):")
        for name, what in (
            ("contact", "contact metrics (strike angle, contact time), strides after the IC"),
            ("stride", "stride metrics (cadence), strides after the stride's end (next IC)"),
            ("pelvis", "pelvic drop, strides after the stance's IC"),
            ("pelvis_s", "pelvic drop, seconds after the stance's IC"),
        ):
            v = lat[name]
            if v:
                print(
                    f"  {what}: median {statistics.median(v):.2f}, max {max(v):.2f} "
                    f"({len(v)} alerts)"
                )
        print(f"  ({skipped} alerts from contacts in the first {ALIGNMENT_S:.0f} s, which wait "
              "for the sensor alignment, not counted)")  # fmt: skip
    else:
        print("alert latency: no alert was raised (run longer: --seconds)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
