"""``runform scan``: list nearby BLE devices runform can use."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

NAME = "scan"
HELP = "list nearby Bluetooth LE sensors: name, address, RSSI, detected type"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--timeout", type=float, default=5.0, help="scan for SECONDS (5)")
    parser.add_argument("--all", action="store_true", help="also list devices runform cannot use")
    parser.add_argument(
        "--simulate",
        action="store_true",
        help="scan a virtual BLE link with three emulated sensors (no hardware needed)",
    )


async def scan(timeout_s: float, *, simulate: bool = False) -> list[dict[str, Any]]:
    """Devices seen in ``timeout_s``: dicts with name, address, rssi, type (driver label or
    None), sorted by RSSI (strongest first)."""
    from bleak import BleakScanner

    from firmware_bridge.devices import Advertisement, detect
    from firmware_bridge.errors import DeviceError

    kwargs: dict = {}
    virtual = None
    if simulate:
        from firmware_bridge.bumble_backend import BumbleScanner
        from firmware_bridge.emulator import start_virtual_sensors

        virtual = await start_virtual_sensors()
        kwargs = {"backend": BumbleScanner, "link": virtual.link}
    try:
        found = await BleakScanner.discover(timeout=timeout_s, return_adv=True, **kwargs)
    except Exception as exc:  # no adapter, no BlueZ, permissions: one line for the user
        raise DeviceError(
            f"Bluetooth scan failed ({type(exc).__name__}: {exc}); is there a Bluetooth adapter "
            "and is it on? (try --simulate to see emulated sensors)"
        ) from None
    finally:
        if virtual is not None:
            await virtual.close()
    rows: list[dict[str, Any]] = []
    for device, adv in found.values():
        a = Advertisement.from_bleak(device, adv)
        driver = detect(a)
        rows.append(
            {
                "name": a.name or "",
                "address": a.address,
                "rssi": a.rssi,
                "type": driver.label if driver else None,
                "device_model": driver.name if driver else None,
            }
        )
    rows.sort(key=lambda r: -int(r["rssi"]))
    return rows


#: Longest ``--timeout``, s (sensors advertise every second or so; an hour is plenty).
MAX_TIMEOUT_S = 3600.0


def run(args: argparse.Namespace) -> int:
    from runform.validation import check_range

    # before: -1 'found nothing in -1 s', nan scanned for no time, inf and 1e9 never ended
    check_range("--timeout", args.timeout, 0.1, MAX_TIMEOUT_S, "s")
    rows = asyncio.run(scan(args.timeout, simulate=args.simulate))
    shown = [r for r in rows if args.all or r["type"]]
    if not shown:
        print(f"no usable sensors found in {args.timeout:g} s ({len(rows)} other devices)")
        return 1
    print(f"{'name':<20} {'address':<20} {'RSSI':>5}  type")
    for r in shown:
        print(f"{r['name']:<20} {r['address']:<20} {r['rssi']:>5}  {r['type'] or '-'}")
    return 0
