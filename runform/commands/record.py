"""``runform record``: stream BLE sensors (or emulated ones) into an HDF5 recording."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path

from runform.errors import UsageError

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
        "--simulate",
        action="store_true",
        help="record three emulated sensors (both feet, pelvis) streaming over a virtual BLE "
        "link through the real bleak client",
    )
    parser.add_argument("--duration", type=float, default=None, help="stop after SECONDS")
    parser.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="with --simulate: run X times faster than real time (default 1)",
    )
    parser.add_argument("--rate", type=float, default=833.0, help="sample rate in Hz (833)")
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
        out[key] = addr
    return out


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

    settings = StreamSettings(
        rate_hz=args.rate, acc_range_g=args.acc_range, gyr_range_dps=args.gyr_range
    )
    if args.simulate:
        if args.sensor:
            raise UsageError("--simulate and --sensor: give one or the other")
        if not args.speed > 0:
            raise UsageError(f"--speed {args.speed}: expected a positive number")
        devices = parse_simulate_devices(args.simulate_devices)
        from firmware_bridge.emulator import VirtualBleSource

        return VirtualBleSource(
            speed=args.speed,
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
    if not args.sensor:
        raise UsageError(
            "no sensors: give --sensor PLACEMENT=ADDRESS (see `runform scan`) or --simulate"
        )
    from firmware_bridge.ble_session import BleSession

    return BleSession(parse_sensors(args.sensor), settings=settings)


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if not out.parent.exists():
        raise UsageError(f"--out {out}: directory {out.parent} does not exist")
    if args.duration is not None and not args.duration > 0:
        raise UsageError(f"--duration {args.duration}: expected a positive number of seconds")
    source = build_source(args)
    summary = asyncio.run(_record(source, out, args))
    print(f"wrote {summary.path}: {summary.duration_s:.1f} s")
    for sid, st in summary.status.items():
        print(
            f"  {sid}: {summary.samples.get(sid, 0)} samples, lost {st.lost_samples}, "
            f"bad packets {st.bad_packets}, gaps {summary.gaps.get(sid, 0)}, "
            f"reconnects {st.reconnects}"
        )
    return 0


async def _record(source, out: Path, args: argparse.Namespace):
    from recordings.recorder import format_status, record_source

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
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

            live.update(Text(format_status(status, elapsed)), refresh=True)

    try:
        return await record_source(
            source,
            out,
            duration_s=args.duration,
            notes=args.notes,
            on_status=on_status,
            on_start=on_start,
        )
    finally:
        if live is not None:
            live.stop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
