"""Real recordings analysed again with every sensor mounted differently (a robustness check).

runform finds each sensor's mounting from the data (``docs/coordinate_systems.md``,
``docs/dsp.md`` *Alignment*), so turning a sensor on its clip must not change what is
measured. This script copies each real recording of a folder, turns the axes of every sensor by
one rotation ``R`` (``acc' = R acc``, ``gyr' = R gyr``: the same motion read by a sensor
mounted ``R^T`` from the original), analyses the copy as ``scripts/real_data_check.py`` does
and prints its scores beside those of the unturned copy.

The range attributes (``acc_range_g``, ``gyr_range_dps``) are left out of every copy, the
unturned one included: a turned clipped reading is no longer clipped along the axes the range
names (and may exceed it), so saturation is not a question this check asks.

    .venv/bin/python scripts/mounting_check.py [--realdata DIR] [--only NAME] [--rotations N]

Rotations: upside down (180 deg about x), turned round (180 deg about z), on its side (90 deg
about x), standing up (90 deg about y), turned a quarter (90 deg about z) and, with
``--rotations``, that many random ones (seeded).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from real_data_check import check_recording, realdata_dir, recordings_in  # noqa: E402


def _rot(axis: str, deg: float) -> np.ndarray:
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    i = "xyz".index(axis)
    j, k = (i + 1) % 3, (i + 2) % 3
    r = np.eye(3)
    r[j, j], r[j, k], r[k, j], r[k, k] = c, -s, s, c
    return r


FIXED: dict[str, np.ndarray] = {
    "upside-down": _rot("x", 180.0),
    "turned-round": _rot("z", 180.0),
    "on-its-side": _rot("x", 90.0),
    "standing-up": _rot("y", 90.0),
    "quarter-turn": _rot("z", 90.0),
}


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """A uniformly random rotation matrix (QR of a Gaussian matrix, sign-fixed)."""
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def turned_copy(src: Path, dst: Path, rot: np.ndarray) -> None:
    """``src`` copied to ``dst`` with every sensor's acc and gyr turned by ``rot``, and its
    reference (the ``.json`` beside it) copied too."""
    shutil.copyfile(src, dst)
    ref = src.with_suffix(".json")
    if ref.exists():
        shutil.copyfile(ref, dst.with_suffix(".json"))
    with h5py.File(dst, "r+") as f:
        for sid in f["sensors"]:
            g = f["sensors"][sid]
            for name in ("acc_range_g", "gyr_range_dps"):
                if name in g.attrs:
                    del g.attrs[name]
            for name in ("acc", "gyr"):
                x = np.asarray(g[name][()], dtype=np.float64)
                g[name][...] = (x @ rot.T).astype(g[name].dtype)


def scores(res: dict[str, Any]) -> dict[str, str]:
    """The figures compared, per sensor: ``sensor -> one line``."""
    out: dict[str, str] = {}
    for f in res["foot"]:
        out[f["sensor_id"]] = (
            f"found {f.get('found')}/{f.get('n_ref')} false {f.get('false')} "
            f"IC {_g(f.get('ic_median_ms'))} TO {_g(f.get('to_median_ms'))} "
            f"FSA {_g(f.get('fsa_mae_deg'))} strike {_g(f.get('strike_agree'), 2)} "
            f"SL {_g(f.get('stride_length_err_pct'))} exc {_g(f.get('exc_mae_deg'))} "
            f"low {f.get('low_alignment')}"
        )
    for p in res["plausibility"]:
        out[p["sensor_id"]] = (
            f"contacts {p.get('contacts')} swings {p.get('swings')} "
            f"extra {p.get('extra_contacts')} cadence {_g(p.get('cadence_median'))} "
            f"low {p.get('low_alignment')}"
        )
    for p in res["pelvis"]:
        out[p["sensor_id"]] = (
            f"found {p.get('found')}/{p.get('n_ref')} false {p.get('false')} "
            f"side {_g(p.get('side_agree'), 3)} IC {_g(p.get('ic_median_ms'))}"
        )
    return out


def _g(x: Any, nd: int = 1) -> str:
    return "-" if x is None else f"{float(x):.{nd}f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--realdata", help="folder of real recordings (default: the shared one)")
    ap.add_argument("--only", help="only recordings whose name contains this")
    ap.add_argument("--rotations", type=int, default=2, help="random rotations (default 2)")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(13)
    rots = {"as-mounted": np.eye(3), **FIXED}
    for i in range(args.rotations):
        rots[f"random-{i}"] = random_rotation(rng)
    folder = realdata_dir(args.realdata)
    n_diff = 0
    with tempfile.TemporaryDirectory() as tmp:
        for path in recordings_in(folder):
            if args.only and args.only not in path.stem:
                continue
            base: dict[str, str] | None = None
            print(path.stem)
            for name, rot in rots.items():
                dst = Path(tmp) / path.name
                turned_copy(path, dst, rot)
                sc = scores(check_recording(dst))
                if base is None:
                    base = sc
                for sid, line in sc.items():
                    same = base.get(sid) == line
                    n_diff += not same
                    print(f"  {name:13s} {sid:11s} {line}{'' if same else '   <- differs'}")
    print(f"{n_diff} sensor results differ from the as-mounted copy")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
