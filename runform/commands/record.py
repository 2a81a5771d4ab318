"""``runform record``: stream BLE sensors (or emulated ones) into an HDF5 recording."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import shutil
import sys
from pathlib import Path

from runform.errors import UsageError
from runform.validation import RECORD_RATE_RANGE_HZ, check_range, check_seed

#: Sample rate of the emulated sensors of ``record --simulate`` and ``live --simulate``, Hz (an
#: output data rate of the LSM6 family most shoe IMUs use).
SIM_RATE_HZ = 416.0

NAME = "record"
HELP = "record BLE sensors to an HDF5 file (--simulate: emulated sensors over a virtual BLE link)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sensor",
        action="append",
        default=[],
        metavar="PLACEMENT=ADDRESS",
        help="a sensor to record, e.g. left_foot=C0:52:46:00:00:01 (repeat for each; "
        "PLACEMENT is left_foot, right_foot or pelvis and is also the sensor id; a footpod "
        "may be given as footpod=ADDRESS)",
    )
    parser.add_argument("--out", required=True, help="output recording (.h5)")
    parser.add_argument(
        "--force", action="store_true", help="replace --out if it exists (an earlier recording)"
    )
    parser.add_argument(
        "--simulate",
        action="store_true",
        help="record three emulated sensors (both feet, pelvis) streaming over a virtual BLE "
        "link through the real bleak client",
    )
    add_duration_argument(parser)
    parser.add_argument(
        "--sim-speed",
        "--speed",
        dest="sim_speed",
        type=float,
        default=1.0,
        help="with --simulate: session seconds per wall second (default 1 = real time; "
        "--speed is the old name)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=SIM_RATE_HZ,
        help=f"with --simulate: sample rate in Hz ({SIM_RATE_HZ:g})",
    )
    parser.add_argument("--acc-range", type=float, default=16.0, help="accelerometer range, g")
    parser.add_argument("--gyr-range", type=float, default=2000.0, help="gyro range, deg/s")
    parser.add_argument("--scenario", default="easy", help="with --simulate: simulator scenario")
    parser.add_argument(
        "--footpod",
        action="store_true",
        help="with --simulate: add an emulated BLE footpod (speed, cadence) written to /streams",
    )
    parser.add_argument(
        "--simulate-devices",
        default=None,
        metavar="MODELS",
        help="with --simulate: device model of each emulated sensor, comma-separated in the "
        "order left_foot,right_foot,pelvis (e.g. movesense,metawear,polar) or as "
        "PLACEMENT=MODEL items (e.g. pelvis=polar); models: diy, movesense, metawear, "
        "witmotion, polar (default: all diy)",
    )
    parser.add_argument("--seed", type=int, default=0, help="with --simulate: random seed")
    parser.add_argument("--notes", default=None, help="free text stored in the file")
    parser.add_argument("--quiet", action="store_true", help="no live status line")
    parser.add_argument(
        "--min-free-mb",
        type=float,
        default=None,
        metavar="MB",
        help="stop cleanly when less than MB megabytes are left on the disk (default 32): the "
        "file stays valid and keeps everything recorded",
    )


#: Longest ``--duration``, s (a week).
MAX_DURATION_S = 7 * 24 * 3600.0


def add_duration_argument(parser: argparse.ArgumentParser) -> None:
    """``--duration SECONDS`` of ``record`` and ``live``: stop after SECONDS of session time
    (from when every sensor streams; with ``--simulate --sim-speed 10`` a tenth of it passes
    on the wall clock). Check it with :func:`check_duration`."""
    parser.add_argument(
        "--duration",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop after SECONDS of session time (from when every sensor streams)",
    )


def check_duration(args: argparse.Namespace) -> None:
    """``--duration`` in range (one-line UsageError)."""
    if args.duration is not None:
        check_range("--duration", args.duration, 0.001, MAX_DURATION_S, "s")


def parse_sensors(items: list[str]) -> dict[str, str]:
    """``PLACEMENT=ADDRESS`` strings → {sensor id: address} (one-line UsageError if bad).

    IMU sensors need a placement as key; a footpod may use any id (e.g. ``footpod=ADDR``).
    """
    from dsp.block import SENSOR_ID_PATTERN

    out: dict[str, str] = {}
    for item in items:
        key, sep, addr = item.partition("=")
        key, addr = key.strip(), addr.strip()
        if not sep or not key or not addr:
            raise UsageError(f"--sensor {item!r}: expected PLACEMENT=ADDRESS")
        if not SENSOR_ID_PATTERN.match(key):
            raise UsageError(
                f"--sensor {item!r}: {key!r} is no placement (left_foot, right_foot, pelvis) "
                "nor a valid id ([a-z0-9_]{1,32})"
            )
        if key in out:
            raise UsageError(f"--sensor {item!r}: {key} given twice")
        if not _BLE_ADDRESS.fullmatch(addr):
            # else the scan looks for a device that cannot exist and ends in 'not found'
            raise UsageError(
                f"--sensor {item!r}: {addr!r} is no Bluetooth address: expected six hex bytes "
                "like C0:52:46:00:00:01 (or the UUID macOS gives, see `runform scan`)"
            )
        same = [k for k, a in out.items() if _address_key(a) == _address_key(addr)]
        if same:
            # one device cannot be two sensors: the second connection would fail or steal
            # the first one's link
            raise UsageError(f"--sensor {item!r}: {addr} is already given for {same[0]}")
        out[key] = addr
    return out


def _address_key(addr: str) -> str:
    """An address compared case- and separator-blind (c0-52-... is C0:52:...)."""
    return addr.upper().replace("-", ":")


#: A Bluetooth device address as bleak takes it: a MAC (Linux, Windows) or a UUID (macOS).
_BLE_ADDRESS = re.compile(
    r"[0-9A-Fa-f]{2}(?:[:-][0-9A-Fa-f]{2}){5}"
    r"|[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
)


def parse_simulate_devices(text: str | None) -> dict[str, str]:
    """``--simulate-devices`` → {placement: device model} (one-line UsageError if bad).

    Either models in the order left_foot, right_foot, pelvis (``movesense,metawear,polar``;
    fewer items leave the rest DIY) or ``PLACEMENT=MODEL`` items (``pelvis=polar``).
    """
    from firmware_bridge.emulator.virtual import DEFAULT_PLACEMENTS, resolve_device_model

    if text is None:
        return {}
    items = [x.strip() for x in text.split(",")]
    if not text.strip() or any(not x for x in items):
        raise UsageError(
            f"--simulate-devices {text!r}: expected models separated by commas, "
            "e.g. movesense,metawear,polar"
        )
    keyed = ["=" in x for x in items]
    if any(keyed) and not all(keyed):
        raise UsageError(
            f"--simulate-devices {text!r}: give either MODEL,MODEL,MODEL or PLACEMENT=MODEL items"
        )
    if all(keyed):
        pairs = [tuple(x.strip() for x in item.split("=", 1)) for item in items]
    else:
        if len(items) > len(DEFAULT_PLACEMENTS):
            raise UsageError(
                f"--simulate-devices {text!r}: at most {len(DEFAULT_PLACEMENTS)} models "
                f"({', '.join(DEFAULT_PLACEMENTS)})"
            )
        pairs = list(zip(DEFAULT_PLACEMENTS, items, strict=False))
    out: dict[str, str] = {}
    for placement, model in pairs:
        if placement not in DEFAULT_PLACEMENTS:
            raise UsageError(
                f"--simulate-devices {text!r}: {placement!r} is no simulated placement "
                f"(expected {', '.join(DEFAULT_PLACEMENTS)})"
            )
        if placement in out:
            raise UsageError(f"--simulate-devices {text!r}: {placement} given twice")
        try:
            out[placement] = resolve_device_model(model)
        except ValueError as exc:
            raise UsageError(f"--simulate-devices: {exc}") from None
    return out


def build_source(args: argparse.Namespace):
    """The BlockSource ``args`` ask for (emulated sensors or real BLE devices)."""
    from firmware_bridge.devices import StreamSettings

    check_stream_options(args)
    settings = StreamSettings(
        rate_hz=args.rate, acc_range_g=args.acc_range, gyr_range_dps=args.gyr_range
    )
    if args.simulate:
        if args.sensor:
            raise UsageError("--simulate and --sensor: give one or the other")
        check_range("--sim-speed/--speed", args.sim_speed, 0.01, 1000.0, "x real time")
        check_simulate_options(args)
        devices = parse_simulate_devices(args.simulate_devices)
        from firmware_bridge.emulator import VirtualBleSource

        return VirtualBleSource(
            speed=args.sim_speed,
            rate_hz=args.rate,
            scenario=args.scenario,
            seed=args.seed,
            # the simulated run is looped when the recording is longer
            signal_duration_s=min(args.duration + 1.0, 600.0) if args.duration else 120.0,
            footpod=args.footpod,
            devices=devices,
            session_kwargs={"settings": settings},
        )
    if args.simulate_devices is not None:
        raise UsageError("--simulate-devices needs --simulate")
    if args.footpod:  # as live; it was ignored without a word
        raise UsageError(
            "--footpod needs --simulate (it adds an emulated footpod; a real one: "
            "--sensor footpod=ADDRESS)"
        )
    if not args.sensor:
        raise UsageError(
            "no sensors: give --sensor PLACEMENT=ADDRESS (see `runform scan`) or --simulate"
        )
    from firmware_bridge.ble_session import BleSession

    return BleSession(parse_sensors(args.sensor), settings=settings)


def check_stream_options(args: argparse.Namespace) -> None:
    """Rate and ranges of ``record`` and ``live`` (one-line UsageError if implausible)."""
    check_range("--rate", args.rate, *RECORD_RATE_RANGE_HZ, "Hz")
    check_range("--acc-range", args.acc_range, 1.0, 400.0, "g")
    check_range("--gyr-range", args.gyr_range, 100.0, 10000.0, "deg/s")


def check_simulate_options(args: argparse.Namespace) -> None:
    """Scenario, seed and rate of ``record --simulate`` and ``live --simulate``: the simulator
    generates 50-1666 Hz (one-line UsageError otherwise)."""
    from firmware_bridge.simulator.scenarios import RATE_RANGE_HZ

    check_scenario(args.scenario)
    check_seed(args.seed)
    check_range("--rate", args.rate, *RATE_RANGE_HZ, "Hz (with --simulate)")


def check_scenario(name: str) -> None:
    from firmware_bridge.simulator import scenario_names

    if name not in scenario_names():
        raise UsageError(f"--scenario {name!r}: expected one of {', '.join(scenario_names())}")


def run(args: argparse.Namespace) -> int:
    from recordings.recorder import stop_message
    from runform.safe_output import check_new_recording, check_recording_room
    from runform.terminal_text import safe_name

    out = Path(args.out)
    check_new_recording(out, force=args.force)
    check_duration(args)
    if args.min_free_mb is not None:
        check_range("--min-free-mb", args.min_free_mb, 0.0, 1e7, "MB")
    check_recording_room(out, args.min_free_mb)
    source = build_source(args)
    summary = asyncio.run(_record(source, out, args))
    print(f"wrote {safe_name(summary.path)}: {summary.duration_s:.1f} s")
    for sid, st in summary.status.items():
        print(
            f"  {sid}: {summary.samples.get(sid, 0)} samples, lost {st.lost_samples}, "
            f"bad packets {st.bad_packets}, gaps {summary.gaps.get(sid, 0)}, "
            f"reconnects {st.reconnects}"
        )
    stopped = stop_message(summary, safe_name(summary.path))
    if stopped is not None:  # the file is valid and kept; say why it is short
        print(f"runform record: {stopped}", file=sys.stderr)
        return 1
    return 0


async def _record(source, out: Path, args: argparse.Namespace):
    from recordings.recorder import STOP_SIGNALS, format_status, min_free_bytes, record_source

    min_free = min_free_bytes(args.min_free_mb)
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, source.stop)

    live = None

    def on_start(src) -> None:
        nonlocal live
        now = getattr(src, "now", None)
        at = f" at session time {now():.3f} s" if now is not None else ""
        print(
            f"recording {len(src.sensors)} sensors to {out}{at}; Ctrl-C to stop",
            file=sys.stderr,
            flush=True,
        )
        if not args.quiet:
            from rich.console import Console
            from rich.live import Live
            from rich.text import Text

            live = Live(Text(""), console=Console(file=sys.stderr), auto_refresh=False)
            live.start()

    def on_status(status, elapsed) -> None:
        if live is not None:
            from rich.text import Text

            nominal = {i.sensor_id: i.sample_rate_hz for i in getattr(source, "sensors", [])}
            width = min(80, shutil.get_terminal_size((80, 24)).columns)
            line = format_status(status, elapsed, nominal_hz=nominal, width=width)
            live.update(Text(line, no_wrap=True, overflow="ellipsis"), refresh=True)

    try:
        return await record_source(
            source,
            out,
            duration_s=args.duration,
            notes=args.notes,
            on_status=on_status,
            on_start=on_start,
            min_free_bytes=min_free,
        )
    finally:
        if live is not None:
            live.stop()
            if not live.console.is_terminal:  # rich leaves the last frame without a line end
                print(file=sys.stderr, flush=True)
        for sig in STOP_SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
