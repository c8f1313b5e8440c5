"""The examples in the docstrings of the integration modules run and give what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = (
    "stresstrack.bids",
    "stresstrack.kubios",
    "stresstrack.lsl.inlet",
    "stresstrack.lsl.streams",
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0, result
