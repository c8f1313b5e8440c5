"""Fixtures of the companion's browser tests: Debian's Chromium, headless, via Playwright."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from browser_support import CHROMIUM_ARGS, chromium_path
from playwright.async_api import Browser, async_playwright


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()
