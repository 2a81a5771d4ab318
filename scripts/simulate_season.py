"""Simulate a season: ten weeks of two runs a week by one runner who learns a midfoot landing
and strengthens the hips from week 5 (the foot strike angle falls from ~16 to ~4 deg, the
left-stance pelvic drop improves from ~8 to ~5 deg), each run dated by ``--date``; then
``runform history`` shows both changes and when they happened.

    python scripts/simulate_season.py OUT_DIR [--weeks 10] [--duration 60]
    runform history OUT_DIR --out history.html
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, timedelta
from pathlib import Path

from runform.cli import main

#: (foot strike angle deg, left-stance pelvic drop deg, cadence spm) per week, 1-based; the
#: change happens over week 5 and holds after it.
BEFORE = (16.0, 8.0, 162.0)
DURING = (10.0, 6.5, 166.0)
AFTER = (4.0, 5.0, 170.0)


def week_form(week: int) -> tuple[float, float, float]:
    return BEFORE if week <= 4 else (DURING if week == 5 else AFTER)


def main_(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", help="folder for the recordings")
    ap.add_argument("--weeks", type=int, default=10)
    ap.add_argument("--duration", type=float, default=60.0, help="s per run (60)")
    ap.add_argument("--start", default="2026-09-07", help="Monday of week 1 (2026-09-07)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    monday = date.fromisoformat(args.start)
    for week in range(1, args.weeks + 1):
        fsa, drop_left, cadence = week_form(week)
        for k, day in enumerate((0, 3)):  # Monday and Thursday
            d = monday + timedelta(days=7 * (week - 1) + day)
            seed = 100 * week + k
            speed = 3.0 + 0.1 * ((week + k) % 3 - 1)  # 2.9-3.1 m/s from run to run
            rc = main([
                "simulate", "--scenario", "easy", "--duration", f"{args.duration:g}",
                "--seed", str(seed), "--date", f"{d.isoformat()}T07:00", "--no-progress",
                "--set", f"foot_strike_angle_deg={fsa}",
                "--set", f"pelvic_drop_deg={drop_left},4.5",
                "--set", f"cadence_spm={cadence}",
                "--set", f"speed_mps={speed:.2f}",
                "--out", str(out / f"run_{d.isoformat()}.h5"),
            ])  # fmt: skip
            if rc:
                return rc
    return 0


if __name__ == "__main__":
    sys.exit(main_())
