"""Convert the PyShoe Vicon trials (one shoe IMU with motion-capture positions) to real-data
recordings that ``scripts/real_data_check.py`` scores, and pool the scores by activity.

The data (Wagstaff, Peretroukhin & Kelly, "Robust data-driven zero-velocity detection for
foot-mounted inertial navigation", IEEE Sensors J. 20(2), 2020; code github.com/utiasSTARS/pyshoe,
data "University of Toronto foot-mounted inertial navigation dataset" on IEEE DataPort, fetched by
the repository's download_data.sh): the "VICON" part, 56 trials in a ~3 x 3 m motion-capture area,
one file ``data/vicon/processed/<date-time>.mat`` each. A copy of these 56 files is kept in
github.com/mtahakoroglu/gait-driven-inertial-navigation-dataset (``data/vicon/processed``).

Licence: the pyshoe repository has no licence file; the data set's own terms (IEEE DataPort, "open
access") could not be read here; the copy's repository is MIT-licensed for its own code by a third
party, which says nothing about the data. Redistribution is therefore unclear: the data are read
from a local copy and never committed (as for ``realdata_voisard.py``).

What a ``.mat`` holds (pyshoe ``data/vicon/readme.txt``, checked on the files):

* ``imu`` (N x 6): accelerometer x, y, z in m/s² (specific force: a still sensor whose z axis
  points down reads z = -9.8), then gyroscope x, y, z in rad/s (converted here to deg/s). The
  sensor frame is the device's own (z about down when the shoe stands: the sensor sits on top
  of the shoe, tilted ~17° toes-down at rest); runform estimates the mounting itself.
* ``ts`` (1 x N): time stamps, s, ~200 Hz (median step 4.998 ms, steps 2.9-6.9 ms: host time
  stamps with ±1 ms jitter, never decreasing). Used as the recording's time base as they are.
* ``gt`` (N x 3): the Vicon position of the foot (the tracked shoe IMU) at each IMU time stamp,
  m, in the Vicon room frame (z up, horizontal x/y; the tracked point stands 0.10-0.13 m above
  the floor at foot-flat). Lost markers show as held values (runs of identical rows, 0-17 % of a
  trial) and rare single-sample jumps (e.g. 2017-11-22-11-22-03 at 13.6 s: 27 m/s).
* ``zv_*_opt``, ``G_*_opt``, ``trial_error``, ``best_detector``: the authors' zero-velocity
  detector outputs tuned per trial against the Vicon truth; not used here (they come from the
  IMU, not from the truth).

Device: not stated in the files. The pyshoe code passes the Vicon trials to its filter with
noise figures commented "microstrain", and the annotation repository's README calls its own
LORD MicroStrain 3DM-GX5-25 "the same brand and family" as PyShoe's (the VectorNav VN-100 named
elsewhere is not confirmed by anything read here). The signals show the ranges: the gyroscope
saturates at 9.1-9.8 rad/s (525-560 deg/s; flat tops of 2-21 samples above 9 rad/s in 28 of the
56 trials: on y at -9.13 to -9.24 rad/s, on x at ±9.6-9.8, z at ±9.2-9.4): written as ``gyr_range_dps =
530`` so that runform flags those samples ``saturated``; the accelerometer reaches 78 m/s² (8 g)
without a flat top: ``acc_range_g = 16`` (assumed, not documented). Which foot carries the sensor
is not documented either: the sensor is written as ``right_foot`` (an assumption; stride length,
cadence and contacts do not depend on it; pronation signs would).

Activity per trial: the pyshoe motion classifier's training lists name 4 Vicon trials walking
and 5 running (``train_motion_classifier.py``, kept as ``author_label``); the authors documented
no other labels (the annotation repository asked them). Every trial is labelled here from the
truth alone (``activity_of``), on its measured reference strides: ``other`` with fewer than 5 of
them or under 30 % of the trial's time in them (crawling, kneeling, standing: the 2018-02-09
trials); ``steps up/down`` with 10 % or more of the stances elevated; ``short steps`` with a
median stride under 0.7 m (shuffling, stepping in place); ``walking`` with a median stride time
of 0.9 s or more and a duty factor (landing to lift-off of the truth, over the stride time) of
0.5 or more; ``running`` under 0.9 s and under 0.45; ``mixed`` otherwise. Two author labels
disagree with the truth: 2017-11-22-11-44-47 ("running": 1.05 s strides of 1.37 m at a duty
factor of 0.54, i.e. walking; 9 measured strides) and 2017-11-27-11-13-10 ("running": 0.78 s
strides of 0.90 m at a duty factor of 0.52, a jog in tight turns; ``mixed``).

Reference (the truth itself, never the IMU): the position is cleaned (held runs of 3+
identical rows and jumps off a 9-sample running median by more than 5 cm are lost; lost
stretches are interpolated for the speed only), low-passed (10 Hz), and differentiated. A swing
is a peak of the horizontal foot speed above 1 m/s. Between two swings the foot is in contact
when its 3D speed falls below 0.6 m/s; its foot-flat instant ``t_ms`` is the minimum of the 3D
foot speed there. Two such minima are one stance unless the foot rose 2 cm or more between them
and they are 0.45 s or more apart (shorter than any stride). A stance higher than the trial's
floor (5th percentile of the stance heights) by 5 cm is ``elevated`` (a step, a stair). The foot-flat is *measured* when that minimum is below 0.35 m/s and the truth is
valid within ±50 ms; the foot's position there is the median of the raw positions over ±20 ms.
Stride length of a contact = horizontal distance from its foot-flat position to the next
contact's (runform's ``stride_length``: the horizontal distance the foot travelled to its next
contact); stride time = foot-flat to foot-flat; both only when the two foot-flats are measured
and one swing lies between them. Rows are matched to reference contacts by the foot-flat (the
detected contact, IC to toe-off, must hold ``t_ms``: ``match_on_flat`` in the reference,
:func:`runform.evaluation.match_flats`). ``t_ic`` is only an approximate landing: the last time
before the foot-flat at which the foot's 3D speed falls through 1 m/s. A single tracked point on
the instep cannot place the heel strike or toe-off to better than tens of ms, so no IC/TO
accuracy is claimed (``t_to`` is empty, and the IC errors that ``real_data_check.py`` prints for
these files measure this definition, not runform).

Usage::

    .venv/bin/python scripts/realdata_pyshoe.py convert SRC_VICON_PROCESSED_DIR OUT_DIR
    .venv/bin/python scripts/real_data_check.py --realdata OUT_DIR --out /tmp/pyshoe.md \\
        --json /tmp/pyshoe.json
    .venv/bin/python scripts/realdata_pyshoe.py pool /tmp/pyshoe.json OUT_DIR

Each trial becomes ``OUT_DIR/pyshoe_<date-time>.h5`` (format v1, one sensor ``right_foot``) and
``pyshoe_<date-time>.json`` (``contacts`` with ``t_ic``, ``t_ms``, ``stride_length``,
``stride_time``; ``cover``; ``activity``). ``pool`` prints the scores per activity. The walks
and runs of this data set go round a ~3 x 3 m room: almost every stride turns (the direction
of travel changes 30-180 deg from one stride to the next), unlike a straight walk.

Figures (runform after session 7, with the foot-flat anchor velocity of docs/dsp.md step 4;
all 56 trials converted in ~3 s, scored in ~8 s; before that change in brackets):

* walking (19 trials): contacts 396/397 found, 6 false; stride length on 286 of 291 reference
  strides: median |error| 2.1 % (2.2), mean 3.2 % (3.3; ~3.0 without one stride of 0.006 m,
  below), bias -0.6 % (-1.1), 90th percentile 6.2 %; reference cadence 97 /min.
* running (14 trials, 158 /min): contacts 325/325, none false; stride length on 278 of 286:
  median |error| 2.7 % (3.7), mean 3.1 % (4.0), bias -2.4 % (-3.6; the error grew with stride
  length: -1.9 % under 1.2 m, -4.4 % over 1.5 m).
* mixed 6, steps up/down 2 trials: 99-100 % found, stride length median 3.0 % (3.5-3.7);
  short steps (6) and other (6): 73-90 % found, many ``low_alignment`` rows (forward direction
  unclear, the steps being short and turning).

What the truth shows about the errors:

* Running: at its stillest instant of a stance the foot still moves forward at 0.04 m/s
  (median over the running foot-flats, Vicon; walking 0.005 m/s), i.e. ~2.2 % of a stride
  over the stride time: a zero-velocity assumption there explained more than half of the
  -3.6 % bias (runform now starts each stride at omega x r, ``MetricSettings.sensor_height_m``;
  ``scripts/pyshoe_anchor_velocity.py``). The gyroscope clips (``saturated`` rows: 140 of 286 running strides; median
  |error| 4.3 % against 3.3 % on the others).
* Walking: the strides whose detected IC comes more than 120 ms after the truth's landing (31
  of 286, 19 of them in the two slowest walks, 2017-11-22-11-50-42 and -51-23, 1.5-1.6 s
  strides, gentle landings while turning at ~130 deg/s about the vertical, no impact peak) have
  a mean error of 5.4 % against 3.1 % for the others; the truth's landing is itself approximate
  there (the foot still descends 2 cm after it), so this does not prove the IC late.
* 2017-11-22-11-39-47 at 7.4-8.2 s: within one stance the foot pivots (gyroscope -307 deg/s
  about the sensor's z, 37 m/s² spike, the Vicon point rises 1.9 cm for 0.1 s and comes down
  where it was): runform reports two contacts, the first with a stride of 0.006 m (-99.5 %).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NOMINAL_RATE_HZ = 200.0
SENSOR_ID = "right_foot"
ACC_RANGE_G = 16.0
GYR_RANGE_DPS = 530.0
SOURCE = (
    "PyShoe VICON trials (github.com/utiasSTARS/pyshoe, data/vicon/processed; copy in "
    "github.com/mtahakoroglu/gait-driven-inertial-navigation-dataset)"
)
CITATION = (
    "Wagstaff B, Peretroukhin V, Kelly J. Robust data-driven zero-velocity detection for "
    "foot-mounted inertial navigation. IEEE Sensors J. 20(2):957-967, 2020"
)
LICENCE = "unclear (no licence file in the pyshoe repository; data never committed)"
#: Activity labels the authors gave (pyshoe train_motion_classifier.py walk_dirs / run_dirs).
AUTHOR_LABELS = {
    "2017-11-22-11-22-03": "walking",
    "2017-11-22-11-22-46": "walking",
    "2017-11-22-11-25-20": "walking",
    "2017-11-22-11-40-44": "walking",
    "2017-11-22-11-44-47": "running",
    "2017-11-27-11-11-24": "running",
    "2017-11-27-11-11-53": "running",
    "2017-11-27-11-12-18": "running",
    "2017-11-27-11-13-10": "running",
}

# reference extraction (truth only)
LOWPASS_HZ = 10.0
HOLD_MIN_RUN = 3  # identical rows in a row: a lost marker held
JUMP_M = 0.05  # off the running median by more than this: a glitch
SWING_MIN_MPS = 1.0
MOVE_MIN_MPS = 0.5
CONTACT_MAX_MPS = 0.6
FLAT_MAX_MPS = 0.35
LIFT_M = 0.02
ELEVATED_M = 0.05
MAX_STRIDE_S = 2.0
MIN_STRIDE_S = 0.45
COVER_MARGIN_S = 0.3
VALID_AROUND_S = 0.05
POS_HALF_WINDOW_S = 0.02
LANDING_MPS = 1.0
RUN_MAX_STRIDE_S = 0.9
RUN_MAX_DUTY = 0.45
WALK_MIN_DUTY = 0.5
SHORT_STRIDE_M = 0.7
STAIRS_MIN_SHARE = 0.1
MIN_STRIDES = 5
MIN_STEP_SHARE = 0.3


class Trial(NamedTuple):
    name: str
    t: np.ndarray  # (N,) s
    acc: np.ndarray  # (N, 3) m/s²
    gyr_dps: np.ndarray  # (N, 3) deg/s
    pos: np.ndarray  # (N, 3) m, Vicon frame, z up


def load_trial(path: Path) -> Trial:
    """One PyShoe ``.mat`` (see the module docstring); raises ``ValueError`` naming the file
    and field when it is not of that form."""
    from scipy.io import loadmat

    d = loadmat(str(path))
    for key in ("imu", "ts", "gt"):
        if key not in d:
            raise ValueError(f"{path}: no field {key!r} (expected a PyShoe VICON .mat)")
    imu = np.asarray(d["imu"], dtype=np.float64)
    t = np.asarray(d["ts"], dtype=np.float64).ravel()
    gt = np.asarray(d["gt"], dtype=np.float64)
    if imu.ndim != 2 or imu.shape[1] != 6 or gt.shape != (imu.shape[0], 3) or t.size != len(imu):
        raise ValueError(
            f"{path}: expected imu (N x 6), ts (N) and gt (N x 3), got {imu.shape}, {t.shape}, "
            f"{gt.shape}"
        )
    if not np.all(np.diff(t) > 0):
        raise ValueError(f"{path}: time stamps ts are not increasing")
    return Trial(path.stem, t, imu[:, :3], np.degrees(imu[:, 3:]), gt)


def truth_valid(pos: np.ndarray) -> np.ndarray:
    """Mask of the truth samples that are measured: not in a run of ``HOLD_MIN_RUN`` or more
    identical rows (a lost marker held) and not off the 9-sample running median by more than
    ``JUMP_M``."""
    from scipy.ndimage import median_filter

    n = pos.shape[0]
    ok = np.isfinite(pos).all(axis=1)
    same = np.concatenate(([False], np.all(np.diff(pos, axis=0) == 0, axis=1)))
    # runs of rows equal to their predecessor: a run of k such rows = k+1 identical rows
    start = same & ~np.concatenate(([False], same[:-1]))
    run_id = np.cumsum(start) * same
    if run_id.any():
        lengths = np.bincount(run_id)[run_id]
        held = same & (lengths + 1 >= HOLD_MIN_RUN)
        held |= np.concatenate((held[1:], [False]))  # the row the run repeats
        ok &= ~held
    med = median_filter(pos, size=(9, 1), mode="nearest")
    ok &= np.linalg.norm(pos - med, axis=1) <= JUMP_M
    return ok if n else np.zeros(0, dtype=bool)


def _speeds(
    t: np.ndarray, pos: np.ndarray, valid: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(low-passed position, 3D speed, horizontal speed), m and m/s, of the truth (lost samples
    interpolated)."""
    from scipy.signal import butter, filtfilt

    p = pos.copy()
    if valid.sum() >= 2:
        for k in range(3):
            p[:, k] = np.interp(t, t[valid], pos[valid, k])
    fs = 1.0 / float(np.median(np.diff(t)))
    b, a = butter(2, LOWPASS_HZ / (fs / 2))
    p = filtfilt(b, a, p, axis=0)
    v = np.gradient(p, t, axis=0)
    return p, np.linalg.norm(v, axis=1), np.linalg.norm(v[:, :2], axis=1)


class Flat(NamedTuple):
    """One reference stance seen by the truth."""

    i: int  # sample index of the foot-flat
    t_ms: float
    t_ic: float  # approximate landing (3D speed falls through LANDING_MPS)
    t_off: float  # approximate lift-off (3D speed back above LANDING_MPS)
    xy: np.ndarray  # horizontal position at foot-flat, m
    measured: bool  # a still foot-flat on valid truth: its position counts for stride length
    elevated: bool  # higher than the trial's floor (a step, a stair)


def reference_flats(t: np.ndarray, pos: np.ndarray) -> tuple[list[Flat], np.ndarray, np.ndarray]:
    """Stances of the truth (module docstring), the indices of every movement of the foot
    (horizontal speed peaks of at least ``MOVE_MIN_MPS``) and the validity mask."""
    from scipy.signal import find_peaks

    valid = truth_valid(pos)
    p, sp3, sph = _speeds(t, pos, valid)
    fs = 1.0 / float(np.median(np.diff(t)))
    dist = max(1, round(0.3 * fs))
    swings, _ = find_peaks(sph, height=SWING_MIN_MPS, distance=dist, prominence=0.5)
    moves, _ = find_peaks(sph, height=MOVE_MIN_MPS, prominence=0.3)
    w_valid = round(VALID_AROUND_S * fs)
    w_pos = round(POS_HALF_WINDOW_S * fs)
    # the slowest instant between two swings, when the foot (nearly) stops there
    cand = [a + int(np.argmin(sp3[a:b])) for a, b in itertools.pairwise(swings)]
    cand = [i for i in cand if sp3[i] <= CONTACT_MAX_MPS]
    # one stance unless the foot was lifted in between and a stride's time passed (a speed peak
    # without a lift is noise; 2017-11-22-11-40-44 at 21.63 s: the Vicon point moves 5 cm for
    # 0.1 s, up and back, while the gyroscope reads under 12 deg/s)
    stances: list[int] = []
    for i in cand:
        if stances:
            q = stances[-1]
            lift = p[q:i, 2].max() - max(p[q, 2], p[i, 2])
            if lift < LIFT_M or t[i] - t[q] < MIN_STRIDE_S:
                if sp3[i] < sp3[q]:
                    stances[-1] = i
                continue
        stances.append(i)
    if not stances:
        return [], moves, valid
    floor = float(np.percentile(p[stances, 2], 5))
    flats = []
    for i in stances:
        lo, hi = max(0, i - w_valid), min(len(t), i + w_valid + 1)
        measured = bool(sp3[i] <= FLAT_MAX_MPS and valid[lo:hi].all())
        before = np.flatnonzero(sp3[:i] >= LANDING_MPS)
        after = np.flatnonzero(sp3[i:] >= LANDING_MPS)
        t_ic = float(t[before[-1]]) if before.size else math.nan
        t_off = float(t[i + int(after[0])]) if after.size else math.nan
        xy = np.median(pos[max(0, i - w_pos) : i + w_pos + 1, :2], axis=0)
        elevated = bool(p[i, 2] > floor + ELEVATED_M)
        flats.append(Flat(i, float(t[i]), t_ic, t_off, xy, measured, elevated))
    return flats, moves, valid


def reference_contacts(trial: Trial) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Reference contacts of one trial and a summary (strides, median stride time and length,
    duty factor, share of the time in strides, share of elevated stances)."""
    flats, moves, valid = reference_flats(trial.t, trial.pos)
    contacts = []
    stride_times: list[float] = []
    lengths: list[float] = []
    duty: list[float] = []
    for k, f in enumerate(flats):
        nxt = flats[k + 1] if k + 1 < len(flats) else None
        sl = st = None
        if (
            nxt is not None
            and f.measured
            and nxt.measured
            # one movement of the foot between the two foot-flats: no step missed in between
            and int(np.sum((moves > f.i) & (moves < nxt.i))) == 1
            and math.isfinite(f.t_ic)
            and math.isfinite(nxt.t_ic)
            and nxt.t_ic - f.t_ic <= MAX_STRIDE_S
        ):
            sl = float(np.linalg.norm(nxt.xy - f.xy))
            st = nxt.t_ic - f.t_ic
            stride_times.append(st)
            lengths.append(sl)
            if math.isfinite(f.t_off):
                duty.append((f.t_off - f.t_ic) / st)
        contacts.append(
            {
                "sensor_id": SENSOR_ID,
                "side": "right",
                "t_ic": f.t_ic if math.isfinite(f.t_ic) else f.t_ms,
                "t_ms": f.t_ms,
                "t_to": None,
                "stride_time": st,
                "stride_length": sl,
                "foot_strike_angle": None,
                "strike_type": None,
                "elevated": f.elevated,
            }
        )
    st_arr = np.asarray(stride_times)
    duration = float(trial.t[-1] - trial.t[0])
    summary = {
        "n_flats": len(flats),
        "n_strides": int(st_arr.size),
        "stride_time_median": float(np.median(st_arr)) if st_arr.size else None,
        "step_share": float(st_arr.sum() / duration) if duration > 0 else 0.0,
        "duty_median": float(np.median(duty)) if duty else None,
        "sl_median": float(np.median(lengths)) if lengths else None,
        "elevated_share": float(np.mean([f.elevated for f in flats])) if flats else 0.0,
        "truth_valid_share": float(valid.mean()) if valid.size else 0.0,
    }
    return contacts, summary


def activity_of(summary: dict[str, Any]) -> tuple[str, str]:
    """(activity, why) of a trial from its truth alone (see the module docstring)."""
    st, duty, sl = summary["stride_time_median"], summary["duty_median"], summary["sl_median"]
    if summary["n_strides"] < MIN_STRIDES or st is None or summary["step_share"] < MIN_STEP_SHARE:
        return "other", (
            f"only {summary['n_strides']} measured reference strides, "
            f"{100 * summary['step_share']:.0f} % of the time in them: not labelled"
        )
    why = (
        f"median stride time {st:.2f} s, duty factor {duty:.2f}, stride length {sl:.2f} m, "
        f"{100 * summary['elevated_share']:.0f} % of the stances elevated"
    )
    if summary["elevated_share"] >= STAIRS_MIN_SHARE:
        return "steps up/down", why
    if sl < SHORT_STRIDE_M:
        return "short steps", why
    if st >= RUN_MAX_STRIDE_S and duty >= WALK_MIN_DUTY:
        return "walking", why
    if st < RUN_MAX_STRIDE_S and duty < RUN_MAX_DUTY:
        return "running", why
    return "mixed", why


def convert_trial(path: Path, out_dir: Path) -> dict[str, Any]:
    """Write ``pyshoe_<name>.h5`` and its reference ``.json``; returns the reference."""
    from dsp.block import SampleBlock, SensorInfo
    from recordings.writer import RecordingWriter

    trial = load_trial(path)
    contacts, summary = reference_contacts(trial)
    activity, why = activity_of(summary)
    name = f"pyshoe_{trial.name}"
    info = SensorInfo(
        SENSOR_ID,
        "right_foot",
        "pyshoe_foot_imu",
        NOMINAL_RATE_HZ,
        acc_range_g=ACC_RANGE_G,
        gyr_range_dps=GYR_RANGE_DPS,
    )
    with RecordingWriter(
        out_dir / f"{name}.h5",
        [info],
        live=False,
        notes=f"PyShoe VICON trial {trial.name}: one shoe IMU, Vicon foot positions",
        software="runform scripts/realdata_pyshoe.py",
        created_utc="2017-11-22T00:00:00Z",
    ) as w:
        w.append(SampleBlock(SENSOR_ID, trial.t, trial.acc, trial.gyr_dps))
    # the reference lists the stances between the first and the last swing: the stance before
    # the first swing (standing at the start) and after the last are not in it
    cover = (
        [contacts[0]["t_ic"] - COVER_MARGIN_S, contacts[-1]["t_ms"] + COVER_MARGIN_S]
        if contacts
        else [0.0, 0.0]
    )
    ref = {
        "scenario": name,
        "source": f"{SOURCE} {trial.name}.mat",
        "licence": LICENCE,
        "citation": CITATION,
        "activity": activity,
        "activity_from": f"the truth: {why}",
        "author_label": AUTHOR_LABELS.get(trial.name),
        "reference": (
            "Vicon position of the shoe IMU: foot-flat = minimum of the foot speed between two "
            "swings; stride length = horizontal foot-flat to foot-flat displacement; t_ic = "
            "approximate landing (3D speed falls through 1 m/s), for matching only"
        ),
        "ic_approximate": True,
        "match_on_flat": True,
        "summary": summary,
        "contacts": contacts,
        "pelvis_steps": [],
        "cover": {SENSOR_ID: cover},
    }
    (out_dir / f"{name}.json").write_text(json.dumps(ref, indent=1))
    return ref


def convert(src: Path, out_dir: Path) -> int:
    paths = sorted(src.glob("*.mat"))
    if not paths:
        print(f"no .mat files in {src} (expected the PyShoe data/vicon/processed folder)")
        return 1
    out_dir.mkdir(parents=True, exist_ok=True)
    groups: dict[str, list[str]] = {}
    for p in paths:
        ref = convert_trial(p, out_dir)
        groups.setdefault(f"pyshoe_{ref['activity']}", []).append(ref["scenario"])
    (out_dir / "index.json").write_text(json.dumps(groups, indent=1))
    counts = ", ".join(f"{k[len('pyshoe_') :]} {len(v)}" for k, v in groups.items())
    print(f"wrote {len(paths)} recordings to {out_dir} ({counts})")
    return 0


def _fmt(x: float, nd: int = 1, sign: bool = False) -> str:
    if not math.isfinite(x):
        return "-"
    return f"{x:+.{nd}f}" if sign else f"{x:.{nd}f}"


def pool_rows(results: list[dict[str, Any]], refs: dict[str, dict[str, Any]]) -> list[dict]:
    """Per activity: the scores of ``real_data_check.py --json`` pooled over its recordings."""
    groups: dict[str, list[tuple[dict, dict]]] = {}
    for r in results:
        ref = refs.get(r["recording"])
        if ref is None:
            continue
        for f in r.get("foot", []):
            groups.setdefault(ref["activity"], []).append((ref, f))
    out = []
    for act, items in groups.items():
        sl = np.array([e for _, f in items for e in f.get("stride_length_errors_pct", [])])
        st = np.array([e for _, f in items for e in f.get("stride_time_errors_ms", [])])
        n_sl_ref = sum(
            1
            for ref, _ in items
            for c in ref["contacts"]
            if c.get("stride_length") is not None
            and ref["cover"][SENSOR_ID][0] <= c["t_ic"] <= ref["cover"][SENSOR_ID][1]
        )
        ok = sl[np.isfinite(sl)]
        per_trial = [
            float(np.nanmean(np.abs(f["stride_length_errors_pct"])))
            for _, f in items
            if np.isfinite(f.get("stride_length_errors_pct", [math.nan])).any()
        ]
        ref_st = [
            c["stride_time"] for ref, _ in items for c in ref["contacts"] if c.get("stride_time")
        ]
        out.append(
            {
                "activity": act,
                "recordings": len(items),
                "n_ref": sum(f["n_ref"] for _, f in items),
                "found": sum(f["found"] for _, f in items),
                "false": sum(f["false"] for _, f in items),
                "n_sl_ref": n_sl_ref,
                "n_sl_matched": int(sl.size),
                "n_sl": int(ok.size),
                "sl_median_abs_pct": float(np.median(np.abs(ok))) if ok.size else math.nan,
                "sl_mean_abs_pct": float(np.mean(np.abs(ok))) if ok.size else math.nan,
                "sl_bias_pct": float(np.median(ok)) if ok.size else math.nan,
                "sl_p90_abs_pct": float(np.percentile(np.abs(ok), 90)) if ok.size else math.nan,
                "sl_worst_trial_pct": max(per_trial) if per_trial else math.nan,
                "stride_time_median_abs_ms": (
                    float(np.nanmedian(np.abs(st))) if np.isfinite(st).any() else math.nan
                ),
                "cadence_ref_median": 120.0 / float(np.median(ref_st)) if ref_st else math.nan,
                "low_alignment": sum(f.get("low_alignment", 0) for _, f in items),
            }
        )
    order = {"walking": 0, "running": 1, "mixed": 2, "steps up/down": 3, "short steps": 4}
    return sorted(out, key=lambda g: order.get(g["activity"], 9))


def pool(json_path: Path, ref_dir: Path) -> int:
    """Print the scores of ``real_data_check.py --json`` pooled per activity."""
    results = json.loads(json_path.read_text())
    refs = {p.stem: json.loads(p.read_text()) for p in ref_dir.glob("pyshoe_*.json")}
    lines = []
    for g in pool_rows(results, refs):
        lines.append(
            f"{g['activity']} ({g['recordings']} trials): contacts found {g['found']}/{g['n_ref']} "
            f"({100 * g['found'] / max(1, g['n_ref']):.1f} %), false {g['false']}; stride length "
            f"on {g['n_sl']} of {g['n_sl_ref']} reference strides ({g['n_sl_matched']} matched): "
            f"median |error| {_fmt(g['sl_median_abs_pct'])} %, mean {_fmt(g['sl_mean_abs_pct'])} "
            f"%, bias {_fmt(g['sl_bias_pct'], sign=True)} %, 90th pct "
            f"{_fmt(g['sl_p90_abs_pct'])} %, worst trial (mean) {_fmt(g['sl_worst_trial_pct'])} "
            f"%; stride time median |error| {_fmt(g['stride_time_median_abs_ms'])} ms; "
            f"reference cadence {_fmt(g['cadence_ref_median'], 0)} /min; low_alignment rows "
            f"{g['low_alignment']}"
        )
    print("\n".join(lines) if lines else "no PyShoe recordings scored")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("convert", help="write format-v1 recordings and references")
    c.add_argument("src", type=Path, help="the data set's data/vicon/processed folder")
    c.add_argument("out", type=Path)
    p = sub.add_parser("pool", help="pool the scores of real_data_check.py --json per activity")
    p.add_argument("json", type=Path)
    p.add_argument("refs", type=Path, help="the folder convert wrote (the references)")
    args = ap.parse_args(argv)
    if args.cmd == "convert":
        return convert(args.src, args.out)
    return pool(args.json, args.refs)


if __name__ == "__main__":
    raise SystemExit(main())
