"""The companion in a real browser: Debian's Chromium, headless, driven by Playwright, with an
emulated Heart Rate strap fed the bytes of the project's simulated strap (its own schedule and
encoder, :class:`~stresstrack.simulators.peripherals.SimulatedHeartRateStrap`).

Independent references: the beats the simulator put in the bytes (``reported_beats``), the
times the test gave the phone's clock, and a replay of the store by ``stresstrack replay``.
Screenshots at phone size go to ``test-artifacts/companion/`` (or $STRESSTRACK_TEST_ARTIFACTS).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from browser_support import (
    EmulatedStrap,
    artifacts_dir,
    chromium_path,
    open_phone,
    set_time,
)
from companion_support import (
    RESEARCHER_TOKEN,
    START_NS,
    STUDY_TOML,
    ServerThread,
    StrapFeed,
    enrol,
    free_port,
    running,
    strap,
    strap_packets,
    write_study,
)
from playwright.async_api import Browser, Page

from stresstrack.cli import main
from stresstrack.events import Beat, HeartRate, Marker
from stresstrack.store.sqlite import Store

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(chromium_path() is None, reason="needs Debian's chromium (scripts/test)"),
]

NS = 1_000_000_000


async def poll(page: Page, expression: str, timeout_s: float = 60.0) -> None:
    await page.wait_for_function(expression, timeout=timeout_s * 1000, polling=100)


async def waiting(page: Page) -> int:
    return int(await page.evaluate("window.stresstrack.state.waiting"))


async def all_saved(page: Page, timeout_s: float = 90.0) -> None:
    """Wait until the outbox is empty and the server acknowledged everything."""
    await page.evaluate("window.stresstrack.refreshWaiting()")
    await poll(page, "document.getElementById('sync').textContent === 'All saved.'", timeout_s)


async def enrol_in_browser(browser: Browser, server: ServerThread, shots: Path) -> Page:
    """Researcher page → code → participant page → consent; returns the participant's page."""
    researcher, _ = await open_phone(browser)
    await researcher.goto(server.url + "/researcher")
    await researcher.fill("#token", RESEARCHER_TOKEN)
    await researcher.click("#login button")
    await researcher.click("tr[data-participant='P001'] >> text=New code")
    await researcher.wait_for_selector("#code-out code#code")
    code = (await researcher.inner_text("#code")).strip()
    await researcher.screenshot(path=str(shots / "researcher.png"), full_page=True)
    await researcher.close()

    page, _ = await open_phone(browser)
    await page.goto(server.url + "/")
    await page.fill("#code", code)
    await page.click("#enrol-form button")
    await page.wait_for_selector("#consent:not([hidden])")
    assert "You can stop at any time" in await page.inner_text("#consent-text")
    await page.screenshot(path=str(shots / "consent.png"))
    await set_time(page, START_NS - 3600 * NS)  # consent an hour before the band is worn
    await page.click("#consent-accept")
    await set_time(page, START_NS - NS)
    await page.wait_for_selector("#main:not([hidden])")
    return page


async def pair(browser: Browser, page: Page) -> EmulatedStrap:
    cdp_browser = await browser.new_browser_cdp_session()
    page_cdp = await page.context.new_cdp_session(page)
    band = EmulatedStrap(cdp_browser, page, page_cdp)
    await band.setup()
    await page.click("#connect")
    await poll(page, "document.getElementById('link').textContent === 'connected'")
    await poll(page, "document.getElementById('battery').textContent === '87 %'")
    return band


async def test_enrol_pair_stream_prompt_and_session(browser: Browser, tmp_path: Path) -> None:
    """Enrolment and consent, pairing, 10 min of strap bytes through the page to the store and
    pipeline, a prompt from the stress rise accepted, a session from the buttons, analysed."""
    shots = artifacts_dir()
    server = ServerThread(tmp_path / "c.db", write_study(tmp_path), free_port())
    server.start()
    try:
        page = await enrol_in_browser(browser, server, shots)
        with Store(server.store_path, readonly=True) as store:
            consent = store.meta("companion/consent/P001")
            assert list(store.iter_events()) == []  # consent is not data
        assert consent is not None
        assert json.loads(consent) == {"version": "v2-companion", "time_ns": START_NS - 3600 * NS}
        band = await pair(browser, page)
        sim = strap()
        feed = StrapFeed(sim)
        # 4 min rest (baseline), then 4 min of the stressor: the realistic index passes 65
        # about 45 s into it (60 s windows) and the rule needs a minute above.
        packets = feed.until(480.0)
        t0 = time.monotonic()
        for t, data in packets:
            await band.notify(data, t)
        feed_s = time.monotonic() - t0
        await all_saved(page)
        # The stress rise (index >= 65 for a minute) prompts; the prompt is on the page.
        await page.wait_for_selector("#prompt:not([hidden])", timeout=30_000)
        await page.screenshot(path=str(shots / "prompt.png"))
        accept_ns = packets[-1][0] + 2 * NS
        await set_time(page, accept_ns)
        await page.click("#prompt-accept")
        await page.wait_for_selector("#session-running:not([hidden])")
        await page.screenshot(path=str(shots / "session.png"))
        # The self-care session lasts while the strap goes on (the simulated stressor).
        more = feed.until(540.0)
        for t, data in more:
            await band.notify(data, t)
        stop_ns = more[-1][0] + NS
        await set_time(page, stop_ns)
        await page.click("#session-stop")
        # A session from the buttons, with the phone's times.
        rest_ns = stop_ns + 5 * NS
        await set_time(page, rest_ns)
        await page.click("text=Rest")
        await set_time(page, rest_ns + 30 * NS)
        await page.click("#session-stop")
        await all_saved(page)
        await page.screenshot(path=str(shots / "live.png"))
    finally:
        server.stop()
    sent = packets + more
    print(f"{len(packets)} notifications fed in {feed_s:.1f} s")

    with Store(server.store_path, readonly=True) as store:
        events = list(store.iter_events("P001"))
        sessions = store.sessions("P001")
        features = store.features("P001")
        stress = store.stress("P001")
    hr = [e for e in events if isinstance(e, HeartRate)]
    beats = [e for e in events if isinstance(e, Beat)]
    # Every notification stored once, at the phone's receive time.
    assert [e.time_ns for e in hr] == [t for t, _ in sent]
    # The beats are the simulator's: its RR values, in order, none lost or doubled.
    beat_ns, ticks = sim.reported_beats
    upto = np.searchsorted(beat_ns, sent[-1][0], side="right")
    assert [b.rr_ticks for b in beats] == [int(x) for x in ticks[:upto]]
    # Prompt events: a decision point, the prompt, the acceptance (with the phone's time).
    kinds = [(m.kind, m.time_ns) for m in events if isinstance(m, Marker)]
    decision = [t for k, t in kinds if k == "jit-decision"]
    assert len(decision) >= 1 and ("jit-prompt", decision[0]) in kinds
    assert ("jit-accepted", accept_ns) in kinds
    # Sessions with the phone's times: the accepted self-care session and the rest.
    got = {(s.kind, s.mode, s.start_ns, s.end_ns) for s in sessions}
    assert ("self-care", "solo", accept_ns, stop_ns) in got
    assert ("rest", "", rest_ns, rest_ns + 30 * NS) in got
    # The live results equal a replay of the same bytes' events.
    out = tmp_path / "replay.db"
    assert main(["replay", str(server.store_path), "--store", str(out), "--baseline", "120"]) == 0
    with Store(out, readonly=True) as replayed:
        assert replayed.features("P001") == features
        assert replayed.stress("P001") == stress
    assert any(r.index is not None and r.index >= 65 for r in stress)
    # ... and the session is analysed.
    assert main(["analyze", str(server.store_path), "--out", str(tmp_path / "analysis")]) == 0
    table = (tmp_path / "analysis").glob("*.csv")
    assert any("self-care" in p.read_text() for p in table)


async def test_server_outage_loses_and_duplicates_nothing(browser: Browser, tmp_path: Path) -> None:
    """The server is stopped for 30 s of strap data (the phone keeps receiving; the page shows
    the samples waiting), then restarted: every notification is stored exactly once, in order.
    Then the strap goes out of range and comes back: the page reconnects by itself and the hole
    is recorded."""
    shots = artifacts_dir()
    server = ServerThread(tmp_path / "c.db", write_study(tmp_path, STUDY_TOML), free_port())
    server.start()
    page = await enrol_in_browser(browser, server, shots)
    band = await pair(browser, page)
    packets = strap_packets(strap(seed=11), 120.0)
    before, during, after = packets[:45], packets[45:75], packets[75:]
    for t, data in before:
        await band.notify(data, t)
    await all_saved(page)
    server.stop()  # a real outage: nothing listens on the port
    await poll(page, "!window.stresstrack.state.ready")
    for t, data in during:  # 30 s of data while the server is down
        await band.notify(data, t)
    await page.evaluate("window.stresstrack.refreshWaiting()")
    assert await waiting(page) == len(during)
    assert "30 samples waiting" in await page.inner_text("#sync")
    await page.screenshot(path=str(shots / "offline.png"))
    server.start()  # same store, same port: the page reconnects by itself
    await band.disconnect()  # the strap goes out of range: the page says so and records it
    await poll(page, "document.getElementById('link').textContent !== 'connected'")
    await band.back_in_range()  # ... and comes back: the page reconnects by itself
    await poll(page, "document.getElementById('link').textContent === 'connected'", 60)
    for t, data in after:
        await band.notify(data, t)
    await all_saved(page)
    server.stop()
    with Store(server.store_path, readonly=True) as store:
        hr = [e for e in store.iter_events("P001") if isinstance(e, HeartRate)]
        statuses = [e for e in store.iter_events("P001") if type(e).__name__ == "DeviceStatus"]
    assert [e.time_ns for e in hr] == [t for t, _ in packets]
    assert len({e.time_ns for e in hr}) == len(packets)
    lost = [s.state.value for s in statuses if s.detail in ("link lost", "reconnected")]
    assert lost == ["disconnected", "gap"]


async def test_without_web_bluetooth_the_page_says_where_to_collect(
    browser: Browser, tmp_path: Path
) -> None:
    """A browser without Web Bluetooth (as iPhone Safari): the page says so, offers no
    pairing button and points to the study station; sessions still work."""
    shots = artifacts_dir()
    with running(tmp_path) as server:
        context = await browser.new_context(viewport={"width": 390, "height": 844})
        await context.add_init_script("delete Navigator.prototype.bluetooth;")
        page = await context.new_page()
        await page.goto(server.url + "/")
        token = enrol(server, "P002")
        await page.evaluate("t => localStorage.setItem('st.token', t)", token)
        await page.reload()
        await page.wait_for_selector("#main:not([hidden])")
        assert await page.is_hidden("#connect")
        text = await page.inner_text("#bt-unavailable")
        assert "cannot connect to a band" in text and "study station" in text
        await page.screenshot(path=str(shots / "no-web-bluetooth.png"))


async def test_the_page_opens_offline_once_loaded(browser: Browser, tmp_path: Path) -> None:
    """Loaded once, the participant page opens again while the server is down (service
    worker cache, last known settings) and queues what happens meanwhile."""
    shots = artifacts_dir()
    server = ServerThread(tmp_path / "c.db", write_study(tmp_path), free_port())
    server.start()
    try:
        page = await enrol_in_browser(browser, server, shots)
        await page.evaluate("navigator.serviceWorker.ready.then(() => 1)")
        await page.reload()  # now controlled by the service worker
        await page.wait_for_selector("#main:not([hidden])")
    finally:
        server.stop()
    await page.reload()
    await page.wait_for_selector("#main:not([hidden])")
    await set_time(page, START_NS + 60 * NS)
    await page.click("text=Rest")
    await poll(page, "window.stresstrack.state.waiting === 1")
    assert "1 sample waiting" in await page.inner_text("#sync")
    await page.screenshot(path=str(shots / "offline-reload.png"))
