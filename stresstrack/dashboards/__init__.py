"""Grafana dashboards as code (grafana-foundation-sdk), their provisioning, and push.

``build_dashboards()`` returns the participant, cohort, sessions and days dashboards; every panel
and annotation queries InfluxDB in InfluxQL (:mod:`stresstrack.dashboards.influxql`) following
docs/schema.md. ``stresstrack dashboards export DIR`` writes them as Grafana provisioning
(:mod:`stresstrack.dashboards.provisioning`); ``stresstrack dashboards push`` uploads them
(:mod:`stresstrack.dashboards.push`).
"""

from __future__ import annotations

from grafana_foundation_sdk.models.dashboard import Dashboard

from stresstrack.dashboards import cohort, days, participant, sessions
from stresstrack.dashboards.influxql import (
    DATASOURCE_UID,
    InfluxQuery,
    InfluxQueryBuilder,
    TimeRange,
    interpolate,
)

__all__ = [
    "DATASOURCE_UID",
    "InfluxQuery",
    "InfluxQueryBuilder",
    "TimeRange",
    "build_dashboards",
    "interpolate",
]


def build_dashboards() -> dict[str, Dashboard]:
    """The dashboards by file stem (``participant``, ``cohort``, ``sessions``, ``days``)."""
    return {
        "participant": participant.build(),
        "cohort": cohort.build(),
        "sessions": sessions.build(),
        "days": days.build(),
    }
