"""Is the foot still at runform's foot-flat anchors? The PyShoe Vicon truth says (issue 16).

For every stride runform integrates (PyShoe ``walking`` and ``running`` trials, see
``scripts/realdata_pyshoe.py``), at runform's own foot-flat anchors (not the truth's):

* the truth's velocity of the sensor: central differences of the Vicon positions over 20 ms
  (lost samples interpolated), its forward component along the stride (the truth's
  displacement between the two anchors) and its vertical one;
* the foot-frame angular rate there (what runform integrates), and the fit of the forward
  velocity to ``c + omega_ml h`` (a sensor at height ``h`` above the contact it rolls about);
* ``h`` from the IMU alone: around each anchor (+-60 ms) the forward velocity change that the
  accelerometer integrates (gravity removed by the gyro-integrated pitch, a constant tilt error
  per stance projected out) against ``h`` times the change of ``omega_ml``, pooled;
* runform's stride length against the truth's displacement between the same two anchors, and
  the error a zero-velocity assumption predicts: ``-(v_a + v_b) / 2 x stride time`` (forward;
  compare with ``--sensor-height 0``, the foot taken as still at foot-flat).

The anchors are taken from inside the analysis (:func:`dsp.foot_metrics.contact_metrics_batch`
wrapped while ``runform.analysis_run.analyse_recording`` runs; nothing else is changed).

Usage::

    .venv/bin/python scripts/pyshoe_anchor_velocity.py CONVERTED_DIR SRC_VICON_PROCESSED_DIR
    # e.g. /work/extra_realdata/pyshoe /work/extra_realdata/src/pyshoe/vicon
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

HALF_DIFF_S = 0.01  # central difference over 20 ms
VALID_AROUND = 20  # samples of valid truth needed on each side of an anchor
WINDOW = 12  # samples each side of an anchor for the IMU-only estimate (60 ms at 200 Hz)
GRAVITY = 9.80665


def collect(folder: Path, src: Path, sensor_height_m: float | None) -> list[dict[str, Any]]:
    """One record per stride runform integrates in the walking and running trials (with the
    metrics' ``sensor_height_m`` replaced when given)."""
    from dataclasses import replace

    import realdata_pyshoe as rp

    import dsp.foot_analyzer as fa
    from runform.analysis_run import analyse_recording

    captured: list[tuple] = []
    original = fa.contact_metrics_batch

    def capture(items, *, settings, **kw):  # type: ignore[no-untyped-def]
        if sensor_height_m is not None:
            settings = replace(settings, sensor_height_m=sensor_height_m)
        res = original(items, settings=settings, **kw)
        for (t, a, g, ev, nxt), (m, _trace) in zip(items, res, strict=True):
            if nxt is not None:
                captured.append((np.array(t), np.array(a), np.array(g), ev, nxt, m))
        return res

    fa.contact_metrics_batch = capture
    out: list[dict[str, Any]] = []
    try:
        for jp in sorted(folder.glob("pyshoe_*.json")):
            ref = json.loads(jp.read_text())
            if ref.get("activity") not in ("walking", "running"):
                continue
            captured.clear()
            analyse_recording(jp.with_suffix(".h5"), workers=1)
            trial = rp.load_trial(src / f"{jp.stem.removeprefix('pyshoe_')}.mat")
            out += _strides(trial, ref["activity"], captured, rp.truth_valid(trial.pos))
    finally:
        fa.contact_metrics_batch = original
    return out


def _strides(trial: Any, activity: str, captured: list[tuple], valid: np.ndarray) -> list[dict]:
    t = trial.t
    p = np.stack([np.interp(t, t[valid], trial.pos[valid, k]) for k in range(3)], axis=1)
    hw = max(1, round(HALF_DIFF_S / float(np.median(np.diff(t)))))
    seen = set()
    recs = []
    for tw, acc, gyr, ev, nxt, m in captured:
        ta, tb = float(tw[ev.ms]), float(tw[nxt.ms])
        if (ta, tb) in seen or m.get("stride_length") is None:
            continue
        seen.add((ta, tb))
        ia, ib = (
            int(np.clip(np.searchsorted(t, x), VALID_AROUND, len(t) - VALID_AROUND - 1))
            for x in (ta, tb)
        )
        if not (
            valid[ia - VALID_AROUND : ia + VALID_AROUND + 1].all()
            and valid[ib - VALID_AROUND : ib + VALID_AROUND + 1].all()
        ):
            continue
        vel = [(p[i + hw] - p[i - hw]) / (t[i + hw] - t[i - hw]) for i in (ia, ib)]
        pa, pb = (p[i - hw : i + hw + 1].mean(axis=0) for i in (ia, ib))
        d = pb[:2] - pa[:2]
        sl_true = float(np.hypot(*d))
        if sl_true < 0.3:
            continue
        u = d / sl_true
        lo, hi = max(0, ev.ms - WINDOW), ev.ms + WINDOW + 1
        recs.append(
            {
                "activity": activity,
                "trial": trial.name,
                "T": tb - ta,
                "sl_true": sl_true,
                "sl_rf": float(m["stride_length"]),
                "v_fwd": [float(v[:2] @ u) for v in vel],
                "v_vt": float(vel[0][2]),
                "gyr_a": gyr[ev.ms].tolist(),
                "gyr_b": gyr[nxt.ms].tolist(),
                "win": (tw[lo:hi] - ta, acc[lo:hi], gyr[lo:hi]),
            }
        )
    return recs


def imu_height(recs: list[dict]) -> tuple[float, float]:
    """(h, correlation) of the forward velocity change integrated from the accelerometer around
    each anchor against the change of omega_ml, pooled over the stances."""
    xs, ys = [], []
    for r in recs:
        tt, a, g = r["win"]
        if tt.size < 5:
            continue
        w = np.radians(g)
        i0 = int(np.argmin(np.abs(tt)))
        dt = np.diff(tt)
        pitch_ml = np.concatenate(([0.0], np.cumsum(0.5 * (w[1:, 1] + w[:-1, 1]) * dt)))
        pitch_ml -= pitch_ml[i0]
        a_fwd = a[:, 0] + GRAVITY * pitch_ml  # toes down (+omega_ml) tilts ap below horizontal
        v = np.concatenate(([0.0], np.cumsum(0.5 * (a_fwd[1:] + a_fwd[:-1]) * dt)))
        v -= v[i0]
        dw = w[:, 1] - w[i0, 1]
        s = tt - tt[i0]  # a constant tilt error: a velocity ramp, projected out per stance
        ys.append(v - s * (s @ v) / (s @ s))
        xs.append(dw - s * (s @ dw) / (s @ s))
    x, y = np.concatenate(xs), np.concatenate(ys)
    return float(x @ y / (x @ x)), float(np.corrcoef(x, y)[0, 1])


def report(recs: list[dict]) -> list[str]:
    lines = []
    for act in ("walking", "running"):
        rs = [r for r in recs if r["activity"] == act]
        if not rs:
            continue
        va = np.array([r["v_fwd"][0] for r in rs])
        vb = np.array([r["v_fwd"][1] for r in rs])
        g = np.array([r["gyr_a"] for r in rs])
        w = np.radians(g[:, 1])
        T = np.array([r["T"] for r in rs])
        slt = np.array([r["sl_true"] for r in rs])
        err = (np.array([r["sl_rf"] for r in rs]) - slt) / slt * 100
        pred = -(va + vb) / 2 * T / slt * 100
        c, h = np.linalg.lstsq(np.stack([np.ones_like(w), w], axis=1), va, rcond=None)[0]
        h_imu, r_imu = imu_height(rs)
        q = np.percentile
        lines += [
            f"{act} ({len({r['trial'] for r in rs})} trials, {len(rs)} strides):",
            f"  truth forward velocity at runform's foot-flat: median {np.median(va):.3f} m/s "
            f"(IQR {q(va, 25):.3f}..{q(va, 75):.3f}), vertical {np.median([r['v_vt'] for r in rs]):+.3f} m/s",
            f"  foot-frame gyro there (ap, ml, vt), median: {np.round(np.median(g, axis=0), 1)} deg/s, "
            f"|omega| median {np.median(np.linalg.norm(g, axis=1)):.1f} deg/s",
            f"  forward velocity = c + omega_ml h: c {c:.3f} m/s, h {h * 100:.1f} cm "
            f"(correlation {np.corrcoef(w, va)[0, 1]:.2f})",
            f"  h from the IMU alone (+-{WINDOW} samples): {h_imu * 100:.1f} cm (correlation {r_imu:.2f})",
            f"  stride length vs the truth between the same anchors: bias (median) {np.median(err):+.2f} %, "
            f"median |error| {np.median(np.abs(err)):.2f} %; predicted by the anchor velocity: "
            f"{np.median(pred):+.2f} %",
        ]
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("converted", type=Path, help="folder of realdata_pyshoe.py convert")
    ap.add_argument("src", type=Path, help="the PyShoe data/vicon/processed folder (.mat)")
    ap.add_argument(
        "--sensor-height",
        type=float,
        default=None,
        help="MetricSettings.sensor_height_m for the analysis, m (default: runform's; 0: the "
        "foot taken as still at foot-flat, as before issue 16's anchor velocity)",
    )
    args = ap.parse_args(argv)
    print("\n".join(report(collect(args.converted, args.src, args.sensor_height))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
