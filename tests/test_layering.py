"""The package is layered: every import inside ``python/hepsift`` goes down (or sideways without a
cycle), never up. Apps (the ``hepsift`` command, the demo) sit on top of the library.

The scan reads every ``import`` and ``from ... import`` of every module with :mod:`ast`, also those
inside functions (lazy imports count: a function-level import of a higher layer is a cycle
waiting to happen), and ``importlib.import_module("hepsift....")`` with a literal name.
A unit is a sub-package (``hepsift/stats/``) or a top-level module (``hepsift/_atomic.py``).

To add a unit, put it into :data:`LAYERS`: in the lowest layer above everything it imports.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "python" / "hepsift"

#: Units from the bottom up. A unit may import units of its own layer (without a cycle between
#: them) and of the layers below it.
LAYERS: list[tuple[str, ...]] = [
    ("errors", "_version"),                                             # no hepsift imports
    ("hepsift", "_deps", "_paths", "_atomic", "_workers", "_missing", "_torch", "_saved"),  # owners
    ("io", "export", "_estimator"),                                     # files: events, ONNX; the estimator base
    ("rdf", "stats", "metrics", "data", "images"),                      # scoring, statistics, data sets, images
    ("models", "anomaly", "generative", "nplm", "tune", "weak", "events", "generate"),  # learners, generators
    ("demo", "cli"),                                                    # apps
]
LAYER = {unit: level for level, units in enumerate(LAYERS) for unit in units}


def _unit_of_file(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    if len(rel.parts) > 1:
        return rel.parts[0]
    return "hepsift" if rel.stem == "__init__" else rel.stem


def _module_of_file(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported_units(path: Path) -> Iterator[tuple[int, str, str]]:
    """(line, imported module, unit) for every hepsift import of one file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    here = _module_of_file(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            # ``from hepsift import stats`` imports the unit ``stats``
            targets = [f"{base}.{a.name}" for a in node.names] if base == "hepsift" else [base]
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "import_module" and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)):
            targets = [node.args[0].value]
        for target in targets:
            parts = target.split(".")
            if parts[0] != "hepsift":
                continue
            # a name that is no unit is defined in hepsift/__init__.py (``from hepsift import load``)
            unit = parts[1] if len(parts) > 1 and parts[1] in LAYER else "hepsift"
            yield node.lineno, target, unit


def _scan() -> tuple[list[str], dict[tuple[str, str], list[str]]]:
    problems: list[str] = []
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in sorted(PACKAGE.rglob("*.py")):
        src = _unit_of_file(path)
        where = path.relative_to(PACKAGE.parents[1])
        if src not in LAYER:
            problems.append(f"{where}: unit '{src}' is in no layer; add it to LAYERS in tests/test_layering.py")
            continue
        for line, target, dst in _imported_units(path):
            if dst == src:
                continue
            if dst not in LAYER:
                problems.append(f"{where}:{line}: imports {target}, whose unit '{dst}' is in no layer")
                continue
            edges[(src, dst)].append(f"{where}:{line}")
            if LAYER[dst] > LAYER[src]:
                problems.append(f"{where}:{line}: '{src}' (layer {LAYER[src]}) imports {target} "
                                f"(unit '{dst}', layer {LAYER[dst]}): an import of a higher layer")
    return problems, edges


def _cycles(edges: dict[tuple[str, str], list[str]]) -> list[list[str]]:
    """Strongly connected components with more than one unit (Tarjan)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for a, b in edges:
        graph[a].add(b)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_layers_name_every_unit_once():
    units = [u for layer in LAYERS for u in layer]
    assert len(units) == len(set(units))
    present = {_unit_of_file(p) for p in PACKAGE.rglob("*.py")}
    assert sorted(present - set(units)) == [], "units missing from LAYERS"
    assert sorted(set(units) - present) == [], "LAYERS names units that do not exist"


def test_no_import_goes_up_a_layer():
    problems, _ = _scan()
    if problems:
        pytest.fail("imports against the layers (fix the code: move it down, or the app code up into "
                    "hepsift/cli or hepsift/demo):\n  " + "\n  ".join(problems))


def test_no_cycle_between_units():
    _, edges = _scan()
    cycles = _cycles(edges)
    if cycles:
        lines = []
        for component in cycles:
            lines.append(" <-> ".join(component))
            for (a, b), sites in sorted(edges.items()):
                if a in component and b in component:
                    lines.append(f"    {a} -> {b}: {', '.join(sites)}")
        pytest.fail("import cycles between units:\n  " + "\n  ".join(lines))


def test_the_scan_sees_function_level_and_relative_imports(tmp_path, monkeypatch):
    # the checks above are only as good as the scan: it must find lazy and relative imports
    pkg = tmp_path / "hepsift"
    (pkg / "stats").mkdir(parents=True)
    (pkg / "io").mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "io" / "__init__.py").write_text("")
    (pkg / "stats" / "__init__.py").write_text(
        "import numpy\n"
        "def f():\n"
        "    from hepsift.cli import main\n"
        "    import hepsift.demo.chain\n"
        "    from ..io import root\n"
        "    from hepsift import io, load\n"
        "    importlib.import_module('hepsift.models')\n"
        "    from hepsift import _atomic\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", pkg)
    found = sorted(_imported_units(pkg / "stats" / "__init__.py"))
    assert found == [(3, "hepsift.cli", "cli"), (4, "hepsift.demo.chain", "demo"), (5, "hepsift.io", "io"),
                     (6, "hepsift.io", "io"), (6, "hepsift.load", "hepsift"), (7, "hepsift.models", "models"),
                     (8, "hepsift._atomic", "_atomic")]
    assert _cycles({("a", "b"): ["x:1"], ("b", "c"): ["x:2"], ("c", "a"): ["x:3"], ("c", "d"): ["x:4"]}) == [
        ["a", "b", "c"]]
