"""Which way a real lower-back sensor tilts in the frontal plane during single support (issue 17).

For each real lower-back walk with a reference (``pelvis_steps``: contacts with sides), the
pelvis sensor is aligned as ``runform analyze`` does (:class:`dsp.pelvis_analyzer.PelvisAnalyzer`),
its attitude is estimated per reference walking bout from the reference contacts
(:func:`dsp.pelvis_orientation.stride_gravity_attitude`: the stride-mean specific force is
vertical), and the obliquity (elevation of the pelvis' right-to-left axis ``ml``, positive =
left side higher, ``docs/coordinate_systems.md``) is cut into the reference strides: from a
contact to the same foot's next contact, with the other foot's contact between them. The
single support of that foot lies between the other foot's toe-off (about 12 % of the stride in
walking) and its next contact (about 50 %); the script takes the obliquity over 15-45 % of the
stride against the stride's mean. A left stance with the obliquity below the stride mean tilts
the sensor toward the stance side (the left side lower); above it, away from the stance side
(the swing side lower: the pelvic drop of the running analysis and of the simulator).

Everything here comes from the reference's contacts and sides, not from runform's own steps,
so the answer does not depend on runform's step or side detection.

    .venv/bin/python scripts/walk_obliquity.py [NAME ...]   # default: the mobgap recordings
    .venv/bin/python scripts/walk_obliquity.py --all --realdata /work/extra_realdata/voisard
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dsp.pelvis_orientation import stride_gravity_attitude  # noqa: E402
from runform.evaluation import analyse_pelvis_alone  # noqa: E402

REALDATA = Path("/work/shared/realdata")
DEFAULT = ["mobgap_ha001_test5_trial1", "mobgap_ha001_test5_trial2", "mobgap_ha001_test11_trial1"]
SINGLE_SUPPORT = (0.15, 0.45)  # share of the stride (walking: other toe-off ~0.12, other IC ~0.5)
MAX_STRIDE_S = 2.5


def stance_tilts(path: Path) -> dict[str, list[float]]:
    """Per reference stride: mean obliquity over its single support minus the stride mean,
    deg, by the stance side."""
    ref = json.loads(path.with_suffix(".json").read_text())
    pa, b, _ = analyse_pelvis_alone(path)
    if pa.alignment_ is None or not pa.alignment_.ok:
        return {}
    r = np.asarray(pa.alignment_.R_bs)
    t, acc, gyr = b.t, b.acc @ r.T, b.gyr @ r.T
    steps = sorted(ref["pelvis_steps"], key=lambda s: s["t_ic"])
    out: dict[str, list[float]] = {"left": [], "right": []}
    for t0, t1 in ref["bouts"]:
        bs = [s for s in steps if t0 - 1e-6 <= s["t_ic"] <= t1 + 1e-6]
        if len(bs) < 4:
            continue
        lo = int(np.searchsorted(t, t0 - 1.5))
        hi = int(np.searchsorted(t, t1 + 1.5))
        tt = t[lo:hi]
        i_ic = np.searchsorted(tt, [s["t_ic"] for s in bs])
        i_ic = np.unique(i_ic)
        att = stride_gravity_attitude(tt, acc[lo:hi], gyr[lo:hi], i_ic)
        if att is None:
            continue
        ml_w = att.apply(np.array([0.0, 1.0, 0.0]))
        obl = np.degrees(np.arcsin(np.clip(ml_w[:, 2], -1.0, 1.0)))
        for k, s in enumerate(bs):
            nxt = [x for x in bs[k + 1 :] if x["side"] == s["side"]]
            if not nxt:
                continue
            te = nxt[0]["t_ic"]
            between = [x for x in bs[k + 1 :] if x["t_ic"] < te]
            if (
                te - s["t_ic"] > MAX_STRIDE_S
                or len(between) != 1
                or between[0]["side"] == s["side"]
            ):
                continue
            pts = np.linspace(s["t_ic"], te, 101)
            tr = np.interp(pts, tt, obl)
            ss = tr[int(100 * SINGLE_SUPPORT[0]) : int(100 * SINGLE_SUPPORT[1]) + 1].mean()
            out[s["side"]].append(float(ss - tr.mean()))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="recordings (default: the mobgap ones)")
    ap.add_argument("--all", action="store_true", help="every recording of --realdata")
    ap.add_argument("--realdata", default=str(REALDATA))
    args = ap.parse_args()
    print(
        "| recording | left strides: obliquity in single support, deg (mean, SD) | right strides "
        "| strides tilting toward the stance side |"
    )
    print("|---|---|---|---|")
    names = args.names or DEFAULT
    if args.all:
        names = sorted(p.stem for p in Path(args.realdata).glob("*.h5"))
    tot_toward = tot_n = rec_toward = rec_away = 0
    for name in names:
        res = stance_tilts(Path(args.realdata) / f"{name}.h5")
        if not res:
            print(f"| {name} | (the pelvis sensor did not align) | | |")
            continue
        le, ri = np.array(res["left"]), np.array(res["right"])
        n = le.size + ri.size
        if not n:
            continue
        # toward the stance side: left side lower in a left stance, higher in a right stance
        toward = int((le < 0).sum() + (ri > 0).sum())
        tot_toward += toward
        tot_n += n
        rec_toward += toward > n / 2
        rec_away += toward < n / 2
        lm = f"{le.mean():+.2f} ({le.std():.2f})" if le.size else "-"
        rm = f"{ri.mean():+.2f} ({ri.std():.2f})" if ri.size else "-"
        print(f"| {name} | {lm}, n={le.size} | {rm}, n={ri.size} | {toward}/{n} |")
    if tot_n:
        print(
            f"\nall: {tot_toward}/{tot_n} strides toward the stance side; recordings mostly "
            f"toward: {rec_toward}, mostly away: {rec_away}"
        )


if __name__ == "__main__":
    main()
