"""A bleak client backend that talks to simulated peripherals.

``BleakClient(address, backend=SimulatedBleakClient, air=air)`` gives the real bleak facade
(service resolution, callback wrapping, errors) over a :class:`SimulatedAir`, so the
collector's code is the same for hardware and simulation.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, cast

from bleak.args import SizedBuffer
from bleak.assigned_numbers import CharacteristicPropertyName
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError

from stresstrack.simulators.peripherals import SimulatedAir, SimulatedPeripheral

__all__ = ["SimulatedBleakClient"]


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
        return 23

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
        self._peripheral = peripheral
        self.address = peripheral.address
        self.services = self._build_services(peripheral)
        self._subscribed = set()
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
                    lambda: 20,
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
        self._require()
        raise BleakError(f"characteristic {characteristic.uuid} is not writable")

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
