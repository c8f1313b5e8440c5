"""The companion in a real browser: Debian's Chromium, headless, driven by Playwright, with an
emulated Heart Rate strap fed the bytes of the project's simulated strap (its own schedule and
encoder, :class:`~stresstrack.simulators.peripherals.SimulatedHeartRateStrap`).

Independent references: the beats the simulator put in the bytes (``reported_beats``), the
times the test gave the phone's clock, and a replay of the store by ``stresstrack replay``.
Screenshots at phone size go to ``test-artifacts/companion/`` (or $STRESSTRACK_TEST_ARTIFACTS).
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
import tomllib
from collections.abc import Awaitable, Callable
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from browser_support import (
    EmulatedStrap,
    chromium_path,
    decode_qr,
    open_phone,
    set_time,
    shoot,
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
from stresstrack.events import Beat, DeviceStatus, HeartRate, Marker
from stresstrack.store.sqlite import Store

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(chromium_path() is None, reason="needs Debian's chromium (scripts/test)"),
]

NS = 1_000_000_000
PROMPT_MESSAGE = tomllib.loads(STUDY_TOML)["prompt"]["message"]
# The system notifications the page's service worker shows: [title, body] each.
NOTIFICATIONS = """async () => {
  const reg = await navigator.serviceWorker.getRegistration();
  return reg ? (await reg.getNotifications()).map((n) => [n.title, n.body]) : [];
}"""
OUTAGE_S = 30.0  # wall-clock seconds the server is down (and seconds of strap data meanwhile)


async def poll(page: Page, expression: str, timeout_s: float = 60.0) -> None:
    await page.wait_for_function(expression, timeout=timeout_s * 1000, polling=100)


async def waiting(page: Page) -> int:
    return int(await page.evaluate("window.stresstrack.state.waiting"))


async def all_saved(page: Page, timeout_s: float = 90.0) -> None:
    """Wait until the outbox is empty and the server acknowledged everything."""
    await page.evaluate("window.stresstrack.refreshWaiting()")
    await poll(page, "document.getElementById('sync').textContent === 'All saved.'", timeout_s)


async def enrol_in_browser(
    browser: Browser,
    server: ServerThread,
    *,
    via_qr: bool = False,
    permissions: list[str] | None = None,
) -> Page:
    """Researcher page → code and QR → participant page → consent; returns the participant's
    page. ``via_qr``: the phone opens the link read from the QR code on the researcher's
    screen (decoded by zxing-cpp from a screenshot) instead of typing the code."""
    researcher, _ = await open_phone(browser)
    await researcher.goto(server.url + "/researcher")
    await researcher.fill("#token", RESEARCHER_TOKEN)
    await researcher.click("#login button")
    await researcher.click("tr[data-participant='P001'] >> text=New code")
    await researcher.wait_for_selector("#code-out #qr")
    code = (await researcher.inner_text("#code")).strip()
    new_code = "tr[data-participant='P001'] >> text=New code"
    await shoot(researcher, "researcher", "#study", new_code, "#qr", "#code")
    link = await decode_qr(researcher, "#qr")
    assert link == f"{server.url}/#code={code}" == await researcher.inner_text("#code-link")
    await researcher.close()

    page, _ = await open_phone(browser, permissions)
    if via_qr:
        await page.goto(link)
        assert await page.input_value("#code") == code  # nothing to type
    else:
        await page.goto(server.url + "/")
        await page.fill("#code", code)
    await shoot(page, "enrol", "#code", "#enrol-form button")
    await page.click("#enrol-form button")
    await page.wait_for_selector("#consent:not([hidden])")
    assert "You can stop at any time" in await page.inner_text("#consent-text")
    assert page.url == server.url + "/"  # the code left the address bar
    await shoot(page, "consent", "#consent-text", "#consent-accept")
    await set_time(page, START_NS - 3600 * NS)  # consent an hour before the band is worn
    await page.click("#consent-accept")
    await set_time(page, START_NS - NS)
    await page.wait_for_selector("#main:not([hidden])")
    return page


async def eventually(check: Callable[[], Awaitable[Any]], timeout_s: float = 30.0) -> Any:
    """Poll ``check`` until it returns something truthy (a deadline, not a sleep)."""
    deadline = time.monotonic() + timeout_s
    while not (result := await check()):
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)
    return result


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
    server = ServerThread(tmp_path / "c.db", write_study(tmp_path), free_port())
    server.start()
    try:
        page = await enrol_in_browser(browser, server, via_qr=True, permissions=["notifications"])
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
        await shoot(page, "prompt", "#prompt-text", "#prompt-accept", "#prompt-dismiss")
        # ... and, the participant having allowed notifications, as a system notification
        # (shown through the service worker, as Chrome on Android requires).
        shown = await eventually(lambda: page.evaluate(NOTIFICATIONS))
        assert shown == [["A moment for you", PROMPT_MESSAGE]]
        accept_ns = packets[-1][0] + 2 * NS
        await set_time(page, accept_ns)
        await page.click("#prompt-accept")
        await page.wait_for_selector("#session-running:not([hidden])")
        await shoot(page, "session", "#session-name", "#timer", "#session-stop")
        assert await page.is_hidden("#session-buttons")  # one session at a time
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
        await shoot(page, "live", "#link", "#battery", "#hr", "#stress", "#sync", "#session-0")
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


def port_is_closed(port: int) -> bool:
    """Nothing accepts connections on the port (the server is really down)."""
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


async def test_server_outage_loses_and_duplicates_nothing(
    browser: Browser, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The server is stopped for 30 s of wall-clock time while the strap keeps notifying at
    its own pace (at least 30 s of its data): the page keeps them in IndexedDB and shows the
    samples waiting; restarted on the same store, the server gets them resent in order, and
    every notification is stored exactly once. Then the strap goes out of range and comes
    back: the page reconnects by itself and the hole is recorded."""
    caplog.set_level(logging.WARNING, logger="stresstrack")
    server = ServerThread(tmp_path / "c.db", write_study(tmp_path, STUDY_TOML), free_port())
    server.start()
    page = await enrol_in_browser(browser, server)
    band = await pair(browser, page)
    packets = strap_packets(strap(seed=11), 240.0)
    cut = START_NS + 45 * NS
    before = [p for p in packets if p[0] <= cut]
    for t, data in before:
        await band.notify(data, t)
    await all_saved(page)

    server.stop()  # a real outage: nothing listens on the port
    down = time.monotonic()
    assert port_is_closed(server.port)
    await poll(page, "!window.stresstrack.state.ready")
    # The strap notifies at its own pace: each packet when its receive time comes, on the
    # wall clock (the emulated device's schedule, as a real strap's), until the server has
    # been down 30 s and 30 s of data were received meanwhile.
    during: list[tuple[int, bytes]] = []
    seen_waiting: list[int] = []
    rest = iter(packets[len(before) :])
    for t, data in rest:
        due = down + (t - before[-1][0]) / NS
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        await band.notify(data, t)
        during.append((t, data))
        seen_waiting.append(await waiting(page))
        if time.monotonic() - down >= OUTAGE_S and t - during[0][0] >= OUTAGE_S * NS:
            break
    await page.evaluate("window.stresstrack.refreshWaiting()")
    assert await waiting(page) == len(during)
    text = await page.inner_text("#sync")
    assert f"{len(during)} samples waiting" in text and "kept on this phone" in text
    await shoot(page, "offline", "#sync", "#link")
    assert port_is_closed(server.port)
    outage_s = time.monotonic() - down
    assert outage_s >= OUTAGE_S and during[-1][0] - during[0][0] >= OUTAGE_S * NS
    assert seen_waiting == sorted(seen_waiting) and seen_waiting[-1] > 0  # growing

    server.start()  # same store, same port: the page reconnects by itself and resends
    await all_saved(page)
    print(f"server down {outage_s:.1f} s; {len(during)} notifications buffered and resent")
    await band.disconnect()  # the strap goes out of range: the page says so and records it
    await poll(page, "document.getElementById('link').textContent !== 'connected'")
    await band.back_in_range()  # ... and comes back: the page reconnects by itself
    await poll(page, "document.getElementById('link').textContent === 'connected'", 60)
    after = list(rest)[:60]
    for t, data in after:
        await band.notify(data, t)
    await all_saved(page)
    sent = int(await page.evaluate("localStorage.getItem('st.seq')"))
    sender = await page.evaluate("localStorage.getItem('st.sender')")
    server.stop()
    with Store(server.store_path, readonly=True) as store:
        events = list(store.iter_events("P001"))
        acked = store.meta(f"companion/seq/P001/{sender}")
    hr = [e for e in events if isinstance(e, HeartRate)]
    # Every notification once, in the order the strap sent them: none lost, none doubled.
    assert [e.time_ns for e in hr] == [t for t, _ in before + during + after]
    assert len({e.time_ns for e in hr}) == len(hr)
    # Every packet the page numbered reached the store, without a hole in the numbers.
    assert acked == str(sent)
    assert not [r for r in caplog.records if "skipped" in r.getMessage()]
    statuses = [e for e in events if isinstance(e, DeviceStatus)]
    lost = [s.state.value for s in statuses if s.detail in ("link lost", "reconnected")]
    assert lost == ["disconnected", "gap"]


async def test_without_web_bluetooth_the_page_says_where_to_collect(
    browser: Browser, tmp_path: Path
) -> None:
    """A browser without Web Bluetooth (as iPhone Safari): the page says so, offers no
    pairing button and points to the study station; sessions still work."""
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
        await shoot(page, "no-web-bluetooth", "#bt-unavailable", "#session-0")


async def test_the_page_opens_offline_once_loaded(browser: Browser, tmp_path: Path) -> None:
    """Loaded once, the participant page opens again while the server is down (service
    worker cache, last known settings) and queues what happens meanwhile."""
    server = ServerThread(tmp_path / "c.db", write_study(tmp_path), free_port())
    server.start()
    try:
        page = await enrol_in_browser(browser, server)
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
    await shoot(page, "offline-reload", "#sync", "#session-running")


def _clock(seconds: float) -> str:
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


async def test_guided_protocol_runs_its_phases_with_the_phones_times(
    browser: Browser, tmp_path: Path
) -> None:
    """The study's protocol as a guided timer: P002, second in the study file, follows the
    counterbalanced ``stress-selfcare-vs-rest`` in the second order (blocks B then A: AB/BA,
    Williams 1949). Each phase shows its instruction and the time left; it ends on its own
    after its duration on the phone's clock, or early with "Next step"; the stored sessions
    carry the phone's times. Reference: the shipped protocol file itself, read with tomllib."""
    text = files("stresstrack").joinpath("protocols/stress-selfcare-vs-rest.toml").read_text()
    raw = tomllib.loads(text)
    baseline, block_a, block_b = raw["phase"][0], raw["phase"][1:4], raw["phase"][4:7]
    expected = [baseline, *block_b, *block_a]
    study = STUDY_TOML.replace(
        "show_stress = true", 'show_stress = true\nprotocol = "stress-selfcare-vs-rest"'
    )
    with running(tmp_path, study=study) as server:
        token = enrol(server, "P002", at_ns=START_NS - 3600 * NS)
        context = await browser.new_context(viewport={"width": 390, "height": 844})
        page = await context.new_page()
        await set_time(page, START_NS)
        await page.goto(server.url + "/")
        await page.evaluate("t => localStorage.setItem('st.token', t)", token)
        await page.reload()
        await page.wait_for_selector("#guided:not([hidden])")
        assert await page.inner_text("#guided-about") == raw["description"]
        await page.click("#guided-start")
        start = START_NS
        bounds = []
        for i, phase in enumerate(expected):
            seconds = 60 * phase["minutes"]
            step = f"Step {i + 1} of {len(expected)}"
            await poll(page, f"document.getElementById('guided-step').innerText === {step!r}")
            title = " · ".join(
                x for x in (phase["kind"], phase.get("mode"), phase.get("label")) if x
            )
            assert await page.inner_text("#guided-phase") == title
            assert await page.inner_text("#guided-instruction") == phase["prompt"]
            await set_time(page, start + 60 * NS)  # a minute in: the time left counts down
            left = _clock(seconds - 60)
            await poll(page, f"document.getElementById('guided-timer').innerText === {left!r}")
            if i == 0:
                shown = ("#guided-phase", "#guided-instruction", "#guided-timer")
                await shoot(page, "guided", *shown)
            if i == 1:  # the page is reloaded (or the browser restarted): the phase goes on
                await page.reload()
                await poll(page, f"document.getElementById('guided-timer').innerText === {left!r}")
                assert await page.inner_text("#guided-step") == step
            if i == 2:  # the participant moves on early
                end = start + 90 * NS
                await set_time(page, end)
                await page.click("#guided-next")
            else:  # the phase ends on its own when its time is up
                end = start + round(seconds * NS)
                await set_time(page, end)
            bounds.append(
                (phase["kind"], phase.get("mode", ""), phase.get("label", ""), start, end)
            )
            start = end
        await page.wait_for_selector("#guided-done:not([hidden])")
        assert await page.is_hidden("#guided-running")
        await all_saved(page)
    with Store(server.store_path, readonly=True) as store:
        sessions = store.sessions("P002")
        markers = [e for e in store.iter_events("P002") if isinstance(e, Marker)]
        order = store.meta("order/P002")
    got = sorted((s.kind, s.mode, s.label, s.start_ns, s.end_ns) for s in sessions)
    assert got == sorted(bounds)
    assert {m.device for m in markers} == {"protocol"} and len(markers) == 2 * len(expected)
    assert order == "rest,self-care"
