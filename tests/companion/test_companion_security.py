"""The companion's API over a real uvicorn: who may send and see what, exactly-once intake,
and what reaches the logs. Strap bytes come from the simulated strap's encoder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from companion_support import (
    RESEARCHER_TOKEN,
    START_NS,
    ServerThread,
    answers,
    call,
    enrol,
    free_port,
    gatt_items,
    running,
    send_batch,
    strap,
    strap_packets,
    write_study,
    ws_open,
)
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from stresstrack.cli import main
from stresstrack.events import DeviceState, DeviceStatus, HeartRate, Marker
from stresstrack.store.sqlite import Store


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerThread]:
    with running(tmp_path) as s:
        yield s


def _hr(server: ServerThread, participant: str) -> list[HeartRate]:
    with Store(server.store_path, readonly=True) as store:
        return [e for e in store.iter_events(participant) if isinstance(e, HeartRate)]


def test_researcher_endpoints_refuse_without_the_token(server: ServerThread) -> None:
    for path, body in [
        ("/api/researcher/participants", None),
        ("/api/researcher/codes", {"participant": "P001"}),
        ("/api/researcher/recording", {"participant": "P001", "on": False}),
    ]:
        for token in (None, "wrong-token-0123456789", RESEARCHER_TOKEN[:-1]):
            status, out = call(server, path, body, token)
            assert status == 401, (path, token, out)
    status, out = call(server, "/api/researcher/participants", None, RESEARCHER_TOKEN)
    assert status == 200 and [p["participant"] for p in out["participants"]] == ["P001", "P002"]  # type: ignore[union-attr]


RESEARCHER_ENDPOINTS = [
    ("/api/researcher/participants", None),
    ("/api/researcher/codes", {"participant": "P001"}),
    ("/api/researcher/recording", {"participant": "P001", "on": False}),
]


def test_each_token_opens_only_its_own_doors(server: ServerThread) -> None:
    """Over HTTP and the WebSocket: a participant's token opens no researcher endpoint; the
    researcher's token is nobody's participant token; a WebSocket that sends data before (or
    instead of) authenticating is closed with nothing stored; secrets in a URL are ignored."""
    token = enrol(server, "P001")
    for path, body in RESEARCHER_ENDPOINTS:
        assert call(server, path, body, token)[0] == 401, path
    assert call(server, "/api/me", None, RESEARCHER_TOKEN)[0] == 401
    assert call(server, "/api/p/P001/live", None, RESEARCHER_TOKEN)[0] == 401
    assert call(server, f"/api/me?token={token}")[0] == 401
    assert call(server, f"/api/researcher/participants?token={RESEARCHER_TOKEN}")[0] == 401
    items = gatt_items(strap_packets(strap(), 3))
    for first in (
        {"auth": RESEARCHER_TOKEN},
        {"type": "batch", "sender": "phone-1", "items": items},  # data without a token
        {"auth": token[:-1]},
    ):
        with connect(f"ws://127.0.0.1:{server.port}/ws") as ws:
            ws.send(json.dumps(first))
            assert json.loads(ws.recv()) == {"type": "error", "error": "not enrolled"}
            with pytest.raises(ConnectionClosed) as closed:
                ws.send(json.dumps({"type": "batch", "sender": "phone-1", "items": items}))
                ws.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    assert _hr(server, "P001") == [] and _hr(server, "P002") == []
    # A marker or a prompt answer claimed for another pseudonym is refused too.
    marker = {"seq": 1, "t": START_NS / 1e6, "kind": "marker", "action": "start",
              "session": "rest", "participant": "P002"}  # fmt: skip
    with ws_open(server, token) as ws:
        assert send_batch(ws, [marker])["type"] == "error"
    with Store(server.store_path, readonly=True) as store:
        assert list(store.iter_events()) == []


def test_enrolment_codes_work_once_and_consent_comes_before_data(server: ServerThread) -> None:
    _, out = call(server, "/api/researcher/codes", {"participant": "P002"}, RESEARCHER_TOKEN)
    status, me = call(server, "/api/enrol", {"code": out["code"]})
    assert status == 200 and me["participant"] == "P002" and me["consent"] is None
    assert call(server, "/api/enrol", {"code": out["code"]})[0] == 403  # one-time
    assert call(server, "/api/enrol", {"code": "0000-0000-0000"})[0] == 403
    token = str(me["token"])
    with ws_open(server, token) as ws:  # no consent yet: refused, nothing stored
        reply = send_batch(ws, gatt_items(strap_packets(strap(), 5)))
        assert reply["type"] == "error" and "consent" in str(reply["error"])
    assert _hr(server, "P002") == []
    body = {"accepted": True, "version": "v0-old", "t": START_NS / 1e6}
    assert call(server, "/api/consent", body, token)[0] == 409  # not the study's form
    body["version"] = "v2-companion"
    assert call(server, "/api/consent", body, token)[0] == 200
    with ws_open(server, token) as ws:
        assert send_batch(ws, gatt_items(strap_packets(strap(), 5)))["seq"] == 5
    assert len(_hr(server, "P002")) == 5


def test_a_participant_cannot_send_or_read_as_another(server: ServerThread) -> None:
    token1 = enrol(server, "P001")
    enrol(server, "P002")
    packets = strap_packets(strap(), 5)
    with ws_open(server, token1) as ws:
        reply = send_batch(ws, gatt_items(packets), participant="P002")
        assert reply["type"] == "error"
    with ws_open(server, token1) as ws:
        spoofed = [{**i, "participant": "P002"} for i in gatt_items(packets)]
        assert send_batch(ws, spoofed)["type"] == "error"
    with ws_open(server, token1) as ws:  # (a phone clock an hour ahead)
        future = gatt_items([(time.time_ns() + 3600 * 10**9, packets[0][1])])
        assert "future" in str(send_batch(ws, future)["error"])
    assert _hr(server, "P002") == [] and _hr(server, "P001") == []
    assert call(server, "/api/p/P002/live", None, token1)[0] == 403
    assert call(server, "/api/p/P001/live", None, token1)[0] == 200
    assert call(server, "/api/p/P001/live", None, "not-a-token")[0] == 401
    with connect(f"ws://127.0.0.1:{server.port}/ws") as ws:
        ws.send(json.dumps({"auth": "not-a-token"}))
        assert json.loads(ws.recv())["type"] == "error"


def test_resent_packets_are_stored_once_and_reconnections_leave_a_gap(
    server: ServerThread,
) -> None:
    token = enrol(server, "P001")
    packets = strap_packets(strap(), 40)
    items = gatt_items(packets)
    link = {"kind": "link", "device": "d1", "state": "connected"}
    with ws_open(server, token) as ws:
        assert send_batch(ws, items[:25])["seq"] == 25
        assert send_batch(ws, items[10:30])["seq"] == 30  # 10-25 again after a lost ack
        assert send_batch(ws, items[:30])["seq"] == 30
        t = packets[30][0] / 1e6
        lost = {**link, "seq": 31, "t": t, "state": "disconnected"}
        back = {**link, "seq": 32, "t": t + 5000}
        assert send_batch(ws, [lost, back])["seq"] == 32
        assert send_batch(ws, gatt_items(packets[30:], first_seq=33))["seq"] == 42
    hr = _hr(server, "P001")
    assert [e.time_ns for e in hr] == [t for t, _ in packets]
    with Store(server.store_path, readonly=True) as store:
        statuses = [e for e in store.iter_events("P001") if isinstance(e, DeviceStatus)]
    gap = [s for s in statuses if s.state is DeviceState.GAP and s.detail == "reconnected"]
    assert len(gap) == 1 and gap[0].gap_start_ns == packets[29][0]


def test_serve_command_logs_nothing_identifying_and_mark_reaches_it(tmp_path: Path) -> None:
    """``stresstrack -v serve`` as a subprocess: after enrolment, consent and data, its output
    holds no token, code, pseudonym or device name; a ``stresstrack mark`` from another
    process reaches its pipeline within a second."""
    study = write_study(tmp_path)
    store = tmp_path / "study.db"
    port = free_port()
    env = {**os.environ, "STRESSTRACK_RESEARCHER_TOKEN": RESEARCHER_TOKEN}
    cmd = [sys.executable, "-m", "stresstrack", "-v", "serve", "--study", str(study),
           "--store", str(store), "--port", str(port)]  # fmt: skip
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = ServerThread(store, study, port)
    try:
        deadline = time.monotonic() + 60
        while answers(server) is False:
            assert time.monotonic() < deadline and proc.poll() is None, "serve did not start"
            time.sleep(0.1)
        # Live data: the phone's clock is now (the mark below is stamped now too).
        shift = time.time_ns() - 21 * 10**9 - START_NS
        token = enrol(server, "P001", at_ns=START_NS + shift)
        with ws_open(server, token) as ws:
            items = gatt_items([(t + shift, d) for t, d in strap_packets(strap(), 20)])
            items[0]["name"] = "Polar H10 1A2B3C4D"
            assert send_batch(ws, items)["seq"] == 20
            bad = {**items[1], "seq": 21, "data": "ff"}  # a bad packet is logged (not its owner)
            assert send_batch(ws, [bad])["seq"] == 21
        t0 = time.monotonic()
        mark = [sys.executable, "-m", "stresstrack", "mark", "start", "--participant", "P001",
                "--kind", "breathing", "--store", str(store)]  # fmt: skip
        before_ns = time.time_ns()
        subprocess.run(mark, check=True, capture_output=True)
        marked = time.monotonic()
        while True:
            _, out = call(server, "/api/researcher/participants", None, RESEARCHER_TOKEN)
            rows = out["participants"]
            assert isinstance(rows, list)
            if rows[0]["session"] == "breathing":
                break
            assert time.monotonic() - marked < 1.0, "the marker did not reach serve within 1 s"
            time.sleep(0.05)
        reached = time.monotonic() - marked
        with Store(store, readonly=True) as st:
            stamps = [e.time_ns for e in st.iter_events("P001") if isinstance(e, Marker)]
        stamp = stamps[-1]  # the breathing start (after the consent marker)
        assert before_ns <= stamp <= before_ns + (marked - t0) * 1e9
        print(
            f"mark ran {marked - t0:.2f} s, stamped {(stamp - before_ns) / 1e9:.2f} s after "
            f"it was started; reached serve {reached:.2f} s after it ended"
        )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        finally:
            proc.kill()
            log.close()
    text = (tmp_path / "serve.log").read_text()
    assert "participant page" in text  # it did log
    # (A bad packet's warning names the device by the random id the browser gave it.)
    for secret in (RESEARCHER_TOKEN, token, "P001", "P002", "Polar H10", "1A2B3C4D"):
        assert secret not in text, secret


def test_the_researcher_pauses_and_resumes_recording(server: ServerThread) -> None:
    token = enrol(server, "P001")
    items = gatt_items(strap_packets(strap(), 10))
    pause = {"participant": "P001", "on": False}
    assert call(server, "/api/researcher/recording", pause, RESEARCHER_TOKEN)[0] == 200
    with ws_open(server, token) as ws:
        reply = send_batch(ws, items[:5])
        assert reply["type"] == "error" and "paused" in str(reply["error"])
    assert _hr(server, "P001") == []
    resume = {"participant": "P001", "on": True}
    assert call(server, "/api/researcher/recording", resume, RESEARCHER_TOKEN)[0] == 200
    with ws_open(server, token) as ws:
        assert send_batch(ws, items)["seq"] == 10
    assert len(_hr(server, "P001")) == 10


def test_enrolment_links_use_the_public_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Behind a proxy the QR code holds the address phones open (``--public-url``), with the
    one-time code in the fragment (never sent to a server); otherwise the address the
    researcher page was opened at. A public URL that is not http(s) is refused."""
    study = write_study(tmp_path)
    public = "https://study.example.org"
    server = ServerThread(tmp_path / "c.db", study, free_port(), public_url=public)
    server.start()
    try:
        _, out = call(server, "/api/researcher/codes", {"participant": "P001"}, RESEARCHER_TOKEN)
    finally:
        server.stop()
    assert out["url"] == f"{public}/#code={out['code']}"
    assert str(out["qr"]).startswith("data:image/svg+xml")
    (tmp_path / "plain").mkdir()
    with running(tmp_path / "plain") as plain:
        _, out = call(plain, "/api/researcher/codes", {"participant": "P001"}, RESEARCHER_TOKEN)
    assert out["url"] == f"{plain.url}/#code={out['code']}"
    argv = ["serve", "--study", str(study), "--store", str(tmp_path / "x.db"),
            "--public-url", "study.example.org"]  # fmt: skip
    assert main(argv) == 2
    assert "--public-url 'study.example.org': an http(s):// address" in capsys.readouterr().err
    assert not (tmp_path / "x.db").exists()
