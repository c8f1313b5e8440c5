"""Shared fixtures: a short protocol so end-to-end tests stay fast."""

from __future__ import annotations

import pytest

from stresstrack.protocol import Phase, Protocol

SHORT_PROTOCOL = Protocol(
    name="short",
    phases=(
        Phase("baseline", 180.0),
        Phase("stressor", 150.0),
        Phase("self-care", 180.0, mode="solo", label="serum"),
        Phase("recovery", 120.0),
    ),
)


@pytest.fixture
def short_protocol() -> Protocol:
    return SHORT_PROTOCOL
