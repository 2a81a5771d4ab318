"""Compare the simulator's shoe signals with real recordings (issue 16, point 8).

Usage::

    python scripts/simulator_vs_real.py [--realdata DIR]

For every foot sensor: the angular-rate norm at the stillest instant of each stance (the
least 20 ms-smoothed norm between IC and TO), the specific-force norm there, and the largest
specific-force norm within 60 ms after IC (the impact). Real recordings use their reference
contacts when they have them, else the contacts ``runform analyze`` finds; the simulated
sessions use their truth. Prints a Markdown table (percentiles 10/50/90).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

G = 9.80665


def stance_stats(t, acc, gyr, contacts, fs):
    """(stillest gyro norm deg/s, |a| there g, impact peak g) per contact."""
    from dsp.filters import centered_moving_average

    w = max(1, round(0.02 * fs) | 1)
    gn = centered_moving_average(np.linalg.norm(gyr, axis=1), window=w)
    an = np.linalg.norm(acc, axis=1) / G
    out = []
    for ic, to in contacts:
        m = np.flatnonzero((t >= ic) & (t <= to))
        if m.size < 3:
            continue
        k = m[np.argmin(gn[m])]
        imp = np.flatnonzero((t >= ic - 0.01) & (t <= ic + 0.06))
        out.append((gn[k], an[k], an[imp].max() if imp.size else np.nan))
    return np.asarray(out).reshape(-1, 3)


def _pct(x):
    x = x[np.isfinite(x)]
    if not x.size:
        return "-"
    p = np.percentile(x, [10, 50, 90])
    return " / ".join(f"{v:.2f}" if v < 10 else f"{v:.0f}" for v in p)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--realdata", default="/work/shared/realdata")
    args = ap.parse_args(argv)
    from firmware_bridge.simulator import simulate_session
    from recordings import open_recording
    from runform.analysis_run import analyse_recording

    rows = []
    folder = Path(args.realdata)
    for p in sorted(folder.glob("*.h5")) if folder.is_dir() else []:
        ref = json.loads(p.with_suffix(".json").read_text())
        with open_recording(p) as rec:
            feet = [s for s in rec.sensors if s.side is not None]
            if not feet:
                continue
            res = None
            for s in feet:
                b = rec.read(s.sensor_id)
                cs = [
                    (c["t_ic"], c["t_to"]) for c in ref["contacts"] if c["sensor_id"] == s.sensor_id
                ]
                src = "reference"
                if not cs:
                    res = res or analyse_recording(p, workers=1)
                    d = res.strides[res.strides.sensor_id == s.sensor_id]
                    cs = list(zip(d.t_ic, d.t_to, strict=True))
                    src = "detected"
                st = stance_stats(b.t, b.acc, b.gyr, cs, s.sample_rate_hz)
                rows.append((f"real: {p.stem} {s.sensor_id} ({src})", s.sample_rate_hz, st))
    for label, sc, ov in (
        ("sim: easy (default)", "easy", {"rate_hz": 208}),
        ("sim: rearfoot (default)", "rearfoot", {"rate_hz": 208}),
        ("sim: walk (default)", "walk", {"rate_hz": 208}),
        ("sim: easy, stance_wobble_dps 40", "easy", {"rate_hz": 208, "stance_wobble_dps": 40.0}),
        ("sim: rearfoot, ringing 15 g", "rearfoot", {"rate_hz": 208, "foot_ring_g": 15.0}),
    ):
        run = simulate_session(sc, duration_s=30, seed=1, sensors=("left_foot",), **ov)
        b = run.blocks["left_foot"]
        cs = [
            (c["t_ic"], c["t_to"]) for c in run.truth["contacts"] if c["sensor_id"] == "left_foot"
        ]
        rows.append((label, ov["rate_hz"], stance_stats(b.t, b.acc, b.gyr, cs, ov["rate_hz"])))
    print(
        "| signals | rate Hz | contacts | stillest-stance gyro norm deg/s | |a| there g | impact peak |a| g |"
    )
    print("|---|---|---|---|---|---|")
    for label, fs, st in rows:
        print(
            f"| {label} | {fs:g} | {st.shape[0]} | {_pct(st[:, 0])} | {_pct(st[:, 1])} | {_pct(st[:, 2])} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
