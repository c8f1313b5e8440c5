"""The self-report form in a real browser (Debian's Chromium, headless, via Playwright): an
enrolled participant with an open prompt sees its items, moves the sliders with the keyboard,
sends, and the answers are in the store with the prompt's id.

Independent references: the prompt id the test derives from the session it wrote (docs/
endpoints.md: ``after:KIND:START``, start in Unix seconds), the values the key presses give
on each item's scale (a range input moves one step per arrow key), and the server's clock
around the click. A phone-size screenshot goes to ``test-artifacts/companion/selfreport.png``.
"""

from __future__ import annotations

import re
import time
from importlib.resources import files
from pathlib import Path

import pytest
from browser_support import artifacts_dir, chromium_path, open_phone
from companion_support import STUDY_TOML, call, enrol, running
from playwright.async_api import Browser

from stresstrack.events import Marker, MarkerAction, SelfReport
from stresstrack.store.sqlite import Store

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(chromium_path() is None, reason="needs Debian's chromium (scripts/test)"),
]

NS = 1_000_000_000
ASK = """
[ask]
items = ["stress", "sam_valence"]
after = ["rest"]
"""
# The service worker's cache name, as static/sw.js declares it (it changes with the files).
CACHE = re.search(
    r'const CACHE = "([^"]+)"', (files("stresstrack.companion") / "static" / "sw.js").read_text()
).group(1)  # type: ignore[union-attr]


async def test_a_participant_answers_the_open_prompt_in_the_browser(
    browser: Browser, tmp_path: Path
) -> None:
    """A rest session ended a minute ago opens "after:rest:START"; the form shows its two
        items at their midpoints (VAS 50, SAM 5); 13 × ArrowLeft on the VAS and 1 × ArrowRight on
        the SAM give 37 and 6, which the store then holds with the prompt id and the server's
        time of the click; pressed while the server is down, Send says so and keeps the answers
    for a second press. Answered, the prompt is closed and the form stays away on reload; the
        service worker keeps selfreport.js for offline use."""
    start = time.time_ns() - 300 * NS
    with Store(tmp_path / "companion.db") as store:
        store.add_events(
            [
                Marker(time_ns=t, participant="P001", study="companion-test", action=a, kind="rest")
                for t, a in ((start, MarkerAction.START), (start + 240 * NS, MarkerAction.STOP))
            ]
        )
    prompt_id = f"after:rest:{start // NS}"
    with running(tmp_path, study=STUDY_TOML + ASK) as server:
        token = enrol(server, "P001")
        page, _ = await open_phone(browser)
        await page.goto(server.url + "/")
        await page.evaluate("t => localStorage.setItem('st.token', t)", token)
        await page.reload()  # the participant opens the app: the form checks at once
        await page.wait_for_selector("#selfreport:not([hidden]) form")
        text = await page.inner_text("#selfreport")
        assert "How stressed do you feel right now?" in text
        assert "How do you feel? (SAM valence)" in text
        stress = page.locator("#selfreport input[name='stress']")
        valence = page.locator("#selfreport input[name='sam_valence']")
        assert (await stress.input_value(), await valence.input_value()) == ("50", "5")
        for _ in range(13):
            await stress.press("ArrowLeft")
        await valence.press("ArrowRight")
        outputs = await page.locator("#selfreport output").all_inner_texts()
        assert outputs == ["37", "6"]  # what the participant sees beside each slider
        await page.screenshot(path=str(artifacts_dir() / "selfreport.png"))
        # The server is away when Send is pressed: the form says so and keeps the answers.
        server.stop()
        await page.click("#selfreport button[type='submit']")
        await page.wait_for_selector("#selfreport [role='alert']:text('no connection')")
        assert await page.locator("#selfreport output").all_inner_texts() == ["37", "6"]
        server.start()
        before = time.time_ns()
        await page.click("#selfreport button[type='submit']")
        await page.wait_for_selector("#selfreport", state="hidden")
        after = time.time_ns()
        assert call(server, "/api/selfreport", token=token) == (200, {"prompt": None})
        await page.reload()
        await page.wait_for_selector("#main:not([hidden])")
        assert await page.is_hidden("#selfreport")
        cached = await page.evaluate(
            "n => navigator.serviceWorker.ready.then(() => caches.open(n))"
            ".then(c => c.match('/static/selfreport.js')).then(r => !!r)",
            CACHE,
        )
        assert cached
    with Store(tmp_path / "companion.db", readonly=True) as store:
        answers = [e for e in store.iter_events("P001", types=("selfreport",))]
    assert [
        (e.item, e.value, e.prompt_id, e.device) for e in answers if isinstance(e, SelfReport)
    ] == [
        ("stress", 37.0, prompt_id, "companion"),
        ("sam_valence", 6.0, prompt_id, "companion"),
    ]
    assert all(before <= e.time_ns <= after for e in answers)
