"""``runform live``: watch running form live from BLE sensors (or ``--simulate``), recording it."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from runform.commands._viewer_common import add_viewer_arguments, check_show, viewer_config
from runform.commands.record import SIM_RATE_HZ, add_duration_argument, check_duration
from runform.errors import UsageError
from runform.validation import check_range

NAME = "live"
HELP = (
    "live viewer: BLE sensors (or --simulate) -> raw signals, stride metrics, alerts; records HDF5"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sensor",
        action="append",
        default=[],
        metavar="PLACEMENT=ADDRESS",
        help="a sensor, e.g. left_foot=C0:52:46:00:00:01 (repeat; see `runform scan`)",
    )
    parser.add_argument(
        "--simulate",
        action="store_true",
        help="no hardware: the built-in virtual runner, as three emulated BLE sensors streaming "
        "through the real BLE client over a virtual link",
    )
    parser.add_argument("--scenario", default="chirunning", help="with --simulate: scenario")
    parser.add_argument("--seed", type=int, default=0, help="with --simulate: random seed")
    parser.add_argument(
        "--simulate-devices",
        default=None,
        metavar="MODELS",
        help="with --simulate: device model of each emulated sensor, in the order "
        "left_foot,right_foot,pelvis (e.g. movesense,metawear,polar) or as PLACEMENT=MODEL "
        "items; models: diy, movesense, metawear, witmotion, polar (default: all diy)",
    )
    parser.add_argument(
        "--footpod",
        action="store_true",
        help="with --simulate: add an emulated BLE footpod (speed, cadence), shown next to the "
        "IMU cadence and recorded to /streams",
    )
    parser.add_argument(
        "--sim-speed",
        "--speed",
        dest="sim_speed",
        type=float,
        default=1.0,
        help="with --simulate: session seconds per wall second (default 1 = real time; "
        "--speed as in record)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=SIM_RATE_HZ,
        help=f"with --simulate: sample rate in Hz ({SIM_RATE_HZ:g}, as record --simulate)",
    )
    add_duration_argument(parser)  # as record; then the window closes (--exit-after: wall s)
    parser.add_argument("--acc-range", type=float, default=16.0, help="accelerometer range, g")
    parser.add_argument("--gyr-range", type=float, default=2000.0, help="gyro range, deg/s")
    parser.add_argument(
        "--out", default=None, help="recording file (default runform-live-<date>-<time>.h5)"
    )
    parser.add_argument("--no-record", action="store_true", help="do not record to HDF5")
    parser.add_argument(
        "--force", action="store_true", help="replace --out if it exists (an earlier recording)"
    )
    parser.add_argument("--notes", default=None, help="free text stored in the recording")
    parser.add_argument(
        "--min-free-mb",
        type=float,
        default=None,
        metavar="MB",
        help="stop recording cleanly when less than MB megabytes are left on the disk (default "
        "32, as record): the file stays valid, the window goes on analysing",
    )
    add_viewer_arguments(parser)


def build_live_source(args: argparse.Namespace):
    """The block source: emulated BLE sensors (``--simulate``) or real ones (``--sensor``)."""
    from firmware_bridge.devices import StreamSettings
    from runform.commands.record import check_stream_options

    check_stream_options(args)
    check_range("--sim-speed", args.sim_speed, 0.01, 1000.0, "x real time")
    settings = StreamSettings(
        rate_hz=args.rate, acc_range_g=args.acc_range, gyr_range_dps=args.gyr_range
    )
    if args.simulate:
        if args.sensor:
            raise UsageError("--simulate and --sensor: give one or the other")
        from runform.commands.record import check_simulate_options, parse_simulate_devices

        check_simulate_options(args)
        devices = parse_simulate_devices(args.simulate_devices)
        from firmware_bridge.emulator import VirtualBleSource

        return VirtualBleSource(
            speed=args.sim_speed,
            rate_hz=args.rate,
            scenario=args.scenario,
            seed=args.seed,
            devices=devices,
            footpod=args.footpod,
            session_kwargs={"settings": settings},
        )
    if args.simulate_devices is not None or args.footpod:
        raise UsageError(
            "--simulate-devices and --footpod need --simulate (a real footpod: "
            "--sensor footpod=ADDRESS)"
        )
    from firmware_bridge.ble_session import BleSession
    from runform.commands.record import parse_sensors

    return BleSession(parse_sensors(args.sensor), settings=settings)


def _sensor_ids(args: argparse.Namespace) -> tuple[list[str], str, tuple[str, ...]]:
    """The ids of the IMU sensors the session will stream, where they come from, and the ids
    of its footpods (for ``--show``: a footpod has no raw signal)."""
    if args.simulate:
        from firmware_bridge.emulator.virtual import DEFAULT_PLACEMENTS

        pods = ("footpod",) if args.footpod else ()
        return list(DEFAULT_PLACEMENTS), "in the simulated session", pods
    from dsp.block import PLACEMENTS
    from runform.commands.record import parse_sensors

    ids = list(parse_sensors(args.sensor))
    # an id that is not a placement is a footpod (record's --sensor footpod=ADDRESS)
    imus = [i for i in ids if i in PLACEMENTS]
    return imus, "among --sensor", tuple(i for i in ids if i not in PLACEMENTS)


def run(args: argparse.Namespace) -> int:
    from recordings.recorder import stop_message
    from runform.profiles import resolve_profile
    from runform.terminal_text import safe_name
    from viewer.app import run_viewer
    from viewer.worker import AnalysisWorker

    if not args.simulate and not args.sensor:
        raise UsageError(
            "no sensors: give --sensor PLACEMENT=ADDRESS (see `runform scan`) or --simulate"
        )
    if args.no_record:  # else dropped without a word: no file where the runner expects one
        for opt, given in (("--out", args.out), ("--notes", args.notes)):
            if given is not None:
                raise UsageError(
                    f"{opt} with --no-record: nothing is recorded; give one or the other"
                )
    out = None
    if not args.no_record:
        from runform.safe_output import check_new_recording

        out = Path(args.out or time.strftime("runform-live-%Y%m%d-%H%M%S.h5"))
        check_new_recording(out, force=args.force)
    min_free = None
    if args.min_free_mb is not None:
        from recordings.recorder import min_free_bytes
        from runform.validation import check_range

        check_range("--min-free-mb", args.min_free_mb, 0.0, 1e7, "MB")
        min_free = min_free_bytes(args.min_free_mb)
    if out is not None:
        from runform.safe_output import check_recording_room

        check_recording_room(out, args.min_free_mb)
    check_duration(args)
    profile = resolve_profile(args.profile)
    build_live_source(args)  # check the options before opening a window
    check_show(args.show, *_sensor_ids(args))
    config = viewer_config(args, mode="live", title="runform live")
    config.close_when_ended = args.duration is not None  # the session is over: as record ends

    workers: list[AnalysisWorker] = []

    def make_worker() -> AnalysisWorker:
        workers.append(
            AnalysisWorker(
                lambda: build_live_source(args),
                profile,
                record_path=out,
                notes=args.notes,
                min_free_bytes=min_free,
                duration_s=args.duration,
            )
        )
        return workers[-1]

    code = run_viewer(make_worker, profile, config)
    if out is not None and out.exists():
        wrote = [w.recorder_summary for w in workers if w.recorder_summary is not None]
        if wrote and not any(n for s in wrote for n in s.samples.values()):
            # analyze and replay of it would say 'no samples': say it now
            print(
                f"recorded {safe_name(out)}: no samples (the window closed before the sensors "
                "sent any)"
            )
        else:
            print(f"recorded {safe_name(out)}")
    for worker in workers:  # the recording stopped early (disk full): the file is kept
        summary = worker.recorder_summary
        stopped = None if summary is None else stop_message(summary, safe_name(summary.path))
        if stopped is not None:
            print(f"runform live: {stopped}", file=sys.stderr)
    return code
