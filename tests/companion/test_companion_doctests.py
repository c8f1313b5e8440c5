"""The examples in the docstrings of the companion's modules run and give what they show."""

from __future__ import annotations

import doctest

from stresstrack.companion import prompts, settings
from stresstrack.pipeline import latest


def test_docstring_examples() -> None:
    for module in (prompts, settings, latest):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, (module.__name__, result)
