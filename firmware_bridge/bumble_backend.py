"""A bleak backend over bumble: :class:`BumbleScanner` and :class:`BumbleClient`.

bleak's public :class:`bleak.BleakScanner` and :class:`bleak.BleakClient` accept a ``backend=``
class. These two implement bleak's abstract backend interface (``BaseBleakScanner``,
``BaseBleakClient``) with bumble's public API on a :class:`~firmware_bridge.virtual_link.VirtualLink`
(in-process virtual controllers, no hardware, no network port), so every bleak code path of
runform — scan, connect, MTU exchange, service discovery, reads, writes, notifications,
disconnects — runs unchanged against emulated peripherals::

    link = VirtualLink()
    async with BleakScanner(backend=BumbleScanner, link=link) as scanner: ...
    async with BleakClient(address, backend=BumbleClient, link=link) as client: ...

Without ``link=`` both use :func:`~firmware_bridge.virtual_link.default_link`.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import uuid as uuidlib
from collections.abc import Callable
from typing import Any

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError
from bumble.core import UUID as BumbleUUID
from bumble.core import AdvertisingData
from bumble.gatt import GATT_CLIENT_CHARACTERISTIC_CONFIGURATION_DESCRIPTOR

from firmware_bridge.virtual_link import VirtualLink, default_link

__all__ = ["BumbleClient", "BumbleScanner", "bumble_uuid_to_str"]

log = logging.getLogger(__name__)

#: The MTU the central asks for (what phones and BlueZ typically negotiate).
DEFAULT_MTU = 247

_PROPERTY_NAMES = {
    0x01: "broadcast",
    0x02: "read",
    0x04: "write-without-response",
    0x08: "write",
    0x10: "notify",
    0x20: "indicate",
    0x40: "authenticated-signed-writes",
    0x80: "extended-properties",
}

_T = AdvertisingData.Type
_UUID_LISTS = (
    (_T.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS, 2),
    (_T.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS, 2),
    (_T.INCOMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS, 4),
    (_T.COMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS, 4),
    (_T.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS, 16),
    (_T.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS, 16),
)
_SERVICE_DATA = (
    (_T.SERVICE_DATA_16_BIT_UUID, 2),
    (_T.SERVICE_DATA_32_BIT_UUID, 4),
    (_T.SERVICE_DATA_128_BIT_UUID, 16),
)


def bumble_uuid_to_str(u: BumbleUUID) -> str:
    """A bumble UUID as bleak spells UUIDs (128-bit, lower case)."""
    return str(uuidlib.UUID(bytes=bytes(reversed(u.to_bytes(force_128=True)))))


def _uuid_from_le(raw: bytes) -> str:
    return bumble_uuid_to_str(BumbleUUID.from_bytes(raw))


def _parse_advertising(data: AdvertisingData) -> dict[str, Any]:
    name = data.get(_T.COMPLETE_LOCAL_NAME, raw=True) or data.get(_T.SHORTENED_LOCAL_NAME, raw=True)
    uuids: list[str] = []
    for ad_type, size in _UUID_LISTS:
        for raw in data.get_all(ad_type, raw=True):
            for i in range(0, len(raw) - size + 1, size):
                u = _uuid_from_le(raw[i : i + size])
                if u not in uuids:
                    uuids.append(u)
    service_data: dict[str, bytes] = {}
    for ad_type, size in _SERVICE_DATA:
        for raw in data.get_all(ad_type, raw=True):
            service_data[_uuid_from_le(raw[:size])] = bytes(raw[size:])
    manufacturer: dict[int, bytes] = {}
    for raw in data.get_all(_T.MANUFACTURER_SPECIFIC_DATA, raw=True):
        if len(raw) >= 2:
            manufacturer[struct.unpack_from("<H", raw)[0]] = bytes(raw[2:])
    tx = data.get(_T.TX_POWER_LEVEL, raw=True)
    return {
        "local_name": name.decode("utf-8", errors="replace") if name else None,
        "service_uuids": uuids,
        "service_data": service_data,
        "manufacturer_data": manufacturer,
        "tx_power": struct.unpack("b", tx)[0] if tx else None,
    }


class BumbleScanner(BaseBleakScanner):
    """bleak scanner backend listening on a :class:`VirtualLink` with its bumble central.

    Parameters
    ----------
    detection_callback, service_uuids, scanning_mode
        As for :class:`bleak.BleakScanner`.
    link : VirtualLink, optional
        The virtual air (default: :func:`default_link`).
    """

    def __init__(
        self,
        detection_callback: Any,
        service_uuids: list[str] | None,
        scanning_mode: str = "active",
        *,
        link: VirtualLink | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._link = link or default_link()
        self._active = scanning_mode != "passive"
        self._central: Any = None

    async def start(self) -> None:
        """Start scanning (clears :attr:`seen_devices`)."""
        self.seen_devices = {}
        self._central = await self._link.central()
        self._central.on("advertisement", self._on_advertisement)
        await self._central.start_scanning(active=self._active, filter_duplicates=False)

    async def stop(self) -> None:
        """Stop scanning."""
        if self._central is None:
            return
        self._central.remove_listener("advertisement", self._on_advertisement)
        await self._central.stop_scanning()
        self._central = None

    def _on_advertisement(self, adv: Any) -> None:
        fields = _parse_advertising(adv.data)
        if not self.is_allowed_uuid(fields["service_uuids"]):
            return
        address = str(adv.address).split("/")[0]
        data = AdvertisementData(
            local_name=fields["local_name"],
            manufacturer_data=fields["manufacturer_data"],
            service_data=fields["service_data"],
            service_uuids=fields["service_uuids"],
            tx_power=fields["tx_power"],
            rssi=int(adv.rssi),
            platform_data=(adv,),
        )
        # keep the name of an earlier packet when a scan response carries none
        old = self.seen_devices.get(address)
        name = fields["local_name"] or (old[0].name if old else None)
        device = self.create_or_update_device(address, address, name, adv.address, data)
        self.call_detection_callbacks(device, data)


class BumbleClient(BaseBleakClient):
    """bleak client backend: one LE connection of the link's bumble central.

    Parameters
    ----------
    address_or_ble_device : BLEDevice or str
        The peripheral (its address on the virtual link).
    link : VirtualLink, optional
        The virtual air (default: :func:`default_link`).
    mtu : int
        ATT MTU the central requests after connecting.
    """

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None = None,
        timeout: float = 10.0,
        link: VirtualLink | None = None,
        mtu: int = DEFAULT_MTU,
        services: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout
        )
        self._link = link or default_link()
        self._want_mtu = int(mtu)
        self._connection: Any = None
        self._peer: Any = None
        self._mtu = 23
        self._proxies: dict[int, Any] = {}
        self._subscribers: dict[int, Callable[[bytes], None]] = {}
        self._name: str | None = None
        if isinstance(address_or_ble_device, BLEDevice):
            self._name = address_or_ble_device.name

    @property
    def name(self) -> str:
        """The advertised name if known, else the address with dashes."""
        return self._name or self.address.replace(":", "-")

    @property
    def mtu_size(self) -> int:
        """The negotiated ATT MTU in bytes."""
        return self._mtu

    @property
    def is_connected(self) -> bool:
        """Whether the LE connection is up."""
        return self._connection is not None

    async def connect(self, pair: bool = False, **kwargs: Any) -> None:
        """Connect, exchange the MTU and discover all services, characteristics, descriptors."""
        from bumble.device import Peer
        from bumble.hci import Address

        central = await self._link.central()
        deadline = self._link.now() + self._timeout * self._link.speed
        while not self._link.is_advertising(self.address):
            if self._link.now() >= deadline:
                raise BleakDeviceNotFoundError(
                    self.address, f"device {self.address} not found (not advertising)"
                )
            await asyncio.sleep(0.01)
        try:
            # bumble cancels the pending connection itself at its timeout; the outer timeout
            # is only a safety net
            async with asyncio.timeout(self._timeout + 2.0):
                connection = await central.connect(Address(self.address), timeout=self._timeout)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise BleakDeviceNotFoundError(
                self.address,
                f"device {self.address} not reachable on the virtual link "
                f"({type(exc).__name__}: {exc})",
            ) from exc
        self._connection = connection
        connection.on("disconnection", self._on_disconnection)
        try:
            async with asyncio.timeout(self._timeout):
                self._peer = Peer(connection)
                self._mtu = await self._peer.request_mtu(self._want_mtu)
                await self._discover()
        except Exception:
            await self.disconnect()
            raise
        if pair:
            log.info("%s: pairing is not needed on the virtual link; ignored", self.address)

    async def _discover(self) -> None:
        peer = self._peer
        collection = BleakGATTServiceCollection()
        self._proxies.clear()
        await peer.discover_services()
        for svc in peer.services:
            bsvc = BleakGATTService(svc, svc.handle, bumble_uuid_to_str(svc.uuid))
            collection.add_service(bsvc)
            await svc.discover_characteristics()
            for ch in svc.characteristics:
                await ch.discover_descriptors()
                props = [n for bit, n in _PROPERTY_NAMES.items() if int(ch.properties) & bit]
                bch = BleakGATTCharacteristic(
                    ch,
                    ch.handle,
                    bumble_uuid_to_str(ch.uuid),
                    props,  # type: ignore[arg-type]
                    lambda: self._mtu - 3,
                    bsvc,
                )
                collection.add_characteristic(bch)
                self._proxies[ch.handle] = ch
                for d in ch.descriptors:
                    collection.add_descriptor(
                        BleakGATTDescriptor(d, d.handle, bumble_uuid_to_str(d.type), bch)
                    )
                    self._proxies[d.handle] = d
        self.services = collection

    def _on_disconnection(self, reason: Any) -> None:
        was_connected = self._connection is not None
        self._connection = None
        self._peer = None
        self._subscribers.clear()
        log.debug("%s: disconnected (%s)", self.address, reason)
        if was_connected and self._disconnected_callback is not None:
            self._disconnected_callback()

    async def disconnect(self) -> None:
        """Disconnect (no-op when already disconnected; the disconnect callback is not
        called for a disconnect we asked for)."""
        conn = self._connection
        if conn is None:
            return
        self._connection = None
        self._peer = None
        self._subscribers.clear()
        try:
            await conn.disconnect()
        except Exception as exc:  # the link may already be gone
            log.debug("%s: disconnect: %s", self.address, exc)

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        """Not needed on the virtual link (its devices require no security)."""
        log.info("%s: pairing is not needed on the virtual link; ignored", self.address)

    async def unpair(self) -> None:
        """Nothing to unpair on the virtual link."""

    def _require_peer(self) -> Any:
        if self._peer is None:
            raise BleakError(f"{self.address}: not connected")
        return self._peer

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        """Read a characteristic value."""
        peer = self._require_peer()
        return bytearray(await peer.read_value(self._proxies[characteristic.handle]))

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        """Read a descriptor value."""
        peer = self._require_peer()
        return bytearray(await peer.read_value(self._proxies[descriptor.handle]))

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: Any, response: bool
    ) -> None:
        """Write a characteristic (request with response, or command without)."""
        peer = self._require_peer()
        await peer.write_value(
            self._proxies[characteristic.handle], bytes(data), with_response=response
        )

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: Any) -> None:
        """Write a descriptor value."""
        peer = self._require_peer()
        await peer.write_value(self._proxies[descriptor.handle], bytes(data), with_response=True)

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        """Enable notifications (or indications) and deliver each value to ``callback``."""
        peer = self._require_peer()
        proxy = self._proxies[characteristic.handle]
        if proxy.get_descriptor(GATT_CLIENT_CHARACTERISTIC_CONFIGURATION_DESCRIPTOR) is None:
            raise BleakError(f"{self.address}: characteristic {characteristic.uuid} has no CCCD")

        def deliver(value: bytes) -> None:
            callback(bytearray(value))

        self._subscribers[characteristic.handle] = deliver
        await peer.subscribe(proxy, deliver)

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        """Disable notifications."""
        peer = self._require_peer()
        deliver = self._subscribers.pop(characteristic.handle, None)
        await peer.unsubscribe(self._proxies[characteristic.handle], deliver)
