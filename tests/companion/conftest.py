"""Real servers for the companion tests (tests/servers.py, tests/influx_adapter.py)."""

from __future__ import annotations

from influx_adapter import influx_adapter
from servers import influx_server

__all__ = ["influx_adapter", "influx_server"]
