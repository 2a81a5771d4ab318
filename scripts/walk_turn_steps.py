"""Steps in turns on real lower-back walks, pelvis alone: found, false rows and sides (issue 17).

Scores the rows of the ``pelvis`` sensor analysed alone
(:func:`runform.evaluation.analyse_pelvis_alone`) against the reference ``pelvis_steps`` as
``scripts/walk_pelvis_check.py`` does (one to one within 0.25 s, rows and reference steps
inside the reference bouts widened by 0.25 s), split by where the step lies:

* ``turning``: the pelvis' rate of turn about the vertical (the angular rate along the
  gravity direction of a 2 s mean of the specific force, averaged over 0.5 s) is at least
  ``--turn-dps`` (40 deg/s) at the reference contact (for a false row, at the row);
* ``straight``: the rest;
* ``u-turn``: within ``--window`` s (1.5) of the largest rate of turn inside the reference
  bouts (on Voisard et al.'s walks: the 180-degree turn at 10 m).

Groups: Voisard subjects 1-10 (dev) and 11-19 (held out), other recordings one by one.

    .venv/bin/python scripts/walk_turn_steps.py [FOLDER ...]   # default: the Voisard walks
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from scipy.ndimage import uniform_filter1d

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from runform.evaluation import analyse_pelvis_alone, match_events  # noqa: E402

TOL_S = 0.25


def yaw_rate_dps(t: np.ndarray, acc: np.ndarray, gyr: np.ndarray) -> np.ndarray:
    """Rate of turn about the vertical, deg/s, averaged over 0.5 s (the gravity direction from a
    2 s mean of the specific force: the pelvis' tilt wobbles average out)."""
    fs = 1.0 / float(np.median(np.diff(t)))
    g = uniform_filter1d(acc, max(1, int(2.0 * fs)), axis=0, mode="nearest")
    g = g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-9)
    w = np.einsum("ij,ij->i", gyr, g)
    return uniform_filter1d(w, max(1, int(0.5 * fs)), mode="nearest")


def _in_bouts(x: np.ndarray, bouts: list[list[float]] | None) -> np.ndarray:
    if not bouts:
        return np.ones(x.shape, bool)
    keep = np.zeros(x.shape, bool)
    for a, b in bouts:
        keep |= (x >= a - TOL_S) & (x <= b + TOL_S)
    return keep


def score(h5: Path, turn_dps: float, window_s: float) -> dict[str, np.ndarray] | None:
    """Counts per class (``turning``, ``straight``, ``u-turn``): reference steps, found, false
    rows, found with the reference side."""
    ref_path = h5.with_suffix(".json")
    if not ref_path.exists():
        return None
    meta: dict[str, Any] = json.loads(ref_path.read_text())
    steps = sorted(
        (s for s in meta.get("pelvis_steps") or [] if s["sensor_id"] == "pelvis"),
        key=lambda s: s["t_ic"],
    )
    if not steps:
        return None
    _, block, rows = analyse_pelvis_alone(h5)
    t = block.t
    w = np.abs(yaw_rate_dps(t, block.acc, block.gyr))
    bouts = meta.get("bouts")
    t_ref = np.array([s["t_ic"] for s in steps], dtype=float)
    keep_r = _in_bouts(t_ref, bouts)
    steps = [s for s, k in zip(steps, keep_r, strict=True) if k]
    t_ref = t_ref[keep_r]
    mine = sorted((r for r in rows if r.sensor_id == "pelvis"), key=lambda r: r.t_ic)
    t_det = np.array([r.t_ic for r in mine], dtype=float)
    keep_d = _in_bouts(t_det, bouts)
    mine = [r for r, k in zip(mine, keep_d, strict=True) if k]
    t_det = t_det[keep_d]
    i, j = match_events(t_ref, t_det, tol_s=TOL_S)
    found = np.zeros(t_ref.size, bool)
    found[i] = True
    true_row = np.zeros(t_det.size, bool)
    true_row[j] = True
    side_ok = np.zeros(t_ref.size, bool)
    for ii, jj in zip(i, j, strict=True):
        side_ok[ii] = str(mine[jj].side) == str(steps[ii]["side"])
    in_b = _in_bouts(t, bouts) if bouts else np.ones(t.shape, bool)
    t_peak = float(t[int(np.argmax(np.where(in_b, w, 0.0)))])

    def at(x: np.ndarray) -> np.ndarray:
        return w[np.clip(np.searchsorted(t, x), 0, t.size - 1)]

    classes = {
        "turning": (at(t_ref) >= turn_dps, at(t_det) >= turn_dps),
        "straight": (at(t_ref) < turn_dps, at(t_det) < turn_dps),
        "u-turn": (np.abs(t_ref - t_peak) <= window_s, np.abs(t_det - t_peak) <= window_s),
    }
    return {
        k: np.array(
            [r.sum(), (found & r).sum(), (~true_row & d).sum(), (side_ok & r).sum()], dtype=int
        )
        for k, (r, d) in classes.items()
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="*", default=["/work/extra_realdata/voisard"])
    ap.add_argument("--turn-dps", type=float, default=40.0)
    ap.add_argument("--window", type=float, default=1.5)
    args = ap.parse_args()
    groups: dict[str, dict[str, np.ndarray]] = {}
    for folder in args.folders:
        for h5 in sorted(Path(folder).glob("*.h5")):
            sc = score(h5, args.turn_dps, args.window)
            if sc is None:
                continue
            meta = json.loads(h5.with_suffix(".json").read_text())
            subj = meta.get("subject")
            if h5.stem.startswith("voisard_") and isinstance(subj, int):
                grp = "voisard 1-10 (dev)" if subj <= 10 else "voisard 11-19 (held out)"
            else:
                grp = h5.stem
            acc = groups.setdefault(grp, {})
            for k, v in sc.items():
                acc[k] = acc.get(k, np.zeros(4, int)) + v
    for grp, by in groups.items():
        print(grp)
        for k, (n, f, fa, s) in by.items():
            print(
                f"  {k:9s} found {f}/{n} ({f / max(1, n):.1%}), false {fa} "
                f"(precision {f / max(1, f + fa):.1%}), side {s}/{f} ({s / max(1, f):.1%})"
            )


if __name__ == "__main__":
    main()
