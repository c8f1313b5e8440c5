"""Fixtures of the dashboard tests: a real influxd (tests/servers.py) holding a simulated study."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dashboard_study import LoadedStudy, load_study
from servers import InfluxServer, influx_server

__all__ = ["influx_server", "loaded_study"]


@pytest.fixture(scope="module")
def loaded_study(
    influx_server: InfluxServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LoadedStudy]:
    study = load_study(influx_server, tmp_path_factory.mktemp("dashboards") / "study.db")
    try:
        yield study
    finally:
        influx_server.query(f'DROP DATABASE "{study.db}"')
