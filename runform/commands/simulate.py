"""``runform simulate``: write a simulated recording (HDF5 v1) and its ground truth (JSON)."""

from __future__ import annotations

import argparse
import logging
import time
from typing import Any

from runform.errors import UsageError

NAME = "simulate"
HELP = "simulate a run (both shoes + pelvis) into a recording, with exact ground truth"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from firmware_bridge.simulator.scenarios import SCENARIOS

    names = ", ".join(SCENARIOS)
    parser.add_argument(
        "--scenario", default="easy", metavar="NAME", help=f"named scenario: {names} (default easy)"
    )
    parser.add_argument("--out", required=True, metavar="FILE.h5", help="recording to write")
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
    parser.add_argument("--list", action="store_true", help="list the named scenarios and exit")


def run(args: argparse.Namespace) -> int:
    from firmware_bridge.simulator import SCENARIOS, get_scenario, write_simulated_recording

    if args.list:
        for name in SCENARIOS:
            print(f"{name:12s} {get_scenario(name).description}")
        return 0
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
    if args.duration is not None and args.duration <= 0:
        raise UsageError(f"--duration {args.duration}: expected a positive number of seconds")
    from runform.safe_output import OutputSet, check_new_recording, check_outputs

    check_new_recording(args.out, force=args.force)
    check_outputs(inputs=[], outputs=[args.out, args.truth])
    t0 = time.monotonic()
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
