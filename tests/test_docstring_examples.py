"""Every ``>>>`` example in the package's docstrings runs and prints what it claims.

This is pytest's ``--doctest-modules`` over ``stresstrack``, written as a parametrised test so
that it runs from the ``tests`` folder, in the same suite and environment as everything else.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import stresstrack


def _modules() -> list[str]:
    return sorted(
        m.name
        for m in pkgutil.walk_packages(stresstrack.__path__, prefix="stresstrack.")
        if not m.name.endswith("__main__")
    )


def _examples() -> list[tuple[str, doctest.DocTest]]:
    finder = doctest.DocTestFinder(exclude_empty=True)
    found: list[tuple[str, doctest.DocTest]] = []
    for name in _modules():
        module = importlib.import_module(name)
        for test in finder.find(module, name):
            if test.examples and test.name.startswith(name):
                found.append((test.name, test))
    return found


EXAMPLES = _examples()


def test_the_package_has_examples() -> None:
    assert len(EXAMPLES) >= 20, [name for name, _ in EXAMPLES]


@pytest.mark.parametrize("test", [t for _, t in EXAMPLES], ids=[n for n, _ in EXAMPLES])
def test_docstring_example(test: doctest.DocTest) -> None:
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    out: list[str] = []
    runner.run(test, out=out.append)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, "".join(out)
