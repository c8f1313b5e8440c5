"""Real servers for the storage tests (tests/servers.py, tests/influx_adapter.py)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from influx_adapter import influx_adapter
from servers import InfluxServer, influx_server

__all__ = ["influx_adapter", "influx_db", "influx_server"]

_db_numbers = itertools.count(1)


@pytest.fixture
def influx_db(influx_server: InfluxServer) -> Iterator[str]:
    """A fresh, empty database on the session's influxd (the bucket of one test)."""
    name = f"test_{next(_db_numbers)}"
    influx_server.query(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        influx_server.query(f'DROP DATABASE "{name}"')
