"""bleak's public BleakScanner / BleakClient over the bumble backend, against an emulated clip."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from bleak import BleakClient, BleakScanner
from bleak.exc import BleakError

from firmware_bridge.bumble_backend import BumbleClient, BumbleScanner
from firmware_bridge.devices import Advertisement, StreamSettings, detect, diy
from firmware_bridge.emulator import DeviceClock, EmulatedDiyClip, SyntheticSignal
from firmware_bridge.virtual_link import VirtualLink


async def _clip(link, name="rfclip-L", **kw):
    return await EmulatedDiyClip(link, name=name, signal=SyntheticSignal(), **kw).start()


def test_scan_finds_emulated_clips_with_name_rssi_and_type():
    async def main():
        link = VirtualLink()
        a = await _clip(link, "rfclip-L")
        b = await _clip(link, "rfclip-R")
        found = await BleakScanner.discover(
            timeout=0.3, return_adv=True, backend=BumbleScanner, link=link
        )
        # a service UUID filter goes through bleak's own filtering
        filtered = await BleakScanner.discover(
            timeout=0.3,
            service_uuids=["0000180d-0000-1000-8000-00805f9b34fb"],
            backend=BumbleScanner,
            link=link,
        )
        await a.close()
        await b.close()
        return a, b, found, filtered

    a, b, found, filtered = asyncio.run(main())
    assert set(found) == {a.address, b.address}
    dev, adv = found[a.address]
    assert adv.local_name == "rfclip-L" and dev.name == "rfclip-L"
    assert adv.service_uuids == [diy.SERVICE_UUID]
    assert -127 < adv.rssi < 0
    assert detect(Advertisement.from_bleak(dev, adv)).name == "runform-diy"
    assert filtered == []


def test_connect_discover_read_write_notify_disconnect():
    async def main():
        link = VirtualLink()
        clip = await _clip(link, battery_pct=64, firmware="2.3.1", clock=DeviceClock(50.0, 20))
        got: list[bytes] = []
        async with BleakClient(clip.address, backend=BumbleClient, link=link) as client:
            assert client.is_connected and client.mtu_size == 247
            uuids = {s.uuid for s in client.services}
            assert diy.SERVICE_UUID in uuids and "0000180f-0000-1000-8000-00805f9b34fb" in uuids
            data = client.services.get_characteristic(diy.DATA_UUID)
            assert "notify" in data.properties
            assert data.get_descriptor("00002902-0000-1000-8000-00805f9b34fb") is not None
            cfg = client.services.get_characteristic(diy.CONFIG_UUID)
            assert {"read", "write"} <= set(cfg.properties)
            assert await diy.DRIVER.read_battery(client) == 64
            assert await diy.DRIVER.read_firmware(client) == "2.3.1"
            await client.start_notify(diy.DATA_UUID, lambda _c, d: got.append(bytes(d)))
            state = await diy.DRIVER.start(client, StreamSettings(rate_hz=400, acc_range_g=5))
            await asyncio.sleep(0.3)
            await client.stop_notify(diy.DATA_UUID)
            n_stopped = len(got)
            await asyncio.sleep(0.1)
            assert len(got) == n_stopped  # unsubscribed: nothing more arrives
            await diy.DRIVER.stop(client)
            assert not clip.streaming
        assert not client.is_connected
        await clip.close()
        return clip, state, got

    clip, state, got = asyncio.run(main())
    # nearest supported rate, smallest range covering the request
    assert state.sample_rate_hz == 416.0 and state.acc_range_g == 8.0
    assert state.extra["samples_per_packet"] == 19
    assert clip.commands == [diy.OP_CONFIGURE, diy.OP_START, diy.OP_STOP]
    assert len(got) >= 3
    decoded = [diy.DRIVER.decode(p, state) for p in got]
    counters = [d.packet_counter for d in decoded]
    assert counters == list(range(len(got)))
    ts = np.array([d.device_time_s for d in decoded])
    np.testing.assert_allclose(np.diff(ts), 19 / 416.0, atol=2e-6)
    assert ts[0] > 50.0  # the device's own clock, not the host's


def test_peripheral_drop_calls_disconnected_callback_and_reconnect_works():
    async def main():
        link = VirtualLink()
        clip = await _clip(link)
        dropped = asyncio.Event()
        client = BleakClient(
            clip.address,
            disconnected_callback=lambda _c: dropped.set(),
            backend=BumbleClient,
            link=link,
        )
        await client.connect()
        await clip.drop_connection(away_s=0.2)
        await asyncio.wait_for(dropped.wait(), 2.0)
        assert not client.is_connected
        with pytest.raises(BleakError):
            await client.read_gatt_char(diy.CONFIG_UUID)
        await asyncio.sleep(0.3)
        await client.connect()  # the device advertises again
        ok = client.is_connected
        await client.disconnect()
        await clip.close()
        return ok, clip.connections

    ok, n = asyncio.run(main())
    assert ok and n == 2


def test_connect_to_absent_device_fails_cleanly():
    async def main():
        link = VirtualLink()
        client = BleakClient("C0:00:00:00:00:99", backend=BumbleClient, link=link, timeout=0.5)
        with pytest.raises(BleakError):
            await client.connect()

    asyncio.run(main())
