"""Release latency of the pelvis rows and early rows: data time when released minus the IC.

Feeds a recording in 50 ms blocks of all sensors in time order, as the viewer does::

    .venv/bin/python scripts/pelvis_latency.py                       # the example recording
    .venv/bin/python scripts/pelvis_latency.py --pelvis-only
    .venv/bin/python scripts/pelvis_latency.py --kill right_foot:30 --lockstep
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from dsp.session import AnalysisConfig, SessionAnalyzer
from recordings import open_recording


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path", nargs="?", default="recordings/examples/chirunning_example.h5")
    ap.add_argument("--pelvis-only", action="store_true")
    ap.add_argument("--kill", help="SENSOR:T drop that sensor's blocks from T s on")
    ap.add_argument("--lockstep", action="store_true", help="lockstep_feeds (the viewer's)")
    ap.add_argument("--block-s", type=float, default=0.05)
    ap.add_argument("--after", type=float, default=25.0, help="statistics of t_ic > this")
    a = ap.parse_args()
    kill_sid, kill_t = (a.kill.split(":")[0], float(a.kill.split(":")[1])) if a.kill else ("", 0)
    with open_recording(a.path) as rec:
        sensors = [s for s in rec.sensors if not a.pelvis_only or s.placement == "pelvis"]
        pel = next(s.sensor_id for s in sensors if s.placement == "pelvis")
        cfg = AnalysisConfig(placement_settings={"pelvis": {"lockstep_feeds": a.lockstep}})
        sa = SessionAnalyzer(sensors, config=cfg)
        out, now, early = [], -math.inf, {}
        for b in rec.iter_blocks(a.block_s, sensor_ids=[s.sensor_id for s in sensors]):
            if b.sensor_id == kill_sid and len(b) and b.t[0] >= kill_t:
                continue
            if len(b):
                now = max(now, float(b.t[-1]))
            up = sa.feed(b)
            out += [(r, now) for r in up.rows if r.sensor_id == pel]
            early.update({r.t_ic: now for r in up.early_rows if r.sensor_id == pel})
        up = sa.finish()
        out += [(r, math.inf) for r in up.rows if r.sensor_id == pel]
        early.update({r.t_ic: math.inf for r in up.early_rows if r.sensor_id == pel})
    rel = [(r, now) for r, now in out if now < math.inf]
    print(f"{len(out)} pelvis rows, {len(out) - len(rel)} returned by finish()")
    if rel:
        print(f"first returned at data time {min(now for _, now in rel):.2f} s")
        lat = np.array([now - r.t_ic for r, now in rel if r.t_ic > a.after])
        if lat.size:
            q = np.percentile(lat, [50, 95, 100])
            print(f"t_ic > {a.after:g} s: median {q[0]:.2f} s, p95 {q[1]:.2f} s, max {q[2]:.2f} s")
        # early rows (the pelvic drop for alerts), in strides of that foot after the IC
        sel = [(r, now) for r, now in rel if r.t_ic > a.after and r.stride_time]
        if sel:
            le = np.array([(early[r.t_ic] - r.t_ic) / r.stride_time for r, _ in sel])
            lr = np.array([(now - r.t_ic) / r.stride_time for r, now in sel])
            for name, v in (("early rows", le), ("rows", lr)):
                q = np.percentile(v, [50, 95, 100])
                print(
                    f"{name}: median {q[0]:.2f}, p95 {q[1]:.2f}, max {q[2]:.2f} strides after the IC"
                )
    src: dict[str, int] = {}
    for r, _ in out:
        src[r.events_source] = src.get(r.events_source, 0) + 1
    print("events_source:", src, "| feet left out:", sa.diagnostics()[pel].get("feet_left_out"))


if __name__ == "__main__":
    main()
