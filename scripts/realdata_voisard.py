"""Convert the Voisard et al. gait data set (healthy walking, feet + lower back) to real-data
recordings that ``scripts/real_data_check.py`` scores, and pool the scores.

The data set (github.com/CyrilVoisard/ipol_dataset_1, folder ``GaitData``; licence of the
repository: AGPL-3.0, so the data are read from a local copy and never committed here): 19
healthy adults, 110 trials of "stand, walk 10 m, turn around, walk back, stop", three Xsens MTw
Awinda IMUs at 100 Hz (each foot, lower back at L5). Per trial the metadata give every foot's
swing phases ``[start, end]`` in samples (``start`` = toe-off, ``end`` = initial contact), from
two published detection algorithms checked by hand: a reference independent of runform but not
an instrumented one (no force plate or motion capture), at 10 ms resolution. Accelerations in
m/s², angular rates converted from rad/s to deg/s.

Time base: the Awinda master stamps every sample with a ``PacketCounter`` common to the three
sensors (their counters run together, 100 per second), and radio packets are lost: up to 10 % of
a sensor's samples in some trials, 1-10 in a row, mostly on the way back from the turn. Each
sample is therefore placed at ``PacketCounter / 100`` s with its losses written as ``gaps`` (the
analysers bridge or split them), not at its row number: the data set's own loader aligns the
three files row by row, which shifts a sensor by its lost samples (voisard_2-3: the lower-back
sensor 0.3 s behind the feet after the turn, 2.9 s by the end). The reference's sample numbers
count packets, not rows (after a loss the swing ends fall where the foot moves in packet time,
on a still foot in row time), so an event at sample ``k`` of a foot is at
``(k + first PacketCounter of that foot) / 100`` s.

Usage::

    .venv/bin/python scripts/realdata_voisard.py convert SRC_GAITDATA_DIR OUT_DIR
    .venv/bin/python scripts/real_data_check.py --realdata OUT_DIR --out /tmp/voisard.md \\
        --json /tmp/voisard.json
    .venv/bin/python scripts/realdata_voisard.py pool /tmp/voisard.json

Each trial becomes ``OUT_DIR/voisard_S-T.h5`` (format v1: ``left_foot``, ``right_foot``,
``pelvis``) and ``voisard_S-T.json`` (the reference: ``contacts`` per foot with IC and the
following toe-off, ``pelvis_steps`` = every IC with its side, ``bouts`` = the trial's walking
span, ``cover`` per sensor). ``pool`` prints the scores pooled over all trials.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RATE_HZ = 100.0
SOURCE = "github.com/CyrilVoisard/ipol_dataset_1 (GaitData)"
CITATION = (
    "Voisard C, de l'Escalopier N, Ricard D, Oudre L. A reference data set for the study of "
    "healthy subject gait with inertial measurements units (IPOL); data: " + SOURCE
)
SENSORS = (
    ("lf", "left_foot", "left_foot"),
    ("rf", "right_foot", "right_foot"),
    ("lb", "pelvis", "pelvis"),
)


def _read_xsens(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(packet counter, acc m/s², gyr deg/s) of one Xsens text export (a header line, then
    tab-separated columns PacketCounter, Acc_X..Z, Gyr_X..Z in rad/s, Mag_X..Z); a repeated
    packet is read once."""
    with path.open() as f:
        f.readline()  # "Acquisition frequency: 100 Hz"
        names = f.readline().split()
        data = np.loadtxt(f, delimiter="\t", ndmin=2)
    col = {n: i for i, n in enumerate(names)}
    seq = np.rint(data[:, col["PacketCounter"]]).astype(np.int64)
    # a packet received twice (the same counter again, e.g. 11-1 at 308): the first one kept
    keep = np.concatenate(([True], seq[1:] > np.maximum.accumulate(seq)[:-1]))
    data, seq = data[keep], seq[keep]
    acc = data[:, [col["Acc_X"], col["Acc_Y"], col["Acc_Z"]]]
    gyr = np.degrees(data[:, [col["Gyr_X"], col["Gyr_Y"], col["Gyr_Z"]]])
    return seq, acc, gyr


def _lost(seq: np.ndarray) -> np.ndarray:
    """``[t_start, t_end]`` (s) between the samples around each run of lost packets."""
    i = np.flatnonzero(np.diff(seq) > 1)
    return np.column_stack((seq[i] / RATE_HZ, seq[i + 1] / RATE_HZ)).reshape(-1, 2)


def _contacts(events: list[list[int]], sensor_id: str, side: str, seq0: int = 0) -> list[dict]:
    """Reference contacts of one foot from its swing phases [toe-off, IC] (packets counted from
    the foot's first one, ``seq0``)."""
    sw = sorted(events)
    out = []
    for k, (_, ic) in enumerate(sw):
        nxt = sw[k + 1] if k + 1 < len(sw) else None
        out.append(
            {
                "sensor_id": sensor_id,
                "side": side,
                "t_ic": (ic + seq0) / RATE_HZ,
                "t_to": (nxt[0] + seq0) / RATE_HZ if nxt else None,
                "stride_time": (nxt[1] - ic) / RATE_HZ if nxt else None,
                "stride_length": None,
                "foot_strike_angle": None,
                "strike_type": None,
                "method": "swing ends of the data set's checked stride segmentation",
            }
        )
    return out


def convert_trial(src: Path, code: str, out_dir: Path) -> Path:
    from dsp.block import SampleBlock, SensorInfo
    from recordings.writer import RecordingWriter

    meta = json.loads((src / f"{code}.json").read_text())
    signals = {sid: _read_xsens(src / f"{code}_{suffix}.txt") for suffix, sid, _ in SENSORS}
    infos = [
        SensorInfo(
            sid, placement, "xsens_mtw_awinda", RATE_HZ, acc_range_g=16.0, gyr_range_dps=2000.0
        )
        for _, sid, placement in SENSORS
    ]
    h5 = out_dir / f"voisard_{code}.h5"
    with RecordingWriter(
        h5,
        infos,
        live=False,
        notes=f"Voisard et al. gait data set, trial {code}: stand, walk 10 m, turn, walk back, stop",
        software="runform scripts/realdata_voisard.py",
        created_utc="2020-01-01T00:00:00Z",
    ) as w:
        for _, sid, _ in SENSORS:
            seq, acc, gyr = signals[sid]
            w.append(
                SampleBlock(
                    sid, seq / RATE_HZ, acc, gyr, seq=seq.astype(np.uint32), gaps=_lost(seq)
                )
            )
    seq0 = {sid: int(signals[sid][0][0]) for _, sid, _ in SENSORS}
    left = _contacts(meta["LeftFootEvents"], "left_foot", "left", seq0["left_foot"])
    right = _contacts(meta["RightFootEvents"], "right_foot", "right", seq0["right_foot"])
    first = min(seq0.values())
    t0, t1 = ((b + first) / RATE_HZ for b in meta["TrialBoundaries"])
    u0, u1 = ((b + first) / RATE_HZ for b in meta["UTurnBoundaries"])
    steps = sorted(
        ({"sensor_id": "pelvis", "side": c["side"], "t_ic": c["t_ic"]} for c in left + right),
        key=lambda s: s["t_ic"],
    )
    ref = {
        "scenario": f"voisard_{code}",
        "source": f"{SOURCE} {code}",
        "licence": "AGPL-3.0 (repository licence)",
        "citation": CITATION,
        "activity": "walking: stand, 10 m, U-turn, 10 m back, stop (healthy adult)",
        "reference": (
            "swing phases from two validated IMU algorithms, checked by hand (not an "
            "instrumented reference); 10 ms resolution"
        ),
        "subject": meta.get("Subject"),
        "contacts": left + right,
        "pelvis_steps": steps,
        "bouts": [[t0, t1]],
        "u_turn": [u0, u1],
        "cover": {sid: [t0 - 0.3, t1 + 0.3] for _, sid, _ in SENSORS},
    }
    (out_dir / f"voisard_{code}.json").write_text(json.dumps(ref, indent=1))
    return h5


def convert(src: Path, out_dir: Path) -> int:
    out_dir.mkdir(parents=True, exist_ok=True)
    codes = sorted(
        (p.name[: -len("_lf.txt")] for p in src.glob("*_lf.txt")),
        key=lambda c: tuple(int(x) for x in c.split("-")),
    )
    names = []
    for code in codes:
        convert_trial(src, code, out_dir)
        names.append(f"voisard_{code}")
    (out_dir / "index.json").write_text(json.dumps({"voisard": names}, indent=1))
    print(f"wrote {len(names)} recordings to {out_dir}")
    return 0


def _sum(rows: list[dict], key: str) -> int:
    return int(sum(r.get(key) or 0 for r in rows))


def _median_of(rows: list[dict], key: str) -> float:
    vals = [r[key] for r in rows if isinstance(r.get(key), int | float) and math.isfinite(r[key])]
    return float(np.median(vals)) if vals else math.nan


def _n_ic_over(recs: list[dict], subjects: range | None, limit_ms: float) -> int:
    """Matched foot contacts whose |IC error| exceeds ``limit_ms``, over the recordings of
    ``subjects`` (``voisard_S-T``; all when None)."""
    n = 0
    for r in recs:
        subject = int(r["recording"].split("_")[-1].split("-")[0])
        if subjects is None or subject in subjects:
            n += sum(
                abs(e) > limit_ms for f in r.get("foot", []) for e in f.get("ic_errors_ms", [])
            )
    return n


def pool(json_path: Path) -> int:
    """Print the scores of ``real_data_check.py --json`` pooled over the recordings: counts
    summed; per-recording medians summarised by their median and worst value."""
    recs = json.loads(json_path.read_text())
    foot = [f for r in recs for f in r.get("foot", [])]
    pelvis = [p for r in recs for p in r.get("pelvis", [])]
    lines = [f"{len(recs)} recordings"]
    if foot:
        n_ref, found, false = _sum(foot, "n_ref"), _sum(foot, "found"), _sum(foot, "false")
        worst = sorted(foot, key=lambda f: f.get("found_frac", 1.0))[:3]
        lines += [
            f"feet ({len(foot)} sensors): found {found}/{n_ref} ({100 * found / max(1, n_ref):.1f} %), "
            f"false {false}, low_alignment rows {_sum(foot, 'low_alignment')}",
            f"  IC median |error| per sensor: median {_median_of(foot, 'ic_median_ms'):.1f} ms "
            f"(bias {_median_of(foot, 'ic_bias_ms'):+.1f}), worst sensor "
            f"{max(f['ic_median_ms'] for f in foot if math.isfinite(f['ic_median_ms'])):.1f} ms; "
            f"largest |IC error| median {_median_of(foot, 'ic_max_ms'):.0f} ms",
            "  ICs more than 60 ms off: "
            + ", ".join(
                f"{label} {_n_ic_over(recs, subjects, 60.0)}"
                for label, subjects in (
                    ("all", None),
                    ("1-10", range(1, 11)),
                    ("11-19", range(11, 20)),
                )
            ),
            f"  TO median |error| per sensor: median {_median_of(foot, 'to_median_ms'):.1f} ms "
            f"(bias {_median_of(foot, 'to_bias_ms'):+.1f})",
            "  fewest found: "
            + ", ".join(
                f"{r['recording']}:{f['sensor_id']} {f['found']}/{f['n_ref']}"
                for r in recs
                for f in r.get("foot", [])
                if f in worst
            ),
        ]
    if pelvis:
        n_ref, found = _sum(pelvis, "n_ref"), _sum(pelvis, "found")
        rows, false = _sum(pelvis, "n_rows"), _sum(pelvis, "false")
        side = np.average(
            [p["side_agree"] for p in pelvis if p.get("found")],
            weights=[p["found"] for p in pelvis if p.get("found")],
        )
        lines += [
            f"pelvis ({len(pelvis)} sensors): steps found {found}/{n_ref} "
            f"({100 * found / max(1, n_ref):.1f} %), precision {100 * (1 - false / max(1, rows)):.1f} %, "
            f"side {100 * side:.1f} %, IC median per sensor {_median_of(pelvis, 'ic_median_ms'):.1f} ms "
            f"(bias {_median_of(pelvis, 'ic_bias_ms'):+.1f})",
        ]
    print("\n".join(lines))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("convert", help="write format-v1 recordings and references")
    c.add_argument("src", type=Path, help="the data set's GaitData folder")
    c.add_argument("out", type=Path)
    p = sub.add_parser("pool", help="pool the scores of real_data_check.py --json")
    p.add_argument("json", type=Path)
    args = ap.parse_args(argv)
    if args.cmd == "convert":
        return convert(args.src, args.out)
    return pool(args.json)


if __name__ == "__main__":
    raise SystemExit(main())
