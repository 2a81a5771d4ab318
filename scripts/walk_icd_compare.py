"""runform's walking steps against a published lower-back contact detector (issue 17).

The Mobilise-D lower-back contact detector of McCamley et al. (2012), as modified by
Paraschiv-Ionescu et al. (2020) (mobgap's ``IcdIonescu``), re-implemented here from its published
description (no code copied): the vertical acceleration (here the specific-force magnitude, or the
aligned vertical axis) band-passed to 0.15-3.14 Hz (4th-order Butterworth, zero phase; mobgap uses
an FIR at 40 Hz), integrated, transformed by a second-derivative-of-Gaussian wavelet of width
0.225 s (scale 9 at 40 Hz), a contact at the minimum between each pair of zero crossings. The
detector finds contacts inside walking stretches found by a separate gait-sequence detector; here
it is handed the reference's own walking bouts (an ideal gait-sequence detector, generous to
it). Scores as ``scripts/real_data_check.py``: a row matches a reference contact within 0.25 s,
one to one, rows counted inside the reference bouts (widened by 0.25 s).

    .venv/bin/python scripts/walk_icd_compare.py [NAME ...]   # default: the mobgap recordings
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np
from scipy.signal import butter, sosfiltfilt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from runform.evaluation import analyse_pelvis_alone, match_events  # noqa: E402  # noqa: E402

REALDATA = Path("/work/shared/realdata")
DEFAULT = ["mobgap_ha001_test5_trial1", "mobgap_ha001_test5_trial2", "mobgap_ha001_test11_trial1"]


def wavelet_contacts(a: np.ndarray, *, fs: float, width_s: float = 0.225) -> np.ndarray:
    """Sample indices of contacts: minima of the Gaussian-wavelet transform of the integrated,
    band-passed acceleration between its zero crossings."""
    x = sosfiltfilt(butter(4, (0.15, 3.14), btype="band", fs=fs, output="sos"), a)
    xi = np.cumsum(x) / fs
    u = np.arange(-5.0 * width_s, 5.0 * width_s + 0.5 / fs, 1.0 / fs) / width_s
    psi = (1.0 - u**2) * np.exp(-0.5 * u**2)  # Mexican hat: minus the Gaussian's 2nd derivative
    c = np.convolve(xi, psi[::-1], mode="same")
    c -= c.mean()
    zc = np.flatnonzero(np.sign(c[1:]) != np.sign(c[:-1])) + 1
    out = [lo + int(np.argmin(c[lo:hi])) for lo, hi in itertools.pairwise(zc) if c[lo] < 0]
    return np.asarray(out, dtype=int)


def score(t_det: np.ndarray, ref: dict) -> tuple[int, int, int, float]:
    """(reference contacts, found, false inside the bouts, IC median |error| ms)."""
    tr = np.array(sorted(s["t_ic"] for s in ref["pelvis_steps"]))
    keep = np.zeros(t_det.shape, bool)
    for t0, t1 in ref["bouts"]:
        keep |= (t_det >= t0 - 0.25) & (t_det <= t1 + 0.25)
    td = np.sort(t_det[keep])
    i, j = match_events(tr, td, tol_s=0.25)
    err = np.abs(td[j] - tr[i]) * 1e3
    return (
        tr.size,
        int(i.size),
        int(td.size - j.size),
        float(np.median(err)) if err.size else np.nan,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", default=DEFAULT)
    ap.add_argument("--realdata", default=str(REALDATA))
    args = ap.parse_args()
    print("| recording | detector | found | false (in bouts) | IC median error |")
    print("|---|---|---|---|---|")
    for name in args.names:
        path = Path(args.realdata) / f"{name}.h5"
        ref = json.loads(path.with_suffix(".json").read_text())
        pa, b, rows = analyse_pelvis_alone(path)
        fs = float(pa.info.sample_rate_hz)
        r = np.asarray(pa.alignment_.R_bs) if pa.alignment_ is not None else np.eye(3)
        cands = {
            "runform (walking steps)": np.array([x.t_ic for x in rows]),
            "wavelet, |f|": b.t[wavelet_contacts(np.linalg.norm(b.acc, axis=1), fs=fs)],
            "wavelet, vertical axis": b.t[wavelet_contacts((b.acc @ r.T)[:, 2], fs=fs)],
        }
        for label, td in cands.items():
            n, f, fa, ic = score(td, ref)
            print(f"| {name} | {label} | {f}/{n} | {fa} | {ic:.0f} ms |")


if __name__ == "__main__":
    main()
