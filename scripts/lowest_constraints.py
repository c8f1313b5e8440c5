"""Print a pip constraints file pinning every runtime dependency to its declared lower bound.

CI installs the package once with these pins (``pip install -c FILE -e '.[test]'``) and runs the
suite, which proves that the lower bounds in ``pyproject.toml`` are ones the code works with.
Only ``>=`` bounds are pinned; ``==`` pins and unbounded requirements are left as they are.

With ``--test`` the test extra's bounds are pinned too (pytest, pytest-asyncio, hypothesis,
playwright, zxing-cpp, pingouin, sleepecg, heartpy, jsonschema, pyyaml, trustme...), so the
references the tests compare against are checked at their lowest versions as well. Not the
linters (``TOOLS``): ruff and mypy run once, on the latest versions (``scripts/test``), and
an older ruff or mypy judges the same code differently, which says nothing about the code.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

TOOLS = frozenset({"ruff", "mypy", "pandas-stubs"})
_REQ = re.compile(r"^\s*([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*(.*)$")


def lowest(requirement: str) -> str | None:
    """``name==X`` for a requirement with ``>=X``, else ``None``.

    >>> lowest("numpy>=2.0")
    'numpy==2.0'
    >>> lowest("bleak>=1.0,<2")
    'bleak==1.0'
    >>> lowest("grafana-foundation-sdk==1769699379!11.6.0") is None
    True
    """
    match = _REQ.match(requirement.split(";")[0])
    if match is None:
        return None
    name, spec = match.groups()
    for part in spec.split(","):
        part = part.strip()
        if part.startswith(">="):
            return f"{name}=={part[2:].strip()}"
    return None


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    project = tomllib.loads(Path("pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = list(project["dependencies"])
    if "--test" in words:
        requirements += [
            r
            for r in project["optional-dependencies"]["test"]
            if (m := _REQ.match(r)) is None or m.group(1).lower() not in TOOLS
        ]
    pins = dict.fromkeys(p for p in map(lowest, requirements) if p is not None)
    for pin in pins:
        print(pin)
    return 0


if __name__ == "__main__":
    sys.exit(main())
