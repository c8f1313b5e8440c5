"""Fixtures of the MQTT tests: a broker per test (they stop it), one simulated study per session.

The study: 4 participants of the short protocol, simulated once in virtual time
(:func:`stresstrack.simulators.study.simulate_study`), and its single-process results (the
recorder over the same events), which every multi-process run must reproduce.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from servers import MosquittoServer, require_binary

from stresstrack.events import Event
from stresstrack.export import table_rows
from stresstrack.pipeline.engine import Pipeline
from stresstrack.protocol import Phase, Protocol
from stresstrack.recorder import Recorder
from stresstrack.simulators.study import StudyPlan, simulate_study
from stresstrack.store.sqlite import Store

# Deployments keep every queued message of an offline worker (docs/mqtt.md, "Broker").
BROKER_CONFIG = "max_queued_messages 0\n"

SHORT = Protocol(
    name="short",
    phases=(
        Phase("baseline", 180.0),
        Phase("stressor", 150.0),
        Phase("self-care", 180.0, mode="solo", label="serum"),
        Phase("recovery", 120.0),
    ),
)


class _Collect:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def emit(self, events: list[Event]) -> None:
        self.events.extend(events)


@dataclass(frozen=True)
class Study:
    """Simulated events per participant and the single-process results."""

    events: dict[str, list[Event]]
    features: list[list[str]]  # table_rows(store, "features") without the header
    stress: list[list[str]]
    sessions: list[list[str]]

    @property
    def participants(self) -> list[str]:
        return sorted(self.events)


@pytest.fixture(scope="session")
def study(tmp_path_factory: pytest.TempPathFactory) -> Study:
    sink = _Collect()
    simulate_study(StudyPlan(participants=4, seed=3, protocol=SHORT, prefix="sim"), sink)
    path = tmp_path_factory.mktemp("reference") / "single.db"
    with Store(path) as store:
        recorder = Recorder(store, Pipeline())
        recorder.emit(sink.events)
        recorder.close()
        tables = {t: list(table_rows(store, t))[1:] for t in ("features", "stress", "sessions")}
    by_participant: dict[str, list[Event]] = {}
    for e in sink.events:
        by_participant.setdefault(e.participant, []).append(e)
    return Study(by_participant, tables["features"], tables["stress"], tables["sessions"])


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoServer]:
    """This test's own broker (tests stop and restart it)."""
    server = MosquittoServer(
        tmp_path / "mosquitto", require_binary("mosquitto", "/usr/sbin/mosquitto"), BROKER_CONFIG
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()
