"""The examples in the docstrings of the session modules run and give what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = (
    "stresstrack.analysis.power",
    "stresstrack.analysis.stats",
    "stresstrack.cli.mark",
    "stresstrack.protocol",
    "stresstrack.report.html",
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0, result
