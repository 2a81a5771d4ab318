"""How well each stance-side cue of a walking pelvis says the side, step by step (issue 17).

For the real lower-back walks (``pelvis_steps`` reference with sides) the pelvis is analysed as
``runform analyze`` does (its alignment), then the aligned samples are fed to
:class:`dsp.pelvis_walk.PelvisWalk`, whose steps carry the per-step cues the side vote uses:

* ``lat``: mean world sideways specific force over the stance (lower in a left stance: the
  ground pushes the pelvis back toward the midline);
* ``yaw``: mean rate of turn over the last 0.3 step before the contact (lower before a left
  contact);
* ``obl``: mean obliquity over the stance (higher in a left stance if the swing side drops).

Each step matched to a reference contact (within 0.25 s) whose two neighbours are within 1.2 s
is scored alone: its cue minus the mean of its neighbours' must have the sign of its side.
Steps are split into ``turn`` (rate of turn before the contact above 40 deg/s) and ``straight``.
Also prints the mean obliquity over a stride (IC to the same foot's next IC, its mean removed)
per reference side.

    .venv/bin/python scripts/walk_side_cues.py [NAME ...]   # default: the mobgap recordings
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dsp.pelvis_walk import PelvisWalk, WalkStep  # noqa: E402
from runform.evaluation import analyse_pelvis_alone  # noqa: E402

REALDATA = Path("/work/shared/realdata")
DEFAULT = ["mobgap_ha001_test5_trial1", "mobgap_ha001_test5_trial2", "mobgap_ha001_test11_trial1"]


def walk_steps(path: Path) -> list[WalkStep]:
    """The walking steps of a recording's pelvis with their per-step cues."""
    pa, b, _ = analyse_pelvis_alone(path)
    if pa.alignment_ is None or not pa.alignment_.ok:
        return []
    r = np.asarray(pa.alignment_.R_bs)
    pw = PelvisWalk(pa.info.sample_rate_hz)
    no = np.zeros(b.t.shape[0], dtype=bool)
    pw.feed(b.t, b.acc @ r.T, b.gyr @ r.T, no, no, new_segment=True)
    return pw.take(final=True)


def score(steps: list[WalkStep], ref: dict) -> dict[tuple[str, str], list[bool]]:
    rs = sorted(ref["pelvis_steps"], key=lambda s: s["t_ic"])
    tr = np.array([s["t_ic"] for s in rs])
    tic = np.array([s.t_ic for s in steps])
    cues = {
        "lat": -np.array([s.lat_mean for s in steps]),
        "yaw": -np.array([s.yaw_rate for s in steps]),
        "obl": np.array([s.obl_mean for s in steps]),
    }
    out: dict[tuple[str, str], list[bool]] = {}
    for k in range(1, len(steps) - 1):
        j = int(np.argmin(np.abs(tr - tic[k])))
        if abs(tr[j] - tic[k]) > 0.25 or max(tic[k + 1] - tic[k], tic[k] - tic[k - 1]) > 1.2:
            continue
        left = rs[j]["side"] == "left"
        yr = steps[k].yaw_rate
        kind = "turn" if np.isfinite(yr) and abs(yr) > 40.0 else "straight"
        for name, v in cues.items():
            x = v[k] - 0.5 * (v[k - 1] + v[k + 1])
            if np.isfinite(x):
                out.setdefault((name, kind), []).append(bool((x > 0) == left))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", default=DEFAULT)
    ap.add_argument("--realdata", default=str(REALDATA))
    args = ap.parse_args()
    print("| recording | cue | straight | turn |")
    print("|---|---|---|---|")
    curves = []
    for name in args.names:
        path = Path(args.realdata) / f"{name}.h5"
        ref = json.loads(path.with_suffix(".json").read_text())
        steps = walk_steps(path)
        res = score(steps, ref)
        for cue in ("lat", "yaw", "obl"):
            cells = []
            for kind in ("straight", "turn"):
                v = res.get((cue, kind), [])
                cells.append(f"{sum(v)}/{len(v)}" + (f" ({np.mean(v):.0%})" if v else ""))
            print(f"| {name} | {cue} | {cells[0]} | {cells[1]} |")
        tr = np.array([s["t_ic"] for s in ref["pelvis_steps"]])
        for side in ("left", "right"):
            tr_ = []
            for s in steps:
                j = int(np.argmin(np.abs(tr - s.t_ic)))
                if s.trace is not None and abs(tr[j] - s.t_ic) <= 0.25:
                    if ref["pelvis_steps"][j]["side"] == side:
                        tr_.append(s.trace - np.nanmean(s.trace))
            if tr_:
                m = np.mean(tr_, axis=0)[::10]
                curves.append(f"{name} {side} ({len(tr_)}): " + " ".join(f"{v:+.1f}" for v in m))
    print("\nmean obliquity over the stride, deg, mean removed, at 0, 10, ..., 100 % (by side):")
    print("\n".join(curves))


if __name__ == "__main__":
    main()
