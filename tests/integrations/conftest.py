"""A demo store shared by the BIDS, Kubios and API tests (the real ``demo`` command)."""

from __future__ import annotations

from pathlib import Path

import pytest

from stresstrack.cli import main


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``stresstrack demo --participants 2`` with the default protocol (18 min each)."""
    out = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--out", str(out), "--participants", "2", "--seed", "3"]) == 0
    return out / "stresstrack.db"
