"""bleak backends (client and scanner) that talk to simulated peripherals.

``BleakClient(address, backend=SimulatedBleakClient, air=air)`` gives the real bleak facade
(service resolution, callback wrapping, errors) over a :class:`SimulatedAir`, so the
collector's code is the same for hardware and simulation. Writes reach the peripheral (the
Polar PMD control point answers them with indications), and
``BleakScanner(backend=SimulatedBleakScanner, air=air)`` discovers the peripherals that
advertise (reachable and not connected), with their service UUIDs and RSSI.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, Final, cast

from bleak.args import SizedBuffer
from bleak.assigned_numbers import CharacteristicPropertyName
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError

from stresstrack.simulators.peripherals import SimulatedAir, SimulatedPeripheral

__all__ = ["SimulatedBleakClient", "SimulatedBleakScanner"]

# Polar sensors and most straps advertise a few times a second while not connected.
ADVERTISING_INTERVAL_S: Final = 0.25


class SimulatedBleakClient(BaseBleakClient):
    """Backend for :class:`bleak.BleakClient` over a :class:`SimulatedAir`."""

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None = None,
        timeout: float = 10.0,
        air: SimulatedAir | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout
        )
        if air is None:
            raise BleakError("SimulatedBleakClient needs air=SimulatedAir(...)")
        self._air = air
        self._peripheral: SimulatedPeripheral | None = None
        self._callbacks: dict[str, NotifyCallback] = {}
        self._serving: asyncio.Task[None] | None = None
        self._subscribed: set[str] = set()

    @property
    def name(self) -> str:
        return self._peripheral.name if self._peripheral else self.address

    @property
    def mtu_size(self) -> int:
        return self._peripheral.mtu if self._peripheral else 23

    @property
    def is_connected(self) -> bool:
        return self._serving is not None and not self._serving.done()

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        peripheral = self._air.find(self.address)
        if peripheral is None or not peripheral.reachable():
            await asyncio.sleep(min(self._timeout, 2.0))  # a scan that finds nothing takes time
            raise BleakDeviceNotFoundError(
                self.address, f"Device with address {self.address} was not found."
            )
        await asyncio.sleep(0.3)  # connection set-up and service discovery
        if peripheral.connected:
            raise BleakError(f"{self.address}: the device is connected to another central")
        self._peripheral = peripheral
        self.address = peripheral.address
        self.services = self._build_services(peripheral)
        self._subscribed = set()
        peripheral.link_up(self._notify, self._subscribed)  # writes may come before serving
        self._serving = asyncio.get_running_loop().create_task(
            peripheral.serve(self._notify, self._subscribed, self._link_lost)
        )

    def _build_services(self, peripheral: SimulatedPeripheral) -> BleakGATTServiceCollection:
        collection = BleakGATTServiceCollection()
        handle = 1
        for service_uuid, chars in peripheral.gatt().items():
            service = BleakGATTService(None, handle, service_uuid)
            collection.add_service(service)
            handle += 1
            for char_uuid, props in chars.items():
                char = BleakGATTCharacteristic(
                    None,
                    handle,
                    char_uuid,
                    cast(list[CharacteristicPropertyName], props),
                    lambda: peripheral.mtu - 3,
                    service,
                )
                collection.add_characteristic(char)
                handle += 2
        return collection

    def _notify(self, uuid: str, data: bytes) -> None:
        callback = self._callbacks.get(uuid)
        if callback is not None:
            callback(bytearray(data))

    def _link_lost(self) -> None:
        self._callbacks.clear()
        self._subscribed.clear()
        if self._disconnected_callback is not None:
            asyncio.get_running_loop().call_soon(self._disconnected_callback)

    async def disconnect(self) -> None:
        if self._serving is not None:
            self._serving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._serving
        self._serving = None
        self._callbacks.clear()
        self._subscribed.clear()
        if self._peripheral is not None:
            self._peripheral.link_down(self._notify)  # if serving never started

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def unpair(self) -> None:
        return None

    def _require(self) -> SimulatedPeripheral:
        if self._peripheral is None or not self.is_connected:
            raise BleakError("Not connected")
        return self._peripheral

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        peripheral = self._require()
        try:
            return bytearray(peripheral.read(characteristic.uuid))
        except KeyError as exc:
            raise BleakError(f"characteristic {characteristic.uuid} is not readable") from exc

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        raise BleakError("simulated peripherals have no readable descriptors")

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool
    ) -> None:
        peripheral = self._require()
        if "write" not in characteristic.properties and (
            response or "write-without-response" not in characteristic.properties
        ):
            raise BleakError(f"characteristic {characteristic.uuid} is not writable")
        try:
            peripheral.write(characteristic.uuid, bytes(data))
        except KeyError as exc:
            raise BleakError(f"characteristic {characteristic.uuid} is not writable") from exc

    async def write_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, data: SizedBuffer
    ) -> None:
        raise BleakError("simulated peripherals have no writable descriptors")

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        self._require()
        self._callbacks[characteristic.uuid] = callback
        self._subscribed.add(characteristic.uuid)

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        self._callbacks.pop(characteristic.uuid, None)
        self._subscribed.discard(characteristic.uuid)


class SimulatedBleakScanner(BaseBleakScanner):
    """Backend for :class:`bleak.BleakScanner` over a :class:`SimulatedAir`."""

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: str = "active",
        *,
        air: SimulatedAir | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        if air is None:
            raise BleakError("SimulatedBleakScanner needs air=SimulatedAir(...)")
        self._air = air
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.seen_devices = {}
        self._task = asyncio.get_running_loop().create_task(self._listen())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _listen(self) -> None:
        while True:
            for p in list(self._air.peripherals.values()):
                if p.reachable() and not p.connected:
                    self._advertise(p)
            await asyncio.sleep(ADVERTISING_INTERVAL_S)

    def _advertise(self, p: SimulatedPeripheral) -> None:
        uuids = p.advertised_services()
        if not self.is_allowed_uuid(uuids):
            return
        adv = AdvertisementData(
            local_name=p.name,
            manufacturer_data={},
            service_data={},
            service_uuids=uuids,
            tx_power=None,
            rssi=p.rssi,
            platform_data=(),
        )
        device = self.create_or_update_device(p.address, p.address, p.name, None, adv)
        self.call_detection_callbacks(device, adv)
