"""``runform sensors``: run without a laptop. Arm logging sensors, check them, download the run.

* ``runform sensors arm --sensor left_foot=ADDR ... [--rate HZ] [--wrap]``: configure each
  sensor, read its clock (arm-time sync), start logging on the sensor, disconnect;
* ``runform sensors status``: logging or not, memory used / left (and how many minutes that is
  at the armed rate), battery;
* ``runform sensors download --out run.h5``: stop logging, read each clock again, download every
  log (resumable after a dropped connection: run it again), write one recording on one time
  base, then erase the logs; ``--without SENSOR`` leaves out a sensor lost for good (the
  recording's notes name it).

``--simulate`` drives emulated sensors over the virtual BLE link (bleak's client, bumble's
controllers): ``arm --simulate`` creates them, ``download --simulate --run-seconds S`` lets S
seconds of simulated running pass since arming (the simulator fills the sensors' flash) before
downloading. Their state is kept next to the arm state (``--state``), so the three commands can
run as separate processes, as with real sensors.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from runform.errors import UsageError
from runform.validation import check_range, check_seed

NAME = "sensors"
HELP = "on-sensor logging: arm sensors, check them, download the run (--simulate: emulated)"

DEFAULT_STATE = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state")) / (
    "runform/armed-sensors.json"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--state",
        default=str(DEFAULT_STATE),
        help=f"arm state file (default {DEFAULT_STATE}); download journals live beside it",
    )
    common.add_argument(
        "--simulate",
        action="store_true",
        help="emulated sensors on a virtual BLE link (state kept beside --state)",
    )
    common.add_argument(
        "--speed", type=float, default=10.0, help="with --simulate: virtual link speed (10x)"
    )
    arm = sub.add_parser("arm", parents=[common], help="configure, sync clocks, start logging")
    arm.add_argument(
        "--sensor",
        action="append",
        default=[],
        metavar="PLACEMENT=ADDRESS",
        help="a sensor to arm, e.g. left_foot=C0:52:46:00:00:01 (repeat for each)",
    )
    arm.add_argument("--rate", type=float, default=208.0, help="sample rate in Hz (208)")
    arm.add_argument("--acc-range", type=float, default=16.0, help="accelerometer range, g")
    arm.add_argument("--gyr-range", type=float, default=2000.0, help="gyro range, deg/s")
    arm.add_argument(
        "--wrap",
        action="store_true",
        help="when a log is full overwrite its oldest data (default: stop logging)",
    )
    arm.add_argument(
        "--placements",
        default="left_foot,right_foot,pelvis",
        help="with --simulate: emulated sensors (left_foot,right_foot,pelvis)",
    )
    arm.add_argument(
        "--simulate-devices",
        default=None,
        metavar="MODELS",
        help="with --simulate: model of each emulated sensor (diy, metawear = MetaMotion R, "
        "metawear-s = MetaMotion S, polar = Verity Sense) in the order of --placements or as "
        "PLACEMENT=MODEL (default: all diy)",
    )
    arm.add_argument("--scenario", default="easy", help="with --simulate: simulator scenario")
    arm.add_argument("--seed", type=int, default=0, help="with --simulate: random seed")
    arm.add_argument(
        "--flash-kib",
        type=int,
        default=2048,
        help="with --simulate: log memory of each emulated clip in KiB (2048)",
    )
    st = sub.add_parser("status", parents=[common], help="log state, memory and battery left")
    st.add_argument(
        "--run-seconds",
        type=float,
        default=None,
        help="with --simulate: seconds of running since arming (default: time passed)",
    )
    dl = sub.add_parser("download", parents=[common], help="download every log into one file")
    dl.add_argument("--out", required=True, help="output recording (.h5)")
    dl.add_argument(
        "--force", action="store_true", help="replace --out if it exists (an earlier recording)"
    )
    dl.add_argument(
        "--run-seconds",
        type=float,
        default=None,
        help="with --simulate: seconds of running since arming (default: time passed)",
    )
    dl.add_argument("--keep-log", action="store_true", help="do not erase the sensors' logs")
    dl.add_argument(
        "--without",
        action="append",
        default=[],
        metavar="SENSOR",
        help="leave out a sensor lost for good (repeat for each): the others are written, the "
        "recording's notes name it, its log and journal are kept",
    )
    dl.add_argument("--quiet", action="store_true", help="no progress output")


#: Emulated logging sensors: the DIY clip, a MetaMotion R (BMI160), a MetaMotion S (BMI270), a
#: Polar Verity Sense (PMD offline recording, files over PFTP).
LOGGING_MODELS = ("diy", "metawear", "metawear-s", "polar")


def _parse_placements(text: str) -> list[str]:
    """``--placements`` of ``sensors arm --simulate`` (one-line UsageError if bad): 'foo' was
    an internal error, 'pelvis,pelvis' armed one of the two emulated sensors without a word."""
    from dsp.block import PLACEMENTS

    placements = [p.strip() for p in text.split(",") if p.strip()]
    if not placements:
        raise UsageError(f"--placements {text!r}: expected at least one")
    for p in placements:
        if p not in PLACEMENTS:
            raise UsageError(
                f"--placements {text!r}: {p!r} is no placement (expected {', '.join(PLACEMENTS)})"
            )
        if placements.count(p) > 1:
            raise UsageError(f"--placements {text!r}: {p} given twice")
    return placements


def _parse_models(text: str | None, placements: list[str]) -> dict[str, str]:
    """``--simulate-devices`` of ``sensors arm``: MODEL,MODEL,... in the order of the
    placements, or PLACEMENT=MODEL items (one-line UsageError if bad)."""
    if text is None:
        return {}
    items = [x.strip() for x in text.split(",")]
    if any(not x for x in items):
        raise UsageError(f"--simulate-devices {text!r}: expected models separated by commas")
    if all("=" in x for x in items):
        pairs = [tuple(x.split("=", 1)) for x in items]
    elif any("=" in x for x in items):
        raise UsageError(f"--simulate-devices {text!r}: MODEL,MODEL or PLACEMENT=MODEL, not both")
    else:
        if len(items) > len(placements):
            raise UsageError(
                f"--simulate-devices {text!r}: more models than placements ({len(placements)})"
            )
        pairs = list(zip(placements, items, strict=False))
    out: dict[str, str] = {}
    for placement, model in pairs:
        placement, model = placement.strip(), model.strip().lower()
        if placement not in placements:
            raise UsageError(f"--simulate-devices: {placement!r} is not one of --placements")
        if model not in LOGGING_MODELS:
            raise UsageError(
                f"--simulate-devices: {placement}={model}: emulated logging sensors are "
                f"{', '.join(LOGGING_MODELS)} (docs/devices.md: which families log)"
            )
        out[placement] = model
    return out


def write_recording(
    out: Path, infos: list, blocks: list, notes: str, start_utc: str | None = None
) -> None:
    """Write one recording (format v1) safely: a temporary file beside ``out``, fsynced, read
    back (every sensor's sample count checked), then renamed over ``out``; the sensors' logs
    are erased only after this returns. ``start_utc`` (the arm time: ``t = 0``) becomes the
    root attribute that ``runform export`` and ``--watch`` read."""
    from firmware_bridge.errors import DeviceError
    from recordings import RecordingWriter, open_recording

    tmp = out.with_name(f".{out.name}.download.tmp")
    with RecordingWriter(tmp, infos, notes=notes, live=False, start_utc=start_utc) as w:
        for b in blocks:
            w.append(b)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    want: dict[str, int] = {}
    for b in blocks:
        want[b.sensor_id] = want.get(b.sensor_id, 0) + len(b)
    with open_recording(tmp) as rec:  # read back before anything is erased
        for sid, n in want.items():
            if rec.n_samples(sid) != n:
                raise DeviceError(f"{tmp}: {sid} holds {rec.n_samples(sid)} samples, expected {n}")
    os.replace(tmp, out)
    with contextlib.suppress(OSError):  # make the rename durable
        fd = os.open(out.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _rig_path(state: Path) -> Path:
    return state.with_name(state.name + ".emulated.json")


#: The longest simulated run after arming, s (a week: the emulated logs are full long before).
MAX_RUN_SECONDS = 7 * 24 * 3600.0
#: The largest log memory of an emulated sensor, KiB (1 GiB; real clips hold 8 MB to 16 GB,
#: and 16 GiB no longer arms in time).
MAX_FLASH_KIB = 1024 * 1024


def run(args: argparse.Namespace) -> int:
    state = Path(args.state).expanduser()
    if args.simulate:  # as record's --sim-speed (1e9 ended in 'logging did not start')
        check_range("--speed", args.speed, 0.01, 1000.0, "x real time")
    if getattr(args, "run_seconds", None) is not None:
        if not args.simulate:
            raise UsageError("--run-seconds needs --simulate (real sensors log in real time)")
        check_range("--run-seconds", args.run_seconds, 0.0, MAX_RUN_SECONDS, "s since arming")
    if args.action == "arm":
        return asyncio.run(_stoppable(_arm(args, state)))
    if args.action == "status":
        return asyncio.run(_stoppable(_status(args, state)))
    return asyncio.run(_stoppable(_download(args, state)))


async def _stoppable(work: Coroutine[Any, Any, int]) -> int:
    """Run ``work``; SIGTERM and SIGHUP (``kill``, the terminal closing) end it as Ctrl-C does:
    cancelled at an await, its cleanup run (the journals closed, the emulated sensors' state
    saved: a download is resumed by running it again), then 'runform: interrupted'. They
    killed the process: with ``--simulate`` the emulated sensors lost what the download had
    done to them (a resumed download wrote 2 s of a 200 s pelvis log, 'log was FULL')."""
    import signal

    from recordings.recorder import STOP_SIGNALS

    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    got: list[int] = []
    sigs = [s for s in STOP_SIGNALS if s != signal.SIGINT]  # asyncio.run has its own SIGINT

    def stop(sig: int) -> None:
        got.append(sig)
        if task is not None:
            task.cancel()

    for sig in sigs:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop, sig)
    try:
        return await work
    except asyncio.CancelledError:
        if got:
            raise KeyboardInterrupt from None
        raise
    finally:
        for sig in sigs:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)


@contextlib.asynccontextmanager
async def _devices(args: argparse.Namespace, state: Path, run_seconds: float | None = None):
    """(connector, host clock, rig or None) for real or emulated sensors."""
    if not args.simulate:
        import time

        from firmware_bridge.sensorlog.session import bleak_connector

        _check_not_emulated(state)

        yield bleak_connector(), time.time, None
        return
    from firmware_bridge.emulator.logging_rig import LoggingRig

    try:
        rig = LoggingRig.load(_rig_path(state))
    except ValueError as exc:
        raise UsageError(
            f"--simulate: {exc} (run `runform sensors arm --simulate` first)"
        ) from None
    armed_at = rig.session_t
    with contextlib.suppress(Exception):
        from firmware_bridge.sensorlog.session import ArmState

        armed_at = min(
            s.arm_sync.host_s - rig.host_epoch for s in ArmState.load(state).sensors.values()
        )
    at = armed_at + run_seconds if run_seconds is not None else None
    async with rig.running(args.speed, at=at) as r:
        try:
            yield r.connector(), r.host_clock, r
        finally:
            r.save(_rig_path(state))


def _check_not_emulated(state: Path) -> None:
    """A UsageError when the sensors armed in ``state`` are the emulated ones saved beside it
    (armed with ``--simulate``): over Bluetooth they would only read 'unreachable'."""
    from firmware_bridge.emulator.logging_rig import LoggingRig
    from firmware_bridge.sensorlog.session import ArmState

    if not _rig_path(state).exists():
        return
    try:
        emulated = {s.address for s in LoggingRig.load(_rig_path(state)).sensors.values()}
        armed = {s.address for s in ArmState.load(state).sensors.values()}
    except Exception:  # a damaged file: the command's own reading reports it
        return
    if armed and armed <= emulated:
        raise UsageError(
            f"{state}: these sensors were armed with --simulate (emulated sensors); add --simulate"
        )


async def _arm(args: argparse.Namespace, state: Path) -> int:
    from firmware_bridge.devices import StreamSettings
    from firmware_bridge.sensorlog.session import arm_sensors, check_can_arm
    from runform.commands.record import check_scenario, check_stream_options, parse_sensors

    check_stream_options(args)
    settings = StreamSettings(
        rate_hz=args.rate, acc_range_g=args.acc_range, gyr_range_dps=args.gyr_range
    )

    def on_armed(s: Any) -> None:
        print(
            f"armed {s.sensor_id} ({s.device_model} {s.address}): {s.config.rate_hz:g} Hz, "
            f"±{s.config.acc_range_g:g} g, ±{s.config.gyr_range_dps:g} deg/s, "
            f"{'wrap' if s.config.wrap else 'stop'} when full; clock synced "
            f"within {s.arm_sync.uncertainty_s * 1e3:.1f} ms (shortest round trip)"
        )

    if args.simulate:
        if args.sensor:
            raise UsageError("--simulate and --sensor: give one or the other")
        from firmware_bridge.emulator.logging_rig import LoggingRig
        from firmware_bridge.simulator.scenarios import RATE_RANGE_HZ

        placements = _parse_placements(args.placements)
        models = _parse_models(args.simulate_devices, placements)
        check_scenario(args.scenario)
        check_seed(args.seed)
        check_range("--flash-kib", args.flash_kib, 1, MAX_FLASH_KIB, "KiB")
        # before the emulated sensors are made anew: saving them would erase the logs of a
        # run not downloaded yet (then 'cannot map its clock' at its download)
        check_can_arm(state)
        rig = LoggingRig.create(
            placements,
            models=models,
            seed=args.seed,
            scenario=args.scenario,
            # twice the logging rate, within what the simulator generates
            signal_rate_hz=min(max(416.0, 2 * args.rate), RATE_RANGE_HZ[1]),
            flash_bytes=args.flash_kib * 1024,
        )
        state.parent.mkdir(parents=True, exist_ok=True)
        async with rig.running(args.speed) as r:
            try:
                await arm_sensors(
                    r.addresses(),
                    state,
                    settings=settings,
                    connect=r.connector(),
                    host_clock=r.host_clock,
                    wrap=args.wrap,
                    on_armed=on_armed,
                )
            finally:
                r.save(_rig_path(state))
    else:
        if args.simulate_devices is not None:  # as record (it was ignored without a word)
            raise UsageError("--simulate-devices needs --simulate")
        if not args.sensor:
            raise UsageError("no sensors: give --sensor PLACEMENT=ADDRESS (see `runform scan`)")
        async with _devices(args, state) as (connect, clock, _):
            await arm_sensors(
                parse_sensors(args.sensor),
                state,
                settings=settings,
                connect=connect,
                host_clock=clock,
                wrap=args.wrap,
                on_armed=on_armed,
            )
    print(f"state in {state}; run, then `runform sensors download --out run.h5`")
    return 0


async def _status(args: argparse.Namespace, state: Path) -> int:
    from firmware_bridge.errors import DeviceError
    from firmware_bridge.sensorlog.session import ArmState, sensors_status

    armed = ArmState.load(state)
    async with _devices(args, state, args.run_seconds) as (connect, _clock, _):
        res = await sensors_status(armed, connect=connect)
    for sid, st in res.items():
        s = armed.sensors[sid]
        if isinstance(st, DeviceError):
            print(f"{sid}: unreachable: {st}")
            continue
        rate_bytes = _bytes_per_second(s.device_model, s.config.rate_hz)
        if st.capacity_bytes:
            from firmware_bridge.sensorlog import STOP_RESERVE_BYTES

            reserve = STOP_RESERVE_BYTES.get(s.device_model, 0)  # kept free by the sensor
            left = max(0, st.capacity_bytes - st.used_bytes - reserve)
            memory = (
                f"memory {st.used_bytes / 1024:.0f} of {st.capacity_bytes / 1024:.0f} KiB used, "
                f"{left / rate_bytes / 3600:.1f} h left at {s.config.rate_hz:g} Hz"
            )
        else:
            memory = (
                f"memory {st.records} entries ({st.used_bytes / 1024:.0f} KiB, "
                f"{st.used_bytes / rate_bytes / 60:.1f} min at {s.config.rate_hz:g} Hz) used; "
                "the board does not report its size"
            )
        batt = "--" if st.battery_pct is None else f"{st.battery_pct:.0f}%"
        if s.stopped and not st.logging:
            # the download stopped it: 'full' is what it was then (a Polar reads full
            # whenever it is armed and not logging: 'FULL' beside 0 KiB used)
            doing = "stopped by the download" + (
                " (the log was FULL)" if s.full_at_download else ""
            )
            full = False
        else:
            doing, full = ("logging" if st.logging else "stopped"), st.full
        flags = (" FULL" if full else "") + (
            f", {st.overwritten} records overwritten" if st.overwritten else ""
        )
        print(f"{sid} ({s.device_model} {s.address}): {doing}, {memory}, battery {batt}{flags}")
    return 0


def _bytes_per_second(device_model: str, rate_hz: float) -> float:
    """Log memory a family uses per second at ``rate_hz`` (for 'hours left')."""
    from firmware_bridge.sensorlog import capacity_bytes_per_second

    return capacity_bytes_per_second(device_model, rate_hz)


async def _download(args: argparse.Namespace, state: Path) -> int:
    from firmware_bridge.sensorlog.session import ArmState, download_sensors

    out = Path(args.out)
    if not out.parent.exists():
        raise UsageError(f"--out {out}: directory {out.parent} does not exist")
    armed = ArmState.load(state)
    if all(s.downloaded or s.left_out for s in armed.sensors.values()):
        raise UsageError(f"{state}: every sensor is downloaded already; arm them again")
    if armed.written_to is None or Path(armed.written_to) != out:
        # an existing file there is another recording (not this run's, resumed): as record
        from runform.safe_output import check_new_recording

        check_new_recording(out, force=args.force)
    if armed.written_to is not None and Path(armed.written_to) != out:
        print(f"note: the run was already written to {armed.written_to}", file=sys.stderr)
    last: dict[str, int] = {}

    def progress(sid: str, done: int, total: int) -> None:
        pct = int(100 * done / total) if total else 100
        if not args.quiet and pct // 10 != last.get(sid, -1):
            last[sid] = pct // 10
            print(f"  {sid}: {done}/{total} records ({pct}%)", file=sys.stderr, flush=True)

    async with _devices(args, state, args.run_seconds) as (connect, clock, _):
        summary = await download_sensors(
            armed,
            out,
            connect=connect,
            host_clock=clock,
            write=write_recording,
            erase=not args.keep_log,
            progress=progress,
            without=args.without,
        )
    if not summary.samples:
        print(
            f"{summary.path} was written by an earlier download; logs left erased where reachable"
        )
        return 0
    print(f"wrote {summary.path}")
    for sid, n in summary.samples.items():
        extra = []
        if summary.overwritten[sid]:
            extra.append(f"{summary.overwritten[sid]} samples overwritten (log full, wrapped)")
        elif summary.full[sid]:
            extra.append("log was FULL: logging stopped before the download")
        if summary.duplicates[sid]:
            extra.append(f"{summary.duplicates[sid]} repeated packets dropped")
        print(
            f"  {sid}: {n} samples, gaps {summary.gaps[sid]}, clock drift "
            f"{summary.drift_ppm[sid]:+.1f} ppm, clock reads within {summary.sync_uncertainty_ms[sid]:.1f} ms, "
            f"reconnects {summary.reconnects[sid]}" + ("; " + "; ".join(extra) if extra else "")
        )
    for sid in summary.left_out:
        s = armed.sensors[sid]
        kept = ""
        jpath = armed.journal_dir / f"{sid}.bin"
        if jpath.exists() and jpath.stat().st_size:  # what an earlier download got of it
            kept = f"; what an earlier download got of it is kept in {jpath}"
        print(
            f"  {sid} ({s.device_model} {s.address}): left out (--without), not in the recording "
            f"(its notes say so); its log stays on the sensor{kept}"
        )
    return 0
