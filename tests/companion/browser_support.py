"""A real Chromium (Debian's) driven by Playwright, with an emulated Heart Rate strap.

The strap is Chromium's own Bluetooth emulation (CDP ``BluetoothEmulation`` on the browser
target): a peripheral with the Heart Rate Service (0x2A37, notify, with its CCCD 0x2902) and
the Battery Service. The page pairs it through the real Web Bluetooth chooser (answered with
``DeviceAccess.selectPrompt``, once per prompt). Chromium 156 has no CDP command to push a
notification, so :meth:`EmulatedStrap.notify` calls ``readValue()`` on the page's own
characteristic object and answers the read with the bytes: Chromium then fires
``characteristicvaluechanged`` and the page's notification handler runs unchanged.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import io
import os
import shutil
from pathlib import Path
from typing import Any, Final

import zxingcpp
from PIL import Image
from playwright.async_api import Browser, CDPSession, Page, ViewportSize

HR_SERVICE: Final = "0000180d-0000-1000-8000-00805f9b34fb"
HR_MEASUREMENT: Final = "00002a37-0000-1000-8000-00805f9b34fb"
BATTERY_SERVICE: Final = "0000180f-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL: Final = "00002a19-0000-1000-8000-00805f9b34fb"
CCCD: Final = "00002902-0000-1000-8000-00805f9b34fb"
PHONE: Final[ViewportSize] = {"width": 390, "height": 844}  # a typical phone viewport (CSS pixels)
SCALE: Final = 2  # device pixels per CSS pixel
CHROMIUM_ARGS: Final = [
    "--no-sandbox",
    "--headless",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
    "--disable-quic",
    "--enable-experimental-web-platform-features",  # Web Bluetooth is off on Linux otherwise
]


def chromium_path() -> str | None:
    return shutil.which("chromium")


def artifacts_dir() -> Path:
    """Where screenshots go: $STRESSTRACK_TEST_ARTIFACTS or ./test-artifacts/companion."""
    root = os.environ.get("STRESSTRACK_TEST_ARTIFACTS")
    path = Path(root) if root else Path(__file__).resolve().parents[2] / "test-artifacts"
    out = path / "companion"
    out.mkdir(parents=True, exist_ok=True)
    return out


async def set_time(page: Page, time_ns: int) -> None:
    """Fix the page's ``Date.now()`` (timers keep running): the phone's clock."""
    await page.clock.set_fixed_time(dt.datetime.fromtimestamp(time_ns / 1e9, dt.UTC))


class EmulatedStrap:
    """A Heart Rate strap in Chromium's Bluetooth emulation, paired by ``page``."""

    address = "0A:11:22:33:44:55"
    name = "Sim HRM 1A2B"

    def __init__(self, browser_cdp: CDPSession, page: Page, page_cdp: CDPSession) -> None:
        self.cdp = browser_cdp
        self.page = page
        self.page_cdp = page_cdp
        self.battery = 87
        self._next: bytes | None = None
        self._hr_id = ""
        self._battery_id = ""
        self._prompts: set[str] = set()
        self._tasks: set[asyncio.Future[Any]] = set()
        self._char_obj: str | None = None

    def _later(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def setup(self) -> None:
        cdp = self.cdp
        await cdp.send("BluetoothEmulation.enable", {"state": "powered-on", "leSupported": True})
        await cdp.send(
            "BluetoothEmulation.simulatePreconnectedPeripheral",
            {
                "address": self.address,
                "name": self.name,
                "manufacturerData": [],
                "knownServiceUuids": [HR_SERVICE],
            },
        )
        await self._add_services()
        cdp.on("BluetoothEmulation.gattOperationReceived", self._on_gatt)
        cdp.on("BluetoothEmulation.characteristicOperationReceived", self._on_char)
        cdp.on("BluetoothEmulation.descriptorOperationReceived", self._on_descriptor)
        await self.page_cdp.send("DeviceAccess.enable")
        self.page_cdp.on("DeviceAccess.deviceRequestPrompted", self._on_prompt)

    async def _add_services(self) -> None:
        cdp = self.cdp
        hr = await cdp.send(
            "BluetoothEmulation.addService", {"address": self.address, "serviceUuid": HR_SERVICE}
        )
        char = await cdp.send(
            "BluetoothEmulation.addCharacteristic",
            {
                "serviceId": hr["serviceId"],
                "characteristicUuid": HR_MEASUREMENT,
                "properties": {"notify": True},
            },
        )
        self._hr_id = char["characteristicId"]
        await cdp.send(
            "BluetoothEmulation.addDescriptor",
            {"characteristicId": self._hr_id, "descriptorUuid": CCCD},
        )
        bat = await cdp.send(
            "BluetoothEmulation.addService",
            {"address": self.address, "serviceUuid": BATTERY_SERVICE},
        )
        char = await cdp.send(
            "BluetoothEmulation.addCharacteristic",
            {
                "serviceId": bat["serviceId"],
                "characteristicUuid": BATTERY_LEVEL,
                "properties": {"read": True},
            },
        )
        self._battery_id = char["characteristicId"]

    def _on_gatt(self, ev: dict[str, Any]) -> None:
        params = {"address": ev["address"], "type": ev["type"], "code": 0}
        self._later(self.cdp.send("BluetoothEmulation.simulateGATTOperationResponse", params))

    def _on_char(self, ev: dict[str, Any]) -> None:
        params: dict[str, Any] = {
            "characteristicId": ev["characteristicId"],
            "type": ev["type"],
            "code": 0,
        }
        if ev["type"] == "read":
            if ev["characteristicId"] == self._battery_id:
                data = bytes([self.battery])
            else:
                data, self._next = self._next or b"", None
            params["data"] = base64.b64encode(data).decode()
        self._later(
            self.cdp.send("BluetoothEmulation.simulateCharacteristicOperationResponse", params)
        )

    def _on_descriptor(self, ev: dict[str, Any]) -> None:
        params: dict[str, Any] = {
            "descriptorId": ev["descriptorId"],
            "type": ev["type"],
            "code": 0,
        }
        if ev["type"] == "read":
            params["data"] = base64.b64encode(b"\x00\x00").decode()
        self._later(self.cdp.send("BluetoothEmulation.simulateDescriptorOperationResponse", params))

    def _on_prompt(self, ev: dict[str, Any]) -> None:
        if ev["id"] in self._prompts or not ev.get("devices"):
            return  # selecting twice for one prompt crashes the browser
        self._prompts.add(ev["id"])
        params = {"id": ev["id"], "deviceId": ev["devices"][0]["id"]}
        self._later(self.page_cdp.send("DeviceAccess.selectPrompt", params))

    async def _characteristic(self) -> str:
        """The page's BluetoothRemoteGATTCharacteristic object for 0x2A37 (the one it holds
        now: after a reconnection the old objects are no longer valid)."""
        if self._char_obj is None:
            found = await self.page_cdp.send(
                "Runtime.evaluate", {"expression": "window.stresstrack.state.hr"}
            )
            if "objectId" not in found["result"]:
                raise AssertionError("the page holds no 0x2A37 characteristic")
            self._char_obj = found["result"]["objectId"]
        return self._char_obj

    async def notify(self, data: bytes, time_ns: int) -> None:
        """Deliver one notification that the phone receives at ``time_ns``."""
        await set_time(self.page, time_ns)
        obj = await self._characteristic()
        self._next = data
        out = await self.page_cdp.send(
            "Runtime.callFunctionOn",
            {
                "objectId": obj,
                "functionDeclaration": "function() { return this.readValue().then(() => 1); }",
                "awaitPromise": True,
            },
        )
        if out.get("exceptionDetails"):
            raise AssertionError(f"readValue failed: {out['exceptionDetails']}")

    async def disconnect(self) -> None:
        """The strap goes out of range (the page sees gattserverdisconnected)."""
        self._char_obj = None
        await self.cdp.send(
            "BluetoothEmulation.simulateGATTDisconnection", {"address": self.address}
        )

    async def back_in_range(self) -> None:
        """The strap is back. Chromium 156's emulation finds no services when the page
        rediscovers them after ``simulateGATTDisconnection``, so they are added again (a real
        strap simply keeps its GATT table)."""
        await self._add_services()


async def open_phone(
    browser: Browser, permissions: list[str] | None = None
) -> tuple[Page, CDPSession]:
    context = await browser.new_context(
        viewport=PHONE, device_scale_factor=SCALE, permissions=permissions or []
    )
    page = await context.new_page()
    return page, await context.new_cdp_session(page)


async def shoot(page: Page, name: str, *must_show: str) -> Path:
    """A phone-size screenshot in the test artefacts, checked: the page is not blank, and each
    of ``must_show`` (CSS selectors) is visible, inside the phone's screen, and drawn (its
    pixels in the screenshot are not one flat colour: its text or outline rendered)."""
    viewport = page.viewport_size
    assert viewport is not None
    boxes = []
    for selector in must_show:
        element = page.locator(selector).first
        await element.scroll_into_view_if_needed()
        assert await element.is_visible(), f"{name}: {selector} is not visible"
        boxes.append((selector, await element.bounding_box()))
    path = artifacts_dir() / f"{name}.png"
    await page.screenshot(path=str(path))
    with Image.open(path) as raw:
        image = raw.convert("RGB")
    scale = int(await page.evaluate("devicePixelRatio"))
    assert image.size == (viewport["width"] * scale, viewport["height"] * scale), image.size
    # Not blank: a page of text and cards has many colours (anti-aliased glyphs) ...
    assert len(image.getcolors(1 << 20) or []) > 50, f"{name}: the screenshot looks blank"
    for selector, box in boxes:
        assert box is not None, f"{name}: {selector} has no box"
        x0, y0 = round(box["x"] * scale), round(box["y"] * scale)
        x1, y1 = round((box["x"] + box["width"]) * scale), round((box["y"] + box["height"]) * scale)
        assert 0 <= x0 < x1 <= image.width and 0 <= y0 < y1 <= image.height, (
            f"{name}: {selector} is outside the phone's screen ({box})"
        )
        # ... and every key element shows more than a flat fill.
        colours = image.crop((x0, y0, x1, y1)).getcolors(1 << 20) or []
        assert len(colours) >= 2, f"{name}: {selector} is drawn as one flat colour"
    return path


async def decode_qr(page: Page, selector: str) -> str:
    """The text of the QR code ``selector`` shows on the screen, read by an independent
    decoder (zxing-cpp) from a screenshot of the element."""
    png = await page.locator(selector).screenshot()
    with Image.open(io.BytesIO(png)) as raw:
        image = raw.convert("L")
    found = zxingcpp.read_barcodes(image)
    assert len(found) == 1, f"{selector}: {len(found)} codes read"
    assert found[0].format == zxingcpp.BarcodeFormat.QRCode, found[0].format
    return str(found[0].text)
