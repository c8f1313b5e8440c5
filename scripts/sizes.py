"""List the package's modules over 400 lines and functions over 60, and whether each has a reason.

The house rule (issue 17): no module over ~400 lines, no function over ~60, except where a reason
is written at the top of the file. A reason is a paragraph of the module docstring, or a comment
block before the first statement, that starts with ``Size`` (e.g. ``Size (issue 17): over 400
lines because ...``); for a long function the paragraph must also name it.

    python3 scripts/sizes.py            # every long module and function, reasoned or not
    python3 scripts/sizes.py --missing  # only those without a reason; exit 1 if any

``tests/test_sizes.py`` runs the same check, so the rule stays true.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
PACKAGE = Path(__file__).resolve().parent.parent / "stresstrack"


@dataclass(frozen=True)
class Long:
    """One module or function over its limit."""

    path: str  # relative to the repository
    name: str  # "" for the module itself, else the function's qualified name
    lines: int
    reasoned: bool

    def __str__(self) -> str:
        what = f"{self.path}:{self.name}" if self.name else self.path
        return f"{self.lines:5d}  {what}{'' if self.reasoned else '  (no reason)'}"


def size_reason(source: str) -> str:
    """The ``Size`` paragraphs at the top of a module (docstring or leading comments), or ``""``.

    >>> size_reason('\"\"\"Doc.\\n\\nSize (issue 17): one class, ``f`` long.\\n\"\"\"\\nx = 1\\n')
    'Size (issue 17): one class, ``f`` long.'
    >>> size_reason("x = 1\\n# Size: too late\\n")
    ''
    """
    tree = ast.parse(source)
    first = tree.body[0] if tree.body else None
    end = 0
    if first is not None:
        is_doc = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
        end = (first.end_lineno or 0) if is_doc else first.lineno - 1
        if is_doc and len(tree.body) > 1:
            end = tree.body[1].lineno - 1
    # Paragraphs of the top (comment markers and quotes dropped), those opening with "Size".
    top = [re.sub(r'^\s*(#\s?|"""|\'\'\')?', "", line) for line in source.splitlines()[:end]]
    paragraphs = re.split(r"\n\s*\n", "\n".join(line.rstrip() for line in top))
    return "\n".join(p.strip() for p in paragraphs if re.match(r"\s*Size\b", p))


Function = ast.FunctionDef | ast.AsyncFunctionDef


def _functions(tree: ast.Module) -> Iterator[tuple[str, Function]]:
    """Every function and method with its qualified name (``Class.method``, ``outer.inner``)."""

    def walk(node: ast.AST, prefix: str) -> Iterator[tuple[str, Function]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                yield prefix + child.name, child
                yield from walk(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                yield from walk(child, f"{prefix}{child.name}.")
            else:
                yield from walk(child, prefix)

    yield from walk(tree, "")


def long_items(package: Path = PACKAGE) -> list[Long]:
    """Every module over ``MAX_MODULE_LINES`` and function over ``MAX_FUNCTION_LINES``."""
    found: list[Long] = []
    root = package.parent
    for path in sorted(package.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        rel = path.relative_to(root).as_posix()
        reason = size_reason(source)
        lines = len(source.splitlines())
        if lines > MAX_MODULE_LINES:
            found.append(Long(rel, "", lines, bool(reason)))
        for name, node in _functions(ast.parse(source)):
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            length = (node.end_lineno or node.lineno) - start + 1
            if length > MAX_FUNCTION_LINES:
                short = name.rsplit(".", 1)[-1]
                named = re.search(rf"\b{re.escape(short)}\b", reason) is not None
                found.append(Long(rel, name, length, named))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--missing", action="store_true", help="only those without a reason")
    args = parser.parse_args(argv)
    items = long_items()
    shown = [i for i in items if not i.reasoned] if args.missing else items
    print(f"modules over {MAX_MODULE_LINES} lines:")
    for item in sorted((i for i in shown if not i.name), key=lambda i: -i.lines):
        print(item)
    print(f"functions over {MAX_FUNCTION_LINES} lines:")
    for item in sorted((i for i in shown if i.name), key=lambda i: -i.lines):
        print(item)
    return 1 if args.missing and shown else 0


if __name__ == "__main__":
    sys.exit(main())
