"""The examples in the docstrings of the dashboards' modules and the harness ports run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = (
    "stresstrack.dashboards.downsampling",
    "stresstrack.sinks.points",
    "stresstrack.cli.doctor",
    "grafana_harness.backend",
    "grafana_harness.frontend",
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0, result
