"""No module over 400 lines and no function over 60 without a reason at the top of its file.

The rule of issue 17, read from the source with ``ast`` by ``scripts/sizes.py`` (which also
lists the long ones: ``python3 scripts/sizes.py``). A reason is a paragraph opening with
``Size`` in the module docstring or the comments above the first statement; a long function
must be named in it.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Long and without a reason, allowed for a while when other work is rewriting that area: each
# entry must still be long (so the list only shrinks). Empty: every long item has a reason.
PENDING: frozenset[str] = frozenset()


def _sizes() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sizes", ROOT / "scripts" / "sizes.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["sizes"] = module
    spec.loader.exec_module(module)
    return module


SIZES = _sizes()


def _name(item: object) -> str:
    path, name = item.path, item.name  # type: ignore[attr-defined]
    return f"{path}:{name}" if name else str(path)


def test_every_long_module_and_function_has_a_reason() -> None:
    missing = sorted(_name(i) for i in SIZES.long_items() if not i.reasoned)
    assert [m for m in missing if m not in PENDING] == [], "write a Size reason or split"


def test_pending_entries_are_still_long() -> None:
    long = {_name(i) for i in SIZES.long_items()}
    assert sorted(PENDING - long) == [], "shorter now: drop it from PENDING"


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ('"""Doc.\n\nSize (issue 17): one class.\n"""\nx = 1\n', "Size (issue 17): one class."),
        ('"""Doc."""\n\n# Size: the parser\n# and its tables.\n\nx = 1\n',
         "Size: the parser\nand its tables."),
        ('"""Doc.\n\nSizes differ.\n"""\n', ""),  # not the word Size
        ('"""Doc.\n\nThe Size of it.\n"""\n', ""),
        ('x = 1\n# Size: after the first statement\n', ""),
    ],
)  # fmt: skip
def test_the_reason_is_read_from_the_top_of_the_file(source: str, reason: str) -> None:
    assert SIZES.size_reason(source) == reason


def test_a_long_function_needs_its_name_in_the_reason(tmp_path: Path) -> None:
    """A reason for the module does not cover a long function it does not name."""
    package = tmp_path / "pkg"
    package.mkdir()
    body = "".join(f"    x{i} = {i}\n" for i in range(61))
    (package / "a.py").write_text(f'"""A.\n\nSize: ``f`` is long.\n"""\n\n\ndef f():\n{body}')
    (package / "b.py").write_text(f'"""B.\n\nSize: ``f`` is long.\n"""\n\n\ndef g():\n{body}')
    found = {(i.path, i.name, i.lines, i.reasoned) for i in SIZES.long_items(package)}
    assert found == {("pkg/a.py", "f", 62, True), ("pkg/b.py", "g", 62, False)}
