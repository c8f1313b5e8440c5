"""Fixtures of the companion tests: real servers (tests/servers.py, tests/influx_adapter.py)
and Debian's Chromium, headless, via Playwright, for the browser tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from browser_support import CHROMIUM_ARGS, chromium_path
from influx_adapter import influx_adapter
from playwright.async_api import Browser, async_playwright
from servers import influx_server

__all__ = ["browser", "influx_adapter", "influx_server"]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()
