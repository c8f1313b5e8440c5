"""Fixtures of the MQTT tests: a broker per test (they stop it), one simulated study per session.

The study: 4 participants of the short protocol, simulated once in virtual time
(:func:`stresstrack.simulators.study.simulate_study`), and its single-process results (the
recorder over the same events), which every multi-process run must reproduce.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from influx_adapter import influx_adapter
from mqtt_link import Study
from servers import InfluxServer, MosquittoServer, influx_server, require_binary
from support_protocols import SHORT_PROTOCOL

from stresstrack.events import Event
from stresstrack.export.tables import table_rows
from stresstrack.pipeline.engine import Pipeline
from stresstrack.session.recorder import Recorder
from stresstrack.simulators.study import StudyPlan, simulate_study
from stresstrack.store.sqlite import Store

__all__ = ["broker", "influx_adapter", "influx_db", "influx_server", "study"]

# Deployments keep every queued message of an offline worker (docs/mqtt.md, "Broker").
BROKER_CONFIG = "max_queued_messages 0\n"

SHORT = SHORT_PROTOCOL


class _Collect:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def emit(self, events: Sequence[Event]) -> None:
        self.events.extend(events)


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
        points = {(s.participant, s.time_ns, s.index, s.confidence) for s in store.stress()}
    return Study(sink.events, tables["features"], tables["stress"], tables["sessions"], points)


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


_db_numbers = itertools.count(1)


@pytest.fixture
def influx_db(influx_server: InfluxServer) -> Iterator[str]:
    """A fresh database on the session's influxd."""
    name = f"mqtt_{next(_db_numbers)}"
    influx_server.query(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        influx_server.query(f'DROP DATABASE "{name}"')
