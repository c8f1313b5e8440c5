"""Protocols shared by tests (a module of its own: several folders have a conftest.py)."""

from __future__ import annotations

from stresstrack.session.protocol import Phase, Protocol

SHORT_PROTOCOL = Protocol(
    name="short",
    phases=(
        Phase("baseline", 180.0),
        Phase("stressor", 150.0),
        Phase("self-care", 180.0, mode="solo", label="serum"),
        Phase("recovery", 120.0),
    ),
)
