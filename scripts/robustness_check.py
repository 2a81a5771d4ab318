"""Real recordings analysed again as other sensors would have recorded them (robustness).

Each real recording of a folder is copied, changed in one way, analysed as
``scripts/real_data_check.py`` does, and its scores are printed beside those of the unchanged
copy. What the real data give must not hinge on how this one set of sensors happened to record:

* ``--check mounting`` (default): every sensor's axes turned by one rotation ``R``
  (``acc' = R acc``, ``gyr' = R gyr``: the same motion read by a sensor mounted ``R^T`` from
  the original): upside down (180 deg about x), turned round (180 deg about z), on its side
  (90 deg about x), standing up (90 deg about y), a quarter turn (90 deg about z) and
  ``--rotations`` random ones (seeded). runform finds the mounting from the data
  (``docs/coordinate_systems.md``), so no score may change.
* ``--check rate``: resampled to each of ``--rates`` Hz (a zero-phase low-pass below the new
  Nyquist frequency first when the rate falls, then linear interpolation onto a uniform time
  axis), as a slower or faster device would have sampled the same motion.
* ``--check clip``: the accelerometer clipped at each of ``--ranges`` g per axis, with the
  range in ``acc_range_g``, as a device of that full scale would have read it.
* ``--check dropouts``: ``--dropouts`` percent of the samples, in bursts of 8, written as
  zeros on all six axes (a radio dropout some devices log so): gaps, never stillness.
* ``--check jitter``: every time stamp moved by uniform noise of +-``--jitter`` sample
  periods (host-side time stamps of a radio link), the order kept.
* ``--check bias``: a constant error added to each sensor's readings, as an uncalibrated
  device has: for each of ``--biases`` (``GYR_DPS/ACC_G`` pairs), a gyroscope bias of that
  size and an accelerometer offset of that size, each along a random direction per sensor
  (seeded).
* ``--check offset``: the pelvis sensor's time stamps moved by each of ``--offsets`` ms
  against the feet (a residual error of the sensors' common time base); the references stay
  on the feet's time, so the pelvis alone would be off by the offset, while with the feet its
  rows take the feet's events (``fusion_tolerance_s``).

The range attributes (``acc_range_g``, ``gyr_range_dps``) are left out of every copy except
those of ``--check clip``, the unchanged one included: a turned or resampled clipped reading is
no longer clipped along the axes the range names.

    .venv/bin/python scripts/robustness_check.py [--realdata DIR] [--only NAME]
        [--check mounting|rate|clip|dropouts|jitter|bias|offset] [--rotations N] [--rates HZ,...]
        [--ranges G,...] [--dropouts PERCENT,...] [--jitter PERIODS,...] [--biases DPS/G,...]
        [--offsets MS,...]
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


def _copy(src: Path, dst: Path, *, keep_ranges: bool = False) -> None:
    """``src`` and its reference (the ``.json`` beside it) copied to ``dst``; without
    ``keep_ranges`` the copy's sensors lose their range attributes."""
    shutil.copyfile(src, dst)
    ref = src.with_suffix(".json")
    if ref.exists():
        shutil.copyfile(ref, dst.with_suffix(".json"))
    if keep_ranges:
        return
    with h5py.File(dst, "r+") as f:
        for sid in f["sensors"]:
            g = f["sensors"][sid]
            for name in ("acc_range_g", "gyr_range_dps"):
                if name in g.attrs:
                    del g.attrs[name]


def turned_copy(src: Path, dst: Path, rot: np.ndarray) -> None:
    """``src`` copied to ``dst`` with every sensor's acc and gyr turned by ``rot``."""
    _copy(src, dst)
    with h5py.File(dst, "r+") as f:
        for sid in f["sensors"]:
            g = f["sensors"][sid]
            for name in ("acc", "gyr"):
                x = np.asarray(g[name][()], dtype=np.float64)
                g[name][...] = (x @ rot.T).astype(g[name].dtype)


def _replace(g: h5py.Group, name: str, data: np.ndarray) -> None:
    """Dataset ``name`` of ``g`` rewritten with ``data`` (new length), its dtype and filters
    kept."""
    old = g[name]
    dtype, compression, opts, shuffle = (
        old.dtype,
        old.compression,
        old.compression_opts,
        old.shuffle,
    )
    del g[name]
    g.create_dataset(
        name,
        data=data.astype(dtype),
        chunks=True,
        compression=compression,
        compression_opts=opts,
        shuffle=shuffle,
        maxshape=(None, *data.shape[1:]),
    )


def resampled_copy(src: Path, dst: Path, rate_hz: float) -> None:
    """``src`` copied to ``dst`` with every sensor resampled to ``rate_hz`` (uniform times from
    its first sample; a 4th-order zero-phase Butterworth low-pass at 0.4 ``rate_hz`` first when
    the rate falls)."""
    from scipy.signal import butter, sosfiltfilt

    _copy(src, dst)
    with h5py.File(dst, "r+") as f:
        for sid in f["sensors"]:
            g = f["sensors"][sid]
            t = np.asarray(g["t"][()], dtype=np.float64)
            ok = np.isfinite(t)
            t = t[ok]
            old_rate = float(g.attrs["sample_rate_hz"])
            new_t = t[0] + np.arange(int((t[-1] - t[0]) * rate_hz) + 1) / rate_hz
            cols = {}
            for name in ("acc", "gyr"):
                x = np.asarray(g[name][()], dtype=np.float64)[ok]
                if rate_hz < old_rate:
                    sos = butter(4, 0.4 * rate_hz, fs=old_rate, output="sos")
                    x = sosfiltfilt(sos, x, axis=0)
                cols[name] = np.stack([np.interp(new_t, t, x[:, i]) for i in range(3)], axis=1)
            _replace(g, "t", new_t)
            _replace(g, "acc", cols["acc"])
            _replace(g, "gyr", cols["gyr"])
            if "seq" in g:
                _replace(g, "seq", np.arange(new_t.shape[0]))
            g.attrs["sample_rate_hz"] = float(rate_hz)


def clipped_copy(src: Path, dst: Path, range_g: float) -> None:
    """``src`` copied to ``dst`` with every sensor's accelerometer clipped at ``range_g`` g per
    axis and ``acc_range_g`` set to it (the gyroscope's range attribute is kept)."""
    from dsp.block import STANDARD_GRAVITY

    _copy(src, dst, keep_ranges=True)
    lim = range_g * STANDARD_GRAVITY
    with h5py.File(dst, "r+") as f:
        for sid in f["sensors"]:
            g = f["sensors"][sid]
            x = np.asarray(g["acc"][()], dtype=np.float64)
            g["acc"][...] = np.clip(x, -lim, lim).astype(g["acc"].dtype)
            g.attrs["acc_range_g"] = float(range_g)


def dropout_copy(src: Path, dst: Path, share: float, *, burst: int = 8, seed: int = 13) -> None:
    """``src`` copied to ``dst`` with bursts of ``burst`` samples of every sensor written as
    zeros on all six axes (a radio dropout some devices log so), ``share`` of the samples in
    all (seeded; times kept)."""
    _copy(src, dst)
    rng = np.random.default_rng(seed)
    with h5py.File(dst, "r+") as f:
        for sid in f["sensors"]:
            g = f["sensors"][sid]
            n = g["acc"].shape[0]
            starts = rng.choice(max(1, n - burst), size=int(share * n / burst), replace=False)
            idx = np.unique((starts[:, None] + np.arange(burst)[None, :]).ravel())
            for name in ("acc", "gyr"):
                x = np.asarray(g[name][()])
                x[idx] = 0.0
                g[name][...] = x


def jittered_copy(src: Path, dst: Path, share: float, *, seed: int = 13) -> None:
    """``src`` copied to ``dst`` with every sensor's time stamps moved by uniform noise of
    +-``share`` of a sample period (as host-side time stamps of a radio link read; the
    order of the samples is kept)."""
    _copy(src, dst)
    rng = np.random.default_rng(seed)
    with h5py.File(dst, "r+") as f:
        for sid in f["sensors"]:
            g = f["sensors"][sid]
            t = np.asarray(g["t"][()], dtype=np.float64)
            period = 1.0 / float(g.attrs["sample_rate_hz"])
            g["t"][...] = t + rng.uniform(-share, share, t.shape[0]) * period


def biased_copy(src: Path, dst: Path, gyr_dps: float, acc_g: float, *, seed: int = 13) -> None:
    """``src`` copied to ``dst`` with a constant gyroscope bias of ``gyr_dps`` deg/s and an
    accelerometer offset of ``acc_g`` g added to every sensor, each along a random direction
    (seeded, one per sensor)."""
    from dsp.block import STANDARD_GRAVITY

    _copy(src, dst)
    rng = np.random.default_rng(seed)
    with h5py.File(dst, "r+") as f:
        for sid in f["sensors"]:
            g = f["sensors"][sid]
            for name, size in (("gyr", gyr_dps), ("acc", acc_g * STANDARD_GRAVITY)):
                d = rng.normal(size=3)
                x = np.asarray(g[name][()], dtype=np.float64)
                g[name][...] = (x + size * d / np.linalg.norm(d)).astype(g[name].dtype)


def offset_copy(src: Path, dst: Path, offset_ms: float, *, placement: str = "pelvis") -> None:
    """``src`` copied to ``dst`` with the time stamps of its sensors placed at ``placement``
    moved by ``offset_ms`` (the others' kept)."""
    _copy(src, dst)
    with h5py.File(dst, "r+") as f:
        for sid in f["sensors"]:
            g = f["sensors"][sid]
            if g.attrs.get("placement") == placement:
                g["t"][...] = np.asarray(g["t"][()], dtype=np.float64) + offset_ms / 1000.0


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


def variants(args: argparse.Namespace) -> list[tuple[str, Any]]:
    """(name, function(src, dst)) of the copies to compare, the unchanged one first."""
    if args.check == "clip":
        return [("as-recorded", lambda a, b: _copy(a, b, keep_ranges=True))] + [
            (f"clipped {g:g} g", lambda a, b, g=g: clipped_copy(a, b, g))
            for g in _numbers(args.ranges)
        ]
    if args.check == "jitter":
        return [("as-recorded", _copy)] + [
            (f"jitter {p:g} T", lambda a, b, p=p: jittered_copy(a, b, p))
            for p in _numbers(args.jitter)
        ]
    if args.check == "dropouts":
        return [("as-recorded", _copy)] + [
            (f"zeros {p:g} %", lambda a, b, p=p: dropout_copy(a, b, p / 100.0))
            for p in _numbers(args.dropouts)
        ]
    if args.check == "bias":
        pairs = [tuple(float(v) for v in p.split("/")) for p in args.biases.split(",") if p]
        return [("as-recorded", _copy)] + [
            (f"{d:g} dps {a:g} g", lambda a_, b_, d=d, a=a: biased_copy(a_, b_, d, a))
            for d, a in pairs
        ]
    if args.check == "offset":
        return [("as-recorded", _copy)] + [
            (f"pelvis {ms:+g} ms", lambda a, b, ms=ms: offset_copy(a, b, ms))
            for ms in _numbers(args.offsets)
        ]
    if args.check == "rate":
        return [("as-recorded", _copy)] + [
            (f"{hz:g} Hz", lambda a, b, hz=hz: resampled_copy(a, b, hz))
            for hz in _numbers(args.rates)
        ]
    rng = np.random.default_rng(13)
    rots = {"as-mounted": np.eye(3), **FIXED}
    for i in range(args.rotations):
        rots[f"random-{i}"] = random_rotation(rng)
    return [(name, lambda a, b, r=rot: turned_copy(a, b, r)) for name, rot in rots.items()]


def _numbers(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--realdata", help="folder of real recordings (default: the shared one)")
    ap.add_argument("--only", help="only recordings whose name contains this")
    ap.add_argument(
        "--check",
        choices=("mounting", "rate", "clip", "dropouts", "jitter", "bias", "offset"),
        default="mounting",
    )
    ap.add_argument("--rotations", type=int, default=2, help="random rotations (default 2)")
    ap.add_argument("--rates", default="52,59,100,400", help="Hz (default 52,59,100,400)")
    ap.add_argument("--ranges", default="8,4,2", help="g (default 8,4,2)")
    ap.add_argument("--dropouts", default="1,3", help="%% of samples (default 1,3)")
    ap.add_argument("--jitter", default="0.2,0.45", help="sample periods (default 0.2,0.45)")
    ap.add_argument(
        "--biases", default="1/0.02,3/0.05", help="GYR_DPS/ACC_G pairs (default 1/0.02,3/0.05)"
    )
    ap.add_argument("--offsets", default="-40,-20,20,40", help="ms (default -40,-20,20,40)")
    args = ap.parse_args(argv)
    folder = realdata_dir(args.realdata)
    n_diff = 0
    with tempfile.TemporaryDirectory() as tmp:
        for path in recordings_in(folder):
            if args.only and args.only not in path.stem:
                continue
            base: dict[str, str] | None = None
            print(path.stem)
            for name, make in variants(args):
                dst = Path(tmp) / path.name
                make(path, dst)
                sc = scores(check_recording(dst))
                if base is None:
                    base = sc
                for sid, line in sc.items():
                    same = base.get(sid) == line
                    n_diff += not same
                    print(f"  {name:13s} {sid:11s} {line}{'' if same else '   <- differs'}")
    print(f"{n_diff} sensor results differ from the unchanged copy")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
