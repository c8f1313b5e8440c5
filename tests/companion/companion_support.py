"""Shared by the companion tests: a study file, strap bytes from the simulator, a server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import uvicorn
from websockets.sync.client import ClientConnection, connect

from stresstrack.clock import VirtualClock
from stresstrack.companion.app import create_app
from stresstrack.companion.runtime import Companion
from stresstrack.companion.settings import parse_companion
from stresstrack.pipeline.engine import PipelineConfig
from stresstrack.session.protocol import Phase, Protocol
from stresstrack.simulators.peripherals import Faults, SimulatedHeartRateStrap
from stresstrack.simulators.physiology import ParticipantModel, ParticipantParams
from stresstrack.store.sqlite import Store

RESEARCHER_TOKEN: Final = "researcher-token-for-tests-0123456789"
START_NS: Final = 1_780_000_000 * 10**9  # 2026-05-28 20:26:40 UTC
CONFIG: Final = PipelineConfig(baseline_s=120.0)

STUDY_TOML: Final = """
[study]
name = "companion-test"

[[participant]]
id = "P001"
arm = "serum"
consent_date = 2026-01-05
consent_version = "v1"

[[participant]]
id = "P002"

[consent]
version = "v2-companion"
text = "We record your heart rhythm while you wear the band. You can stop at any time."

[companion]
show_stress = true

[[companion.session]]
kind = "self-care"
mode = "solo"
label = "serum"
minutes = 10
title = "Serum ritual"

[[companion.session]]
kind = "rest"
title = "Rest"

[prompt]
threshold = 65
# A strap alone (HR and RMSSD: 2 of the index's 3.5 weights, at most 0.57) on the tests'
# 2 min baseline (√(2/4) = 0.71, docs/stress-index.md) gives about 0.28 during the stressor.
min_confidence = 0.2
sustained_min = 1
min_gap_min = 5
max_per_day = 4
probability = 1.0
kind = "self-care"
mode = "solo"
message = "Your body seems busy. A few calm minutes for yourself?"
"""

# Rest (the baseline), then a stressor the prompt rule notices, then rest again.
STRESS_RISE: Final = Protocol(
    name="rise",
    phases=(Phase("rest", 240.0), Phase("stressor", 300.0), Phase("rest", 60.0)),
)


def write_study(tmp: Path, text: str = STUDY_TOML) -> Path:
    path = tmp / "study.toml"
    path.write_text(text, encoding="utf-8")
    return path


def strap(protocol: Protocol = STRESS_RISE, seed: int = 7) -> SimulatedHeartRateStrap:
    model = ParticipantModel(protocol, ParticipantParams(), seed)
    return SimulatedHeartRateStrap(
        address="C0:FF:EE:00:00:01",
        name="Sim HRM",
        clock=VirtualClock(START_NS),
        start_ns=START_NS,
        faults=Faults(seed=seed),
        model=model,
    )


class StrapFeed:
    """(receive time ns, notification bytes) of a simulated strap, as the bleak simulator sends
    them: its own schedule (``ticks``) and encoder, on a virtual clock."""

    def __init__(self, s: SimulatedHeartRateStrap) -> None:
        self.strap = s
        clock = s.clock
        assert isinstance(clock, VirtualClock)
        self.clock = clock
        self._ticks = s.ticks()
        self._held: tuple[int, bytes] | None = None

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        for delay, packets in self._ticks:
            self.clock.advance(delay)
            for _uuid, make in packets:
                data = make()
                if data is not None:
                    yield self.clock.now_ns(), data

    def until(self, seconds: float) -> list[tuple[int, bytes]]:
        """The packets up to ``seconds`` after the strap's start (continuing the last call)."""
        end = START_NS + round(seconds * 1e9)
        out = []
        if self._held is not None:
            if self._held[0] > end:
                return out
            out.append(self._held)
            self._held = None
        for item in self:
            if item[0] > end:
                self._held = item
                break
            out.append(item)
        return out


def strap_packets(s: SimulatedHeartRateStrap, seconds: float) -> list[tuple[int, bytes]]:
    """The first ``seconds`` of a fresh strap's packets."""
    return StrapFeed(s).until(seconds)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerThread:
    """``stresstrack serve``'s app on a real uvicorn in a thread (stoppable: outages)."""

    store_path: Path
    study_path: Path
    port: int
    config: PipelineConfig = CONFIG
    public_url: str = ""

    def __post_init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._server: uvicorn.Server | None = None
        self._ready = threading.Event()
        self.error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._ready.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(60) or self.error is not None:
            raise RuntimeError(f"server did not start: {self.error!r}")

    def _run(self) -> None:
        try:
            settings = parse_companion(self.study_path.read_text(), str(self.study_path))
            with Store(self.store_path) as store:
                companion = Companion(
                    store, settings, config=self.config, researcher_token=RESEARCHER_TOKEN
                )
                config = uvicorn.Config(
                    create_app(companion, poll_s=0.2, public_url=self.public_url),
                    host="127.0.0.1",
                    port=self.port,
                    access_log=False,
                    log_level="warning",
                    ws="websockets-sansio",
                    lifespan="on",
                )
                self._server = uvicorn.Server(config)
                loop = asyncio.new_event_loop()
                task = loop.create_task(self._server.serve())

                async def ready() -> None:
                    while not (self._server and self._server.started) and not task.done():
                        await asyncio.sleep(0.02)
                    self._ready.set()

                loop.run_until_complete(ready())
                loop.run_until_complete(task)
                loop.close()
        except BaseException as exc:
            self.error = exc
            self._ready.set()

    def stop(self) -> None:
        assert self._server is not None and self._thread is not None
        self._server.should_exit = True
        self._thread.join(60)
        assert not self._thread.is_alive(), "server did not stop"
        if self.error is not None:
            raise self.error


@contextlib.contextmanager
def running(tmp: Path, *, study: str = STUDY_TOML) -> Iterator[ServerThread]:
    server = ServerThread(tmp / "companion.db", write_study(tmp, study), free_port())
    server.start()
    try:
        yield server
    finally:
        with contextlib.suppress(AssertionError):
            server.stop()


def call(
    server: ServerThread, path: str, body: object = None, token: str | None = None
) -> tuple[int, dict[str, object]]:
    """An HTTP request to the server: (status, JSON body)."""
    import json
    import urllib.error
    import urllib.request

    headers = {"content-type": "application/json"}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(server.url + path, data=data, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read())


def enrol(
    server: ServerThread, participant: str, *, consent: bool = True, at_ns: int = START_NS
) -> str:
    """Enrol ``participant`` (and record their consent): returns their access token."""
    body = {"participant": participant}
    status, out = call(server, "/api/researcher/codes", body, RESEARCHER_TOKEN)
    assert status == 200, out
    status, me = call(server, "/api/enrol", {"code": out["code"]})
    assert status == 200, me
    token = me["token"]
    assert isinstance(token, str)
    if consent:
        body = {"accepted": True, "version": "v2-companion", "t": at_ns / 1e6}
        status, me = call(server, "/api/consent", body, token)
        assert status == 200, me
    return token


@contextlib.contextmanager
def ws_open(server: ServerThread, token: str) -> Iterator[ClientConnection]:
    with connect(f"ws://127.0.0.1:{server.port}/ws") as ws:
        ws.send(json.dumps({"auth": token}))
        assert json.loads(ws.recv())["type"] == "hello"
        yield ws


def gatt_items(packets: list[tuple[int, bytes]], first_seq: int = 1) -> list[dict[str, object]]:
    return [
        {"seq": first_seq + i, "t": t / 1e6, "kind": "gatt", "device": "d1", "uuid": "2a37",
         "data": data.hex()}
        for i, (t, data) in enumerate(packets)
    ]  # fmt: skip


def send_batch(
    ws: ClientConnection, items: list[dict[str, object]], **extra: object
) -> dict[str, object]:
    ws.send(json.dumps({"type": "batch", "sender": "phone-1", "items": items, **extra}))
    while True:
        reply: dict[str, object] = json.loads(ws.recv())
        if reply["type"] in ("ack", "error"):
            return reply


def answers(server: ServerThread) -> bool:
    try:
        return call(server, "/api/researcher/participants", None, RESEARCHER_TOKEN)[0] == 200
    except OSError:
        return False
