"""Pelvis steps on the real lower-back walks against their reference (issue 17).

For each recording in ``shared/realdata`` whose reference lists ``pelvis_steps`` (mobgap), the
pelvis rows of ``runform``'s analysis are matched to the reference initial contacts (nearest
within ``--tol`` s, one row per reference step) inside the reference's ``cover`` span, and
it prints per file: steps found (share of reference steps with a row), precision (share of
rows in the cover with a reference step), stance side agreement of the matched rows and the
median IC error.

    python scripts/pelvis_walk_check.py [--data DIR] [--tol 0.25]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from dsp.session import SessionAnalyzer
from recordings.reader import open_recording

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata"


def pelvis_rows(path: Path) -> list:
    with open_recording(path) as rec:
        sa = SessionAnalyzer(rec.sensors)
        rows = []
        for block in rec.iter_blocks():
            rows += sa.feed(block).rows
        rows += sa.finish().rows
    return [r for r in rows if r.sensor_id == "pelvis"]


def score(rows: list, ref: dict, tol: float) -> dict:
    steps = [s for s in ref["pelvis_steps"] if s.get("t_ic") is not None]
    c0, c1 = ref["cover"]["pelvis"]
    tic = np.array([s["t_ic"] for s in steps])
    rt = np.array([r.t_ic for r in rows])
    pairs = []  # (ref index, row index): nearest first, each used once
    if rt.size and tic.size:
        d = np.abs(tic[:, None] - rt[None, :])
        for flat in np.argsort(d, axis=None):
            i, j = np.unravel_index(flat, d.shape)
            if d[i, j] > tol:
                break
            if i in {p[0] for p in pairs} or j in {p[1] for p in pairs}:
                continue
            pairs.append((int(i), int(j)))
    in_cover = [j for j, t in enumerate(rt) if c0 <= t <= c1]
    matched_rows = {p[1] for p in pairs}
    side = [rows[j].side == steps[i]["side"] for i, j in pairs]
    err = [abs(rt[j] - tic[i]) for i, j in pairs]
    return {
        "ref": len(steps),
        "rows": len(in_cover),
        "found": len(pairs) / len(steps) if steps else float("nan"),
        "precision": (sum(j in matched_rows for j in in_cover) / len(in_cover))
        if in_cover
        else float("nan"),
        "side": float(np.mean(side)) if side else float("nan"),
        "ic_median_ms": 1000 * float(np.median(err)) if err else float("nan"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--tol", type=float, default=0.25)
    args = ap.parse_args()
    for js in sorted(args.data.glob("*.json")):
        ref = json.loads(js.read_text())
        if not isinstance(ref, dict) or not ref.get("pelvis_steps"):
            continue
        rows = pelvis_rows(js.with_suffix(".h5"))
        s = score(rows, ref, args.tol)
        print(
            f"{js.stem:32s} ref {s['ref']:3d} rows {s['rows']:3d}  found {s['found']:6.1%}"
            f"  precision {s['precision']:6.1%}  side {s['side']:6.1%}"
            f"  IC median {s['ic_median_ms']:5.1f} ms"
        )


if __name__ == "__main__":
    main()
