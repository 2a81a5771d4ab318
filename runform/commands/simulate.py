"""``runform simulate``: write a simulated recording (HDF5 v1) and its ground truth (JSON)."""

from __future__ import annotations

import argparse
import logging
import math
import sys
import time
from datetime import datetime
from typing import Any

from runform.errors import UsageError
from runform.validation import check_seed

NAME = "simulate"
HELP = "simulate a run (both shoes + pelvis) into a recording, with exact ground truth"

log = logging.getLogger(__name__)

#: Most samples per sensor ``simulate`` writes: 24 h at 208 Hz. Memory and time grow with the
#: length (208 Hz, three sensors: 1800 s 0.22 GB peak and 9 s, 7200 s 0.34 GB and 34 s; so a
#: day about 1.8 GB and 7 min), and --duration 1e9 asked for a 149 GiB array.
MAX_SAMPLES_PER_SENSOR = 24 * 3600 * 208


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from firmware_bridge.simulator.scenarios import SCENARIOS

    names = ", ".join(SCENARIOS)
    parser.add_argument(
        "--scenario", default="easy", metavar="NAME", help=f"named scenario: {names} (default easy)"
    )
    parser.add_argument(
        "--out", metavar="FILE.h5", help="recording to write (required unless --list)"
    )
    parser.add_argument("--truth", metavar="FILE.json", help="also write the ground truth JSON")
    parser.add_argument(
        "--force", action="store_true", help="replace --out if it exists (an earlier recording)"
    )
    parser.add_argument("--duration", type=float, metavar="S", help="session length in s")
    parser.add_argument("--rate", type=float, metavar="HZ", help="output data rate, 50-1666 Hz")
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (default 0)")
    parser.add_argument(
        "--standing", type=float, metavar="S", help="standing period at the start in s (0 = none)"
    )
    parser.add_argument(
        "--packet-loss", type=float, metavar="FRACTION", help="fraction of BLE packets lost"
    )
    parser.add_argument(
        "--mounting",
        action="append",
        default=[],
        metavar="PLACEMENT=NAME",
        help="sensor mounting, e.g. right_foot=heel_counter or pelvis=pelvis_front (repeatable)",
    )
    parser.add_argument("--notes", help="free text stored in the recording")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a scenario field, e.g. foot_strike_angle_deg=6 or "
        "pelvic_drop_deg=7.5,4 (numbers; a pair for (left, right) fields; repeatable)",
    )
    parser.add_argument(
        "--date",
        metavar="YYYY-MM-DD[THH:MM]",
        help="date the recording (its created_utc attribute), e.g. to simulate a season",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    parser.add_argument("--list", action="store_true", help="list the named scenarios and exit")


def run(args: argparse.Namespace) -> int:
    from firmware_bridge.simulator import SCENARIOS, get_scenario, write_simulated_recording

    if args.list:
        for name in SCENARIOS:
            print(f"{name:12s} {get_scenario(name).description}")
        return 0
    if not args.out:
        raise UsageError("--out FILE.h5 is required (or --list to list the scenarios)")
    if args.scenario not in SCENARIOS:
        raise UsageError(f"--scenario {args.scenario!r}: expected one of {', '.join(SCENARIOS)}")
    overrides: dict[str, Any] = {}
    if args.standing is not None:
        overrides["standing_s"] = args.standing
    if args.packet_loss is not None:
        overrides["packet_loss"] = args.packet_loss
    if args.mounting:
        mounting = dict(get_scenario(args.scenario).mounting)
        for item in args.mounting:
            key, sep, val = item.partition("=")
            if not sep or key not in ("left_foot", "right_foot", "pelvis"):
                raise UsageError(
                    f"--mounting {item!r}: expected PLACEMENT=NAME with PLACEMENT one of "
                    "left_foot, right_foot, pelvis"
                )
            mounting[key] = val
        overrides["mounting"] = mounting
    for item in args.set:
        key, value = _parse_set(item, get_scenario(args.scenario))
        if key in ("duration_s", "rate_hz"):  # arguments of their own (--duration, --rate)
            setattr(args, "duration" if key == "duration_s" else "rate", float(value))
            continue
        overrides[key] = value
    created = _parse_date(args.date) if args.date else None
    if args.duration is not None and not args.duration > 0:
        raise UsageError(f"--duration {args.duration}: expected a positive number of seconds")
    check_seed(args.seed)
    standing = overrides.get("standing_s")
    if isinstance(standing, (int, float)):
        # resolve_scenario refuses a standing period asked for that the session cannot hold
        # (it shortens only a scenario's own); checked here first to name the option typed
        # (--standing 25 --duration 20 had made a 5 s standing start)
        duration = args.duration or get_scenario(args.scenario).duration_s
        if not float(standing) < duration:
            given = "--standing " if args.standing is not None else "--set standing_s="
            raise UsageError(
                f"{given}{float(standing):g}: expected 0 or more, less than the session's "
                f"{duration:g} s"
            )
    rate = args.rate if args.rate is not None else get_scenario(args.scenario).rate_hz
    if (
        args.duration is not None
        and math.isfinite(rate)
        and rate > 0  # else the scenario says what is wrong with the rate
        and args.duration * rate > MAX_SAMPLES_PER_SENSOR
    ):
        # far longer sessions would exhaust the memory (or wake the OOM killer) before a word
        raise UsageError(
            f"--duration {args.duration:g}: expected at most "
            f"{MAX_SAMPLES_PER_SENSOR / rate:.0f} s at {rate:g} Hz (memory and time grow "
            "with the length)"
        )
    from runform.safe_output import OutputSet, check_new_recording, check_outputs

    check_new_recording(args.out, force=args.force)
    check_outputs(inputs=[], outputs=[args.out, args.truth])
    t0 = time.monotonic()
    duration = args.duration or get_scenario(args.scenario).duration_s
    if not args.no_progress and duration >= 300.0:
        # about 1.5 s of work per simulated minute: say what is going on (a short one stays
        # quiet, so that an error about it is one line)
        print(
            f"simulating {duration / 60:.0f} min of '{args.scenario}' into {args.out}…",
            file=sys.stderr,
            flush=True,
        )
    # written beside and moved into place when complete: an interrupted run leaves no
    # half-written recording (and an earlier one with --force stays until the new one is done)
    with OutputSet() as outs:
        try:
            sc, truth, n = write_simulated_recording(
                outs.stage(args.out),
                args.scenario,
                duration_s=args.duration,
                rate_hz=args.rate,
                seed=args.seed,
                truth_path=outs.stage(args.truth) if args.truth else None,
                notes=args.notes,
                created_utc=created,
                **overrides,
            )
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    print(
        f"{args.out}: scenario {sc.name}, {sc.duration_s:.1f} s at {sc.rate_hz:g} Hz, sensors "
        + ", ".join(f"{k} ({v} samples)" for k, v in n.items())
        + f", {len(sc.markers)} marker(s), {time.monotonic() - t0:.1f} s"
    )
    if args.truth:
        print(
            f"{args.truth}: {len(truth['contacts'])} foot contacts, "
            f"{len(truth['steps'])} pelvis steps"
        )
    return 0


def _is_number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _parse_set(item: str, sc: Any) -> tuple[str, Any]:
    """``FIELD=VALUE`` of ``--set``: a number, or ``a,b`` for a (left, right) pair field; one
    number for a field that follows a schedule over the run (e.g. the ChiRunning cadence)
    makes it constant."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not hasattr(sc, key) or key.startswith("_"):
        raise UsageError(
            f"--set {item!r}: expected FIELD=VALUE with FIELD a scenario field "
            "(e.g. foot_strike_angle_deg, cadence_spm, pelvic_drop_deg)"
        )
    current = getattr(sc, key)
    pair = isinstance(current, tuple) and len(current) == 2 and all(map(_is_number, current))
    schedule = (
        isinstance(current, tuple)
        and len(current) > 0
        and all(isinstance(p, tuple) and len(p) == 2 and all(map(_is_number, p)) for p in current)
    )
    if not (current is None or isinstance(current, (int, float)) or pair or schedule):
        # a name, text, the markers, the program, the sensors or the mountings (before:
        # an internal error, or a scenario named "1.0")
        raise UsageError(
            f"--set {item!r}: {key} is not a number field (--set takes numbers; "
            "--mounting sets the mountings)"
        )
    try:
        nums = [float(x) for x in raw.split(",")]
    except ValueError:
        raise UsageError(f"--set {item!r}: expected a number or two numbers a,b") from None
    if pair and len(nums) == 2:
        return key, (nums[0], nums[1])
    if isinstance(current, bool) or len(nums) != 1:
        raise UsageError(f"--set {item!r}: {key} takes {'a pair a,b' if pair else 'one number'}")
    if pair:
        return key, (nums[0], nums[0])
    return key, int(nums[0]) if isinstance(current, int) else nums[0]


def _parse_date(text: str) -> str:
    """``--date`` as the recording's ``created_utc`` (``YYYY-MM-DDTHH:MM:SSZ``)."""
    for form in ("%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(text.rstrip("Z"), form).strftime("%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            continue
    raise UsageError(f"--date {text!r}: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM")
