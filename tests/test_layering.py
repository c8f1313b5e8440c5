"""The package's layers, read from its ``import`` statements: one-way, no cycles.

Every ``import``/``from … import`` of a ``stresstrack`` module anywhere in a file (function-level
imports included) is an edge from the importing file's top-level package ("layer") to the imported
one. The root package ``stresstrack`` (the public facade and ``__version__``) is left out: it may
re-export anything, and anything may read the version.
"""

from __future__ import annotations

import ast
import graphlib
from collections import defaultdict
from pathlib import Path

import stresstrack

PACKAGE = Path(stresstrack.__file__).parent

# The core must not know about its entry points and edges (issue 17).
CORE = ("sensors", "pipeline", "store", "events", "errors", "clock")
EDGES = (
    "cli", "replay", "transport", "report", "dashboards", "sinks", "simulators", "export",
    # The core sits below the session layer (recorder, protocol) and the runtime that wires it:
    # a device's decoder hands events to any EventSink (events.py), not to the recorder.
    "session", "runtime",
)  # fmt: skip


def _imported(path: Path) -> set[str]:
    """Absolute ``stresstrack.*`` module names imported anywhere in ``path``."""
    rel = path.relative_to(PACKAGE.parent).with_suffix("").parts
    package = list(rel if path.name == "__init__.py" else rel[:-1])
    if path.name == "__init__.py":
        package = package[:-1]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                name = ".".join([*base, *([node.module] if node.module else [])])
            else:
                name = node.module or ""
            names.add(name)
            # ``from stresstrack import pipeline`` imports a layer, not the facade.
            if name == "stresstrack":
                names.update(f"stresstrack.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return {n for n in names if n == "stresstrack" or n.startswith("stresstrack.")}


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def layer_graph() -> dict[str, set[str]]:
    """Layer → the other layers it imports."""
    graph: dict[str, set[str]] = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).with_suffix("").parts
        source = rel[0]
        if source in ("__init__", "__main__"):
            continue
        graph[source]
        for name in _imported(path):
            target = _layer(name)
            if target is not None and target != source:
                graph[source].add(target)
    return dict(graph)


def test_layers_form_no_cycle() -> None:
    graph = layer_graph()
    sorter = graphlib.TopologicalSorter(graph)
    try:
        order = list(sorter.static_order())
    except graphlib.CycleError as err:
        raise AssertionError(f"import cycle between layers: {err.args[1]}") from None
    assert set(graph) <= set(order)


def test_core_never_imports_entry_points_or_edges() -> None:
    graph = layer_graph()
    wrong = {
        (layer, target) for layer in CORE for target in graph.get(layer, set()) if target in EDGES
    }
    assert not wrong, f"core layers import outer layers: {sorted(wrong)}"


def test_the_check_sees_real_edges() -> None:
    """The graph is read from real files: known edges are present (the test can fail)."""
    graph = layer_graph()
    assert "pipeline" in graph["store"] or "events" in graph["store"]
    assert "store" in graph["cli"]
