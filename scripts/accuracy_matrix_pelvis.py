"""Pelvis analysis accuracy against the simulator's ground truth, over a matrix of conditions.

Runs :class:`dsp.pelvis_analyzer.PelvisAnalyzer` (pelvis alone; and the session with foot
sensors for the fusion rows) on simulated sessions across sample rates, mountings, asymmetric
pelvic drop, cadence, with and without a standing period, with lost packets and other simulated
runners, scores every step against the truth (``firmware_bridge/simulator/eval_pelvis.py``) and writes the table
into the ``## Pelvis`` section of ``docs/accuracy.md`` (between the ``pelvis-accuracy`` markers;
the rest of the file is kept).

Usage::

    .venv/bin/python scripts/accuracy_matrix_pelvis.py            # full matrix, ~1-2 min
    .venv/bin/python scripts/accuracy_matrix_pelvis.py --quick    # a few conditions
    .venv/bin/python scripts/accuracy_matrix_pelvis.py --no-write # print only
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dsp.session import SessionAnalyzer  # noqa: E402
from firmware_bridge.simulator import simulate_session  # noqa: E402
from firmware_bridge.simulator.eval_pelvis import run_pelvis_only, score_pelvis  # noqa: E402

BEGIN = "<!-- pelvis-accuracy:begin -->"
END = "<!-- pelvis-accuracy:end -->"
P = ("pelvis",)

#: (label, scenario, overrides, fused)
MATRIX: list[tuple[str, str, dict, bool]] = []
for rate in (50, 104, 208, 416, 833):
    MATRIX.append(
        (
            f"easy 8/4 deg @ {rate} Hz, standing",
            "easy",
            {"rate_hz": rate, "pelvic_drop_deg": (8.0, 4.0), "sensors": P},
            False,
        )
    )
    MATRIX.append(
        (
            f"easy 4/8 deg @ {rate} Hz, no standing",
            "easy",
            {"rate_hz": rate, "pelvic_drop_deg": (4.0, 8.0), "standing_s": 0.0, "sensors": P},
            False,
        )
    )
for mount in ("sacrum", "pelvis_front", "pelvis_upside_down", "random"):
    for st in (5.0, 0.0):
        MATRIX.append(
            (
                f"mount {mount}, {'standing' if st else 'no standing'}",
                "easy",
                {
                    "rate_hz": 208,
                    "mounting": {"pelvis": mount},
                    "standing_s": st,
                    "pelvic_drop_deg": (8.0, 4.0),
                    "sensors": P,
                },
                False,
            )
        )
for cad in (150.0, 170.0, 190.0):
    MATRIX.append(
        (
            f"cadence {cad:.0f}, 8/4 deg",
            "easy",
            {"rate_hz": 208, "cadence_spm": cad, "pelvic_drop_deg": (8.0, 4.0), "sensors": P},
            False,
        )
    )
for loss in (0.01, 0.05):
    MATRIX.append(
        (
            f"lost packets {loss:.0%} @ 104 Hz",
            "easy",
            {"rate_hz": 104, "packet_loss": loss, "sensors": P},
            False,
        )
    )
for sc in ("chirunning", "rearfoot", "midfoot", "forefoot", "treadmill"):
    MATRIX.append((f"{sc} @ 208 Hz", sc, {"rate_hz": 208, "sensors": P}, False))
MATRIX += [
    (
        "noise x4 @ 208 Hz",
        "easy",
        {"rate_hz": 208, "acc_noise_density": 6e-3, "gyr_noise_density": 0.032, "sensors": P},
        False,
    ),
    ("mount jitter 8 deg", "easy", {"rate_hz": 208, "mount_jitter_deg": 8.0, "sensors": P}, False),
    ("fusion: chirunning + feet @ 208 Hz", "chirunning", {"rate_hz": 208}, True),
    (
        "fusion: easy 4/8 + feet @ 104 Hz, no standing",
        "easy",
        {"rate_hz": 104, "pelvic_drop_deg": (4.0, 8.0), "standing_s": 0.0},
        True,
    ),
]

QUICK = [0, 1, 12, 24, 30]


def run_case(
    label: str, scenario: str, overrides: dict, fused: bool, *, duration_s: float, seed: int
) -> dict:
    sim = simulate_session(scenario, duration_s=duration_s, seed=seed, **overrides)
    t_end = sim.blocks["pelvis"].t_end
    if fused:
        sa = SessionAnalyzer(sim.sensors)
        rows = []
        for b in sim.iter_blocks(30.0):
            rows += sa.feed(b).rows
        rows += sa.finish().rows
        rows = [r for r in rows if r.sensor_id == "pelvis"]
        summ = sa.summary()["pelvis"]
    else:
        pa, rows = run_pelvis_only(sim, chunk_s=30.0)
        summ = pa.summary()
    return {
        "label": label,
        "score": score_pelvis(rows, sim.truth, t_end=t_end),
        "baseline": summ["baseline"],
        "events_source": summ["events_source"],
    }


def run_matrix(*, duration_s: float = 90.0, quick: bool = False, seed: int = 21) -> list[dict]:
    cases = [MATRIX[i] for i in QUICK] if quick else MATRIX
    return [run_case(*c, duration_s=duration_s, seed=seed + i) for i, c in enumerate(cases)]


def table(results: list[dict]) -> str:
    head = (
        "| condition | steps | found | false | side | drop MAE (deg) | VO MAE (cm) | "
        "IC MAE (ms) | contact time MAE (ms) | baseline | events |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for r in results:
        s = r["score"]
        lines.append(
            f"| {r['label']} | {s.n_truth} | {s.found:.1%} | {s.false} | {s.side:.1%} | "
            f"{s.drop_mae:.2f} | {s.vo_mae:.2f} | {s.ic_mae_ms:.1f} | {s.ct_mae_ms:.1f} | "
            f"{r['baseline']} | {r['events_source']} |"
        )
    return head + "\n".join(lines) + "\n"


def write_section(text: str, path: Path) -> None:
    block = f"{BEGIN}\n{text}{END}\n"
    old = path.read_text() if path.exists() else "# Accuracy\n"
    if BEGIN in old and END in old:
        new = old[: old.index(BEGIN)] + block + old[old.index(END) + len(END) + 1 :]
    else:
        sep = "" if old.endswith("\n") else "\n"
        new = (
            old + sep + "\n## Pelvis\n\n"
            "Pelvis sensor alone unless marked *fusion* (foot sensors in the same session give "
            "the step timing and side). Produced by `scripts/accuracy_matrix_pelvis.py`; "
            "methods in `docs/dsp_pelvis.md`.\n\n" + block
        )
    path.write_text(new)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--duration", type=float, default=90.0, help="s per session (default 90)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    results = run_matrix(duration_s=args.duration, quick=args.quick)
    text = table(results)
    worst = {
        "found": min(r["score"].found for r in results),
        "false": max(r["score"].false for r in results),
        "side": min(r["score"].side for r in results),
        "drop": max(r["score"].drop_mae for r in results),
        "vo": max(r["score"].vo_mae for r in results),
    }
    text += (
        f"\nWorst case over the {len(results)} conditions ({args.duration:g} s each): steps "
        f"found {worst['found']:.1%}, false steps {worst['false']}, side {worst['side']:.1%}, "
        f"pelvic drop MAE {worst['drop']:.2f} deg, vertical oscillation MAE {worst['vo']:.2f} cm "
        "(targets: >= 98 %, 0, >= 98 %, <= 1.0 deg, <= 1 cm).\n"
    )
    print(text)
    print(f"({time.perf_counter() - t0:.0f} s)")
    if not args.no_write:
        write_section(text, ROOT / "docs" / "accuracy.md")


if __name__ == "__main__":
    main()
