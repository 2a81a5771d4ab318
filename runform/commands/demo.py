"""``runform demo``: the whole pipeline on the built-in virtual runner, no hardware needed.

1. three emulated sensors (both shoes and the pelvis) stream over the bleak client on a virtual
   Bluetooth link and are recorded (``runform record --simulate``);
2. a longer session of the same runner with exact ground truth is simulated
   (``runform simulate``): a heel striker who switches to a ChiRunning-style midfoot strike at a
   "midfoot drill" marker, with a weak left hip;
3. it is described (``info``), analysed stride by stride (``analyze``), and the medians are set
   against the simulator's ground truth;
4. a session report, a before/after comparison split at the drill marker and a screenshot of
   the replay viewer are written;
5. a run/walk interval session (``intervals``: stand, walk, run and walk bouts, stand) is
   simulated, analysed and reported: its activity bouts, running and walking apart, each
   with its own alerts.
6. on-sensor logging: three emulated sensors (two DIY clips and a MetaMotion) are armed over
   the virtual Bluetooth link, the runner "runs" without a host (the simulator fills the
   sensors' flash), the logs are downloaded into one recording, analysed and exported as a FIT
   activity that is read back (``runform sensors arm / status / download``,
   ``runform export --fit``).

Every step runs the same code as its own subcommand; everything lands in ``--out``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path
from typing import Any

from runform.console import make_console
from runform.errors import UsageError

NAME = "demo"
HELP = "run the whole pipeline on the simulated runner (no hardware) and write it all to --out"

#: Scenario of the demo and its drill marker.
SCENARIO = "chirunning"
DRILL_MARKER = "midfoot drill"

#: What the demo writes into ``--out`` (a later demo in the same folder replaces them).
OUTPUTS = (
    "ble_run.h5", "run.h5", "truth.json", "STRIDES.csv", "SUMMARY.json", "report.html",
    "compare.html", "compare.json", "viewer.png", "intervals.h5", "intervals_truth.json",
    "intervals_STRIDES.csv", "intervals_SUMMARY.json", "intervals_report.html", "sensors",
    "logged_run.h5", "logged_run.fit", "LOGGED_STRIDES.csv", "LOGGED_SUMMARY.json",
)  # fmt: skip
#: Written into ``--out``: the folder is a demo's, whose outputs a later demo may replace.
MARK = ".runform-demo"
#: Longest ``--ble-seconds``, s: they stream in real time.
MAX_BLE_S = 3600.0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="demo-output", help="folder for every output (demo-output)")
    p.add_argument("--duration", type=float, default=120.0, help="simulated session, s (120)")
    p.add_argument("--rate", type=float, default=208.0, help="sample rate, Hz (208)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the runner (0)")
    p.add_argument(
        "--ble-seconds",
        type=float,
        default=10.0,
        help="seconds streamed over the emulated Bluetooth link (10; 0 = skip)",
    )
    p.add_argument(
        "--intervals-duration",
        type=float,
        default=150.0,
        help="run/walk interval session, s (150; its bouts scaled to it; 0 = skip)",
    )
    p.add_argument("--no-viewer", action="store_true", help="skip the viewer screenshot")
    p.add_argument(
        "--logging-seconds",
        type=float,
        default=60.0,
        help="seconds of the emulated on-sensor logging run (60; 0 = skip)",
    )


def _step(console: Any, title: str) -> None:
    console.rule(f"[bold]{title}")


def _sub(argv: list[str]) -> int:
    """Run a subcommand exactly as the CLI would (same parser, same code)."""
    from runform.cli import build_parser

    args = build_parser().parse_args(argv)
    return int(args._run(args) or 0)


def _median(values: list[float]) -> float:
    vals = sorted(v for v in values if v is not None and math.isfinite(v))
    if not vals:
        return math.nan
    n = len(vals)
    return vals[n // 2] if n % 2 else 0.5 * (vals[n // 2 - 1] + vals[n // 2])


def truth_table(truth: dict[str, Any], summary: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Rows ``(sensor, metric, measured, truth)`` comparing SUMMARY.json medians with truth."""
    rows: list[tuple[str, str, str, str]] = []
    contacts = truth.get("contacts", [])
    steps = truth.get("steps", [])
    for sid, s in summary.get("sensors", {}).items():
        if s.get("placement", "").endswith("_foot"):
            tc = [c for c in contacts if c["sensor_id"] == sid]
            for key, col, unit in (
                ("contacts", None, ""),
                ("cadence_median", "cadence", "steps/min"),
                ("contact_time_median", "contact_time", "s"),
                ("foot_strike_angle_median", "foot_strike_angle", "deg"),
                ("pronation_excursion_median", "pronation_excursion", "deg"),
                ("max_pronation_velocity_median", "max_pronation_velocity", "deg/s"),
                ("speed_median", "speed", "m/s"),
            ):
                got = s.get(key)
                ref = len(tc) if col is None else _median([c.get(col) for c in tc])
                rows.append((sid, f"{key} {unit}".strip(), _fmt(got), _fmt(ref)))
        elif s.get("placement") == "pelvis":
            ts = [c for c in steps if c["sensor_id"] == sid]
            for side in ("left", "right"):
                got = (s.get("pelvic_drop_median") or {}).get(side)
                ref = _median([c["pelvic_drop"] for c in ts if c["side"] == side])
                rows.append((sid, f"pelvic_drop_median {side} deg", _fmt(got), _fmt(ref)))
            got = s.get("vertical_oscillation_median")
            ref = _median([c["vertical_oscillation"] for c in ts])
            rows.append((sid, "vertical_oscillation_median cm", _fmt(got), _fmt(ref)))
    return rows


def _fmt(v: object) -> str:
    if v is None:
        return "-"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "-" if not math.isfinite(v) else f"{v:.2f}"
    return str(v)


def check_options(args: argparse.Namespace) -> None:
    """Every number of the demo, before any step runs (one-line UsageError naming the option;
    the steps would name their own options, after minutes of the earlier ones)."""
    from firmware_bridge.simulator import get_scenario
    from firmware_bridge.simulator.scenarios import RATE_RANGE_HZ
    from runform.commands.sensors import MAX_RUN_SECONDS
    from runform.commands.simulate import MAX_SAMPLES_PER_SENSOR
    from runform.validation import check_range, check_seed

    check_seed(args.seed)
    check_range("--rate", args.rate, *RATE_RANGE_HZ, "Hz")
    longest = math.floor(MAX_SAMPLES_PER_SENSOR / args.rate)
    check_range("--duration", args.duration, 1.0, longest, f"s at {args.rate:g} Hz")
    check_range("--ble-seconds", args.ble_seconds, 0.0, MAX_BLE_S, "s (0 = skip)")
    check_range("--logging-seconds", args.logging_seconds, 0.0, MAX_RUN_SECONDS, "s (0 = skip)")
    if args.intervals_duration != 0:
        shortest = get_scenario("intervals").min_duration_s()
        check_range(
            "--intervals-duration", args.intervals_duration, shortest, longest, "s (0 = skip)"
        )


def check_out(out: Path) -> None:
    """``--out``: a new or empty folder, or one where the files the demo writes are a
    demo's (it replaces them); never a folder of the user's own run.h5 or report.html."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: is a file, expected a folder for the demo's outputs")
    if not out.is_dir() or (out / MARK).exists():
        return
    names = {p.name for p in out.iterdir()}
    if "truth.json" in names and names <= set(OUTPUTS):
        return  # a folder of a demo run before the mark was written: only its outputs
    taken = [name for name in OUTPUTS if (out / name).exists()]
    if taken:
        raise UsageError(
            f"--out {out}: the folder holds {', '.join(taken[:4])}"
            f"{', ...' if len(taken) > 4 else ''} not written by a demo, which would replace "
            "them; give a new folder"
        )


def run(args: argparse.Namespace) -> int:
    from rich.table import Table

    check_options(args)
    out = Path(args.out)
    check_out(out)
    console = make_console()
    out.mkdir(parents=True, exist_ok=True)
    (out / MARK).write_text("runform demo outputs: a later `runform demo` replaces them\n")
    rec = out / "run.h5"
    truth = out / "truth.json"

    if args.ble_seconds > 0:
        _step(console, "1. three emulated sensors over Bluetooth LE (bleak on a virtual link)")
        _sub([
            "record", "--simulate", "--scenario", SCENARIO, "--rate", f"{args.rate:g}",
            "--duration", f"{args.ble_seconds:g}", "--seed", str(args.seed), "--quiet",
            "--out", str(out / "ble_run.h5"), "--force",
        ])  # fmt: skip
        _sub(["info", str(out / "ble_run.h5")])

    _step(console, f"2. simulate a {args.duration:g} s '{SCENARIO}' session with ground truth")
    _sub([
        "simulate", "--scenario", SCENARIO, "--duration", f"{args.duration:g}",
        "--rate", f"{args.rate:g}", "--seed", str(args.seed),
        "--out", str(rec), "--truth", str(truth), "--force",
    ])  # fmt: skip
    _sub(["info", str(rec)])

    _step(console, "3. per-stride analysis")
    strides, summary = out / "STRIDES.csv", out / "SUMMARY.json"
    _sub(["analyze", str(rec), "--strides", str(strides), "--json", str(summary)])
    summ = json.loads(summary.read_text())
    table = Table(title="medians: measured by runform vs the simulator's ground truth")
    for col in ("sensor", "metric", "measured", "truth"):
        table.add_column(col, justify="left" if col in ("sensor", "metric") else "right")
    for row in truth_table(json.loads(truth.read_text()), summ):
        table.add_row(*row)
    console.print(table)
    for a in summ.get("alerts", [])[:8]:
        console.print(f"alert at {a['t']:7.2f} s  {a['rule']}: {a['message']}")

    _step(console, "4. session report, before/after comparison, viewer")
    _sub(["report", str(rec), "--out", str(out / "report.html")])
    _sub([
        "compare", str(rec), "--split-at-marker", DRILL_MARKER,
        "--out", str(out / "compare.html"), "--json", str(out / "compare.json"),
    ])  # fmt: skip
    if not args.no_viewer:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        os.environ.setdefault("QT_LOGGING_RULES", "qt.qpa.*=false")
        _sub(["replay", str(rec), "--at", "60", "--screenshot", str(out / "viewer.png"),
              "--exit-after", "4"])  # fmt: skip
    if args.intervals_duration > 0:
        _intervals(console, out, args)
    if args.logging_seconds > 0:
        _logging_session(console, out, args)
    console.rule("[bold]done")
    console.print(f"everything is in {out.resolve()}/:")
    for p in sorted(out.iterdir()):
        console.print(f"  {p.name}")
    return 0


def _intervals(console: Any, out: Path, args: argparse.Namespace) -> None:
    """Step 5: a run/walk interval session, its bouts, and running and walking apart."""
    from rich.table import Table

    _step(console, f"5. a {args.intervals_duration:g} s run/walk interval session")
    rec, truth = out / "intervals.h5", out / "intervals_truth.json"
    _sub([
        "simulate", "--scenario", "intervals", "--duration", f"{args.intervals_duration:g}",
        "--rate", f"{args.rate:g}", "--seed", str(args.seed),
        "--out", str(rec), "--truth", str(truth), "--force",
    ])  # fmt: skip
    strides, summary = out / "intervals_STRIDES.csv", out / "intervals_SUMMARY.json"
    _sub(["analyze", str(rec), "--strides", str(strides), "--json", str(summary)])
    summ = json.loads(summary.read_text())
    console.print(
        "bouts: "
        + ", ".join(f"{b['activity']} {b['t0']:.0f}-{b['t1']:.0f} s" for b in summ.get("bouts", []))
    )
    table = Table(title="interval session: running and walking apart")
    for col in ("sensor", "metric", "run", "walk"):
        table.add_column(col, justify="left" if col in ("sensor", "metric") else "right")
    for sid, s in summ.get("sensors", {}).items():
        by = s.get("by_activity", {})
        keys = ["contacts", "cadence_median", "contact_time_median"]
        if s.get("placement") == "pelvis":
            keys += ["pelvic_drop_median", "vertical_oscillation_median"]
        for key in keys:
            cells = []
            for act in ("run", "walk"):
                v = by.get(act, {}).get(key)
                if isinstance(v, dict):
                    cells.append(" / ".join(_fmt(v.get(k)) for k in ("left", "right")))
                else:
                    cells.append(_fmt(v))
            table.add_row(sid, key, *cells)
    console.print(table)
    for a in summ.get("alerts", [])[:8]:
        console.print(f"alert at {a['t']:7.2f} s  {a['rule']}: {a['message']}")
    _sub(["report", str(rec), "--out", str(out / "intervals_report.html")])


def _logging_session(console: Any, out: Path, args: argparse.Namespace) -> None:
    """Step 6: arm three emulated logging sensors, run without a host, download, analyse."""
    _step(
        console, "6. run without a laptop: on-sensor logging (emulated DIY clips + MetaMotion), FIT"
    )
    state = out / "sensors" / "armed.json"
    for leftover in (state, state.with_name(state.name + ".emulated.json")):
        leftover.unlink(missing_ok=True)  # a demo run starts a new session
    common = ["--simulate", "--state", str(state)]
    _sub(["sensors", "arm", *common, "--rate", "104", "--simulate-devices", "diy,metawear,diy",
          "--scenario", SCENARIO, "--seed", str(args.seed)])  # fmt: skip
    run_s = f"{args.logging_seconds:g}"
    _sub(["sensors", "status", *common, "--run-seconds", run_s])
    logged = out / "logged_run.h5"
    _sub(["sensors", "download", *common, "--run-seconds", run_s, "--out", str(logged),
          "--force", "--quiet"])  # fmt: skip
    _sub(["info", str(logged)])
    summary = out / "LOGGED_SUMMARY.json"
    # analyse it and export the run as a FIT activity (read back with an independent decoder;
    # t = 0 is the arm time, the recording's start_utc)
    _sub(["export", str(logged), "--fit", str(out / "logged_run.fit"),
          "--strides", str(out / "LOGGED_STRIDES.csv"), "--json", str(summary)])  # fmt: skip
    s = json.loads(summary.read_text()).get("sensors", {})
    for sid in ("left_foot", "right_foot"):
        m = s.get(sid, {})
        console.print(
            f"{sid}: {m.get('contacts', 0)} contacts, cadence {_fmt(m.get('cadence_median'))} "
            f"steps/min, foot strike angle {_fmt(m.get('foot_strike_angle_median'))} deg"
        )
