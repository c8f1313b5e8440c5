"""Shared fixtures: a short protocol so end-to-end tests stay fast."""

from __future__ import annotations

import pytest
from support_protocols import SHORT_PROTOCOL

from stresstrack.session.protocol import Protocol


@pytest.fixture
def short_protocol() -> Protocol:
    return SHORT_PROTOCOL
