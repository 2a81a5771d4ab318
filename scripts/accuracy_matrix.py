"""Foot analysis accuracy against the simulator's ground truth, over a matrix of conditions.

Runs :class:`dsp.session.SessionAnalyzer` on simulated sessions (sample rate, strike type and
transitions, mountings, noise, treadmill, dropouts, walking), compares every contact with the
truth (``firmware_bridge/simulator/eval_feet.py``) and writes the table of measured errors into the foot section of
``docs/accuracy.md`` (between the ``foot-accuracy`` markers; the rest of the file is kept).

Usage::

    .venv/bin/python scripts/accuracy_matrix.py            # full matrix, ~2-4 min on 2 cores
    .venv/bin/python scripts/accuracy_matrix.py --quick    # a few conditions
    .venv/bin/python scripts/accuracy_matrix.py --no-write # print only
    .venv/bin/python scripts/accuracy_matrix.py --runners  # also the different-runners table

``--runners`` adds a second table (between the ``foot-runners`` markers): sessions of 40 s in
which every seed draws a different runner (``runner_variation=1``, seeds 41-44), the metrics
pooled over the seeds and both feet.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from firmware_bridge.simulator import simulate_session  # noqa: E402
from firmware_bridge.simulator.eval_feet import analyze_run, evaluate_run  # noqa: E402

BEGIN = "<!-- foot-accuracy:begin -->"
END = "<!-- foot-accuracy:end -->"

RANDOM = {"left_foot": "random", "right_foot": "random", "pelvis": "sacrum"}
FEET = ("left_foot", "right_foot")

#: (label, scenario, overrides)
MATRIX: list[tuple[str, str, dict]] = []
for rate in (50, 100, 208, 416, 833, 1666):
    MATRIX.append((f"easy @ {rate} Hz", "easy", {"rate_hz": rate}))
for sc in ("rearfoot", "midfoot", "forefoot", "chirunning", "treadmill", "walk"):
    MATRIX.append((f"{sc} @ 208 Hz", sc, {"rate_hz": 208}))
for sc in ("rearfoot", "forefoot"):
    MATRIX.append((f"{sc} @ 100 Hz", sc, {"rate_hz": 100}))
    MATRIX.append((f"{sc} @ 833 Hz", sc, {"rate_hz": 833}))
for mount in ("random", "upside_down", "heel_counter", "lateral", "medial"):
    m = {"left_foot": mount, "right_foot": mount, "pelvis": "sacrum"}
    MATRIX.append((f"mount {mount}", "easy", {"rate_hz": 208, "mounting": m}))
MATRIX += [
    ("noise x4", "easy", {"rate_hz": 208, "acc_noise_density": 6e-3, "gyr_noise_density": 0.032}),
    ("dropouts 2 %", "easy", {"rate_hz": 208, "packet_loss": 0.02, "loss_burst_packets": 8}),
    ("acc range 32 g", "easy", {"rate_hz": 208, "acc_range_g": 32.0}),
    ("walk @ 100 Hz", "walk", {"rate_hz": 100}),
    ("walk random mount", "walk", {"rate_hz": 208, "mounting": RANDOM}),
    ("treadmill random mount", "treadmill", {"rate_hz": 416, "mounting": RANDOM}),
    # what real shoe sensors showed (issue 16): dropouts written as zeros, impact ringing that
    # clips, feet never still at mid-stance, ~59 Hz devices with a 2 g range
    (
        "dropouts 2 % as zeros",
        "easy",
        {"rate_hz": 208, "packet_loss": 0.02, "loss_burst_packets": 8, "zero_dropouts": True},
    ),
    (
        "rearfoot, ringing 15 g, 8 g range",
        "rearfoot",
        {"rate_hz": 208, "acc_range_g": 8.0, "foot_ring_g": 15.0, "foot_ring_hz": 40.0},
    ),
    (
        "easy, ringing 20 g @ 55 Hz, 4 g range",
        "easy",
        {"rate_hz": 416, "acc_range_g": 4.0, "foot_ring_g": 20.0, "foot_ring_hz": 55.0},
    ),
    ("stance wobble 40 deg/s", "easy", {"rate_hz": 208, "stance_wobble_dps": 40.0}),
    (
        "rearfoot @ 104 Hz, wobble 60 deg/s",
        "rearfoot",
        {"rate_hz": 104, "stance_wobble_dps": 60.0},
    ),
    ("easy @ 59 Hz, 2 g range", "easy", {"rate_hz": 59, "acc_range_g": 2.0}),
    # the real treadmill runner's foot (Fukuchi RBDS032, issue 16): the swing axis ~20 deg from
    # the heel-toe axis's normal, landing ~15 deg inverted, ~10 deg toe-out
    (
        "rearfoot, oblique swing, toe-out 10°, inverted 15°",
        "rearfoot",
        {
            "rate_hz": 208,
            "swing_inversion_coupling": 0.35,
            "foot_progression_deg": 10.0,
            "eversion_at_ic_deg": -15.0,
        },
    ),
]
QUICK = ["easy @ 208 Hz", "forefoot @ 208 Hz", "walk @ 208 Hz", "mount random"]

RUNNERS_BEGIN = "<!-- foot-runners:begin -->"
RUNNERS_END = "<!-- foot-runners:end -->"
RUNNER_SEEDS = (41, 42, 43, 44)
#: (label, scenario, overrides) of the different-runners table (runner_variation=1)
RUNNERS: list[tuple[str, str, dict]] = [
    ("rearfoot @ 208 Hz", "rearfoot", {"rate_hz": 208}),
    ("midfoot @ 208 Hz", "midfoot", {"rate_hz": 208}),
    ("forefoot @ 208 Hz", "forefoot", {"rate_hz": 208}),
    ("treadmill @ 208 Hz", "treadmill", {"rate_hz": 208}),
    ("walk @ 208 Hz", "walk", {"rate_hz": 208}),
    ("walk @ 100 Hz", "walk", {"rate_hz": 100}),
    ("easy @ 100 Hz", "easy", {"rate_hz": 100}),
    ("easy @ 50 Hz", "easy", {"rate_hz": 50}),
    ("rearfoot @ 50 Hz, no standing", "rearfoot", {"rate_hz": 50, "standing_s": 0.0}),
    ("easy @ 416 Hz, random mount", "easy", {"rate_hz": 416, "mounting": RANDOM}),
    (
        "chirunning @ 208 Hz, dropouts 2 %",
        "chirunning",
        {"rate_hz": 208, "packet_loss": 0.02, "loss_burst_packets": 8},
    ),
    # the shoe's axes vary too: toe-out, inversion at contact, an oblique swing
    (
        "rearfoot @ 208 Hz, varied foot axes",
        "rearfoot",
        {"rate_hz": 208, "foot_axes_variation": 1.0},
    ),
    ("midfoot @ 104 Hz, varied foot axes", "midfoot", {"rate_hz": 104, "foot_axes_variation": 1.0}),
    (
        "treadmill @ 208 Hz, varied foot axes",
        "treadmill",
        {"rate_hz": 208, "foot_axes_variation": 1.0},
    ),
    ("walk @ 100 Hz, varied foot axes", "walk", {"rate_hz": 100, "foot_axes_variation": 1.0}),
]

COLS = [
    ("found", "found_frac", "{:.1%}"),
    ("false", "false", "{:d}"),
    ("IC abs ms", "ic_median_abs_ms", "{:.1f}"),
    ("IC bias", "ic_bias_ms", "{:+.1f}"),
    ("TO abs ms", "to_median_abs_ms", "{:.1f}"),
    ("TO bias", "to_bias_ms", "{:+.1f}"),
    ("FSA MAE °", "fsa_mae_deg", "{:.2f}"),
    ("type ok", "strike_type_acc", "{:.1%}"),
    ("MPV MAPE", "mpv_mape", "{:.1f} %"),
    ("exc MAE °", "exc_mae_deg", "{:.2f}"),
    ("SL MAPE", "sl_mape", "{:.1f} %"),
]


def zero_fill(run) -> None:
    """Lost samples written as zeros on all six axes (some devices do so after a radio
    dropout) instead of left out: the blocks get a zero sample for every missing sample
    counter and report no gap; the truth keeps the lost intervals (contacts touching them are
    not expected)."""
    from dsp.block import SampleBlock

    for sid, b in list(run.blocks.items()):
        if b.seq is None or len(b) < 2:
            continue
        seq = b.seq.astype(np.int64)
        full = np.arange(int(seq[0]), int(seq[-1]) + 1)
        t = np.interp(full, seq, b.t)
        acc = np.zeros((full.size, 3))
        gyr = np.zeros((full.size, 3))
        pos = seq - seq[0]
        acc[pos] = b.acc
        gyr[pos] = b.gyr
        run.blocks[sid] = SampleBlock(sid, t, acc, gyr, full.astype(np.uint32))


def run_condition(
    label: str, scenario: str, overrides: dict, seed: int | tuple[int, ...], duration_s: float
):
    """Errors of one condition (several seeds: pooled like the two feet). The override
    ``zero_dropouts=True`` writes lost samples as zeros (:func:`zero_fill`)."""
    ev = []
    el = 0.0
    overrides = dict(overrides)
    zeros = bool(overrides.pop("zero_dropouts", False))
    for sd in (seed,) if isinstance(seed, int) else seed:
        run = simulate_session(scenario, duration_s=duration_s, seed=sd, sensors=FEET, **overrides)
        if zeros:
            zero_fill(run)
        t0 = time.perf_counter()
        rows = analyze_run(run)
        el += time.perf_counter() - t0
        ev += evaluate_run(rows, run.truth)
    # pool the two feet: counts add up, errors are averaged
    out: dict = {"label": label, "seconds": el}
    out["found_frac"] = sum(e["found"] for e in ev) / max(1, sum(e["expected"] for e in ev))
    out["false"] = sum(e["false"] for e in ev)
    for key in (
        "ic_median_abs_ms",
        "ic_bias_ms",
        "to_median_abs_ms",
        "to_bias_ms",
        "fsa_mae_deg",
        "strike_type_acc",
        "mpv_mape",
        "exc_mae_deg",
        "sl_mape",
    ):
        vals = [e[key] for e in ev if np.isfinite(e[key])]
        out[key] = float(np.mean(vals)) if vals else math.nan
    return out


def fmt(res: dict) -> str:
    cells = [res["label"]]
    for _, key, f in COLS:
        v = res[key]
        cells.append("–" if isinstance(v, float) and not math.isfinite(v) else f.format(v))
    return "| " + " | ".join(cells) + " |"


def table(results: list[dict], seconds: float, duration_s: float, sessions: int = 1) -> str:
    head = "| condition | " + " | ".join(c for c, _, _ in COLS) + " |"
    sep = "|" + "---|" * (len(COLS) + 1)
    lines = [
        BEGIN,
        "## Foot sensors (measured by `scripts/accuracy_matrix.py`)",
        "",
        f"Simulated sessions of {duration_s:.0f} s ({sessions} per condition: seeds k, k + 100, "
        "..., for the condition's row k; both feet; default sensor "
        "errors: noise, bias, scale and cross-axis errors, 16 g / 2000 deg/s ranges, a causal "
        "anti-alias filter, random sampling phase), analysed by the streaming "
        "`SessionAnalyzer` and compared contact by contact with the simulator's truth "
        "(`firmware_bridge/simulator/eval_feet.py`). Errors of the two feet and the sessions are averaged; `found` is the share of "
        "contacts in the data that were found (contacts touching a data gap are not expected), "
        "`false` the rows that match no contact. IC/TO: median absolute error and median "
        "signed error (bias) in ms. FSA: foot strike angle. MPV: max pronation velocity. "
        "SL: stride length. Rejected rows are not scored.",
        "",
        "Targets (issue 5): IC ≤ 5 ms and TO ≤ 10 ms at ≥ 200 Hz (≤ 8 / ≤ 15 ms at 100 Hz); "
        "FSA MAE ≤ 2°; strike type ≥ 95 %; MPV MAPE ≤ 10 %; excursion MAE ≤ 1.5°; SL MAPE "
        "≤ 2 %; ≥ 99 % of contacts found, no false ones.",
        "",
        head,
        sep,
        *[fmt(r) for r in results],
        "",
        f"Total analysis time {seconds:.1f} s for {len(results)} conditions.",
        END,
    ]
    return "\n".join(lines)


def runners_table(results: list[dict], duration_s: float) -> str:
    head = "| condition | " + " | ".join(c for c, _, _ in COLS) + " |"
    sep = "|" + "---|" * (len(COLS) + 1)
    seeds = f"{RUNNER_SEEDS[0]}-{RUNNER_SEEDS[-1]}"
    return "\n".join(
        [
            RUNNERS_BEGIN,
            f"Different runners (measured by `scripts/accuracy_matrix.py --runners`): "
            f"`runner_variation=1`, seeds {seeds} (a different runner each), {duration_s:.0f} s "
            "each, both feet; errors averaged over the seeds and feet, `found` and `false` "
            "summed.",
            "",
            head,
            sep,
            *[fmt(r) for r in results],
            RUNNERS_END,
        ]
    )


def write_section(path: Path, section: str, begin: str = BEGIN, end: str = END) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else "# Accuracy\n\n"
    if begin in text and end in text:
        a = text.index(begin)
        b = text.index(end) + len(end)
        text = text[:a] + section + text[b:]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a few conditions only")
    p.add_argument("--duration-s", type=float, default=60.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--sessions",
        type=int,
        default=3,
        help="sessions per condition (seeds k, k+100, ...; default 3: the strike type's "
        "agreement on one 60 s session, ~160 contacts, has a standard error of ~1.5 points)",
    )
    p.add_argument("--no-write", action="store_true", help="print, do not touch docs/")
    p.add_argument("--runners", action="store_true", help="also the different-runners table")
    args = p.parse_args(argv)
    todo = [m for m in MATRIX if not args.quick or m[0] in QUICK]
    results = []
    t0 = time.perf_counter()
    for k, (label, sc, ov) in enumerate(todo):
        seeds = tuple(args.seed + k + 100 * j for j in range(max(1, args.sessions)))
        res = run_condition(label, sc, ov, seeds, args.duration_s)
        results.append(res)
        print(fmt(res), flush=True)
    total = sum(r["seconds"] for r in results)
    section = table(results, total, args.duration_s, args.sessions)
    runner_section = None
    if args.runners:
        r_results = []
        for label, sc, ov in RUNNERS:
            res = run_condition(label, sc, {"runner_variation": 1.0, **ov}, RUNNER_SEEDS, 40.0)
            r_results.append(res)
            print(fmt(res), flush=True)
        runner_section = runners_table(r_results, 40.0)
    if not args.no_write:
        write_section(ROOT / "docs" / "accuracy.md", section)
        if runner_section is not None:
            write_section(ROOT / "docs" / "accuracy.md", runner_section, RUNNERS_BEGIN, RUNNERS_END)
        print(f"wrote docs/accuracy.md ({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
