"""The project's packages form layers: a package imports only from the layers below it.

Every import is read from the source with ``ast`` (imports inside functions and under
``TYPE_CHECKING`` count too: a lazy import is still a dependency), so nothing is imported to run
these checks. Entry points (the top-level scripts, ``<package>/__main__.py`` and
``<package>/command.py``) sit above every layer: they may import anything, and nothing imports
them. A new package fails ``test_every_package_has_a_layer`` until it is given a place in LAYERS.
"""
from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOT_PROJECT = {"tests", "benchmarks", "scripts", "docs", "configs", "slurm"}
LIBRARY_MODULES = {"user_errors"}  # top-level modules that are library code, not commands
ENTRY_FILES = {"__main__.py", "command.py"}

# Lowest first. A package may import packages of lower layers only, so packages that share a layer
# are independent of each other.
LAYERS: list[tuple[str, ...]] = [
    ("user_errors",),  # the one-sentence user error every command reports
    ("corpora",),  # corpus readers, native labels -> canonical emotions
    ("data_preparation",),  # decode, clean, split and write shards; the input contract
    ("datamodules", "evaluation", "lightning_modules"),  # stream shards | score logits | module + networks
    ("callbacks", "classical", "explanations"),  # training-time hooks | sklearn baselines | Grad-CAM, attribution
    ("training",),  # run assembly: CLI, loggers, checkpoints, resume, preemption
    ("export", "prediction", "protocols"),  # transformers/ONNX export | load any trained model | k-fold protocols
    ("ensemble", "serving"),  # fit ensembles of predictors | the web page over a predictor
]
# lightning_modules/ holds the LightningModule and its networks; run assembly reaches into the rest.
LIGHTNING_MODULES_MUST_NOT_IMPORT = ("training", "callbacks", "datamodules")


def project_units() -> tuple[set[str], set[str]]:
    """(library units: packages and library top-level modules, entry top-level scripts)."""
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py") if p.parent.name not in NOT_PROJECT}
    scripts = {p.stem for p in ROOT.glob("*.py")}
    return packages | (scripts & LIBRARY_MODULES), scripts - LIBRARY_MODULES


LIBRARY, ENTRY_SCRIPTS = project_units()


def source_files() -> list[Path]:
    files = list(ROOT.glob("*.py"))
    for unit in sorted(LIBRARY):
        if (ROOT / unit).is_dir():
            files += [p for p in (ROOT / unit).rglob("*.py") if ".venv" not in p.parts]
    return sorted(files)


def is_entry(path: Path) -> bool:
    relative = path.relative_to(ROOT)
    return (len(relative.parts) == 1 and relative.stem in ENTRY_SCRIPTS) or relative.name in ENTRY_FILES


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def imported_modules(path: Path) -> list[tuple[str, int]]:
    """Absolute names of everything ``path`` imports, anywhere in the file, with line numbers."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module_name(path).split(".")[:-1] if path.name != "__init__.py" else module_name(path).split(".")
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            name = ".".join([*base, node.module] if node.module else base)
            found.append((name, node.lineno))
    return found


def unit_of(module: str) -> str:
    return module.split(".")[0]


def dependencies() -> tuple[dict[str, dict[str, list[str]]], list[str]]:
    """(unit -> imported unit -> ["file:line", ...] for library code, imports of entry points)."""
    graph: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    entry_imports = []
    for path in source_files():
        if is_entry(path):
            continue
        source = unit_of(module_name(path))
        for name, line in imported_modules(path):
            target = unit_of(name)
            where = f"{path.relative_to(ROOT)}:{line}"
            if target in ENTRY_SCRIPTS or (target in LIBRARY and name.rsplit(".", 1)[-1] in {"__main__", "command"}):
                entry_imports.append(f"{where} imports the entry point {name}")
            elif target in LIBRARY and target != source:
                graph[source][target].append(where)
    return graph, entry_imports


GRAPH, ENTRY_IMPORTS = dependencies()


def shortest_cycle(graph: dict[str, dict[str, list[str]]], start: str) -> list[str] | None:
    """The shortest import circle through ``start`` as [start, ..., start], or None."""
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph.get(node, {})):
                if nxt == start:
                    chain = [node]
                    while chain[-1] != start:
                        chain.append(parents[chain[-1]])
                    return [*reversed(chain), start]
                if nxt not in parents:
                    parents[nxt] = node
                    following.append(nxt)
        frontier = following
    return None


def rotated(cycle: list[str]) -> tuple[str, ...]:
    """The circle started at its alphabetically first package, so one circle is listed once."""
    ring = cycle[:-1]
    first = ring.index(min(ring))
    return tuple(ring[first:] + ring[:first] + [ring[first]])


def tangles(graph: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """Groups of packages that all reach each other (each group holds at least one circle)."""
    def reach(start: str) -> set[str]:
        seen, pending = set(), [start]
        while pending:
            for nxt in graph.get(pending.pop(), {}):
                if nxt not in seen:
                    seen.add(nxt)
                    pending.append(nxt)
        return seen

    reachable = {unit: reach(unit) for unit in graph}
    groups = {frozenset({u} | {v for v in reachable[u] if u in reachable.get(v, ())}) for u in graph if u in reachable[u]}
    return sorted(sorted(group) for group in groups)


def describe(path: list[str]) -> str:
    return "; ".join(f"{a} -> {b} ({', '.join(GRAPH[a][b][:3])})" for a, b in zip(path, path[1:]))


def test_the_imports_are_read() -> None:
    # guards the parser: if it stopped seeing imports, every check below would pass vacuously
    assert GRAPH["prediction"]["lightning_modules"] and GRAPH["training"]["callbacks"], dict(GRAPH)
    assert "data_preparation" in GRAPH["prediction"] and "corpora" in GRAPH["data_preparation"]


def test_no_import_circle_between_packages() -> None:
    circles = []
    for group in tangles(GRAPH):
        cycles = {rotated(shortest_cycle(GRAPH, unit)) for unit in group}
        circles.append(f"tangled: {', '.join(group)}")
        circles += [f"  {' -> '.join(cycle)}: {describe(list(cycle))}" for cycle in sorted(cycles, key=len)]
    assert not circles, "import circles:\n" + "\n".join(circles)


def test_lightning_modules_imports_no_run_assembly() -> None:
    bad = {t: GRAPH["lightning_modules"][t] for t in LIGHTNING_MODULES_MUST_NOT_IMPORT if t in GRAPH["lightning_modules"]}
    assert not bad, f"lightning_modules/ must not import {LIGHTNING_MODULES_MUST_NOT_IMPORT}: {bad}"


def test_every_package_has_a_layer() -> None:
    placed = [unit for layer in LAYERS for unit in layer]
    assert len(placed) == len(set(placed)), f"a unit is in two layers: {placed}"
    assert set(placed) == LIBRARY, (
        f"not in LAYERS: {sorted(LIBRARY - set(placed))}; in LAYERS but not in the tree: {sorted(set(placed) - LIBRARY)}"
    )


@pytest.mark.parametrize("unit", [unit for layer in LAYERS for unit in layer])
def test_a_package_imports_only_lower_layers(unit: str) -> None:
    level = {name: index for index, layer in enumerate(LAYERS) for name in layer}
    upward = {t: w for t, w in GRAPH.get(unit, {}).items() if level.get(t, len(LAYERS)) >= level[unit]}
    assert not upward, (
        f"{unit} (layer {level[unit]}) imports from its own layer or above: "
        + "; ".join(f"{t} (layer {level.get(t)}) at {', '.join(w[:3])}" for t, w in sorted(upward.items()))
    )


def test_nothing_imports_an_entry_point() -> None:
    assert not ENTRY_IMPORTS, ENTRY_IMPORTS


def _module_level_calls(tree: ast.Module) -> list[ast.Call]:
    """Calls that run when the module is imported (not inside a function or lambda)."""
    calls, pending = [], list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Call):
            calls.append(node)
        pending.extend(ast.iter_child_nodes(node))
    return calls


def test_no_matplotlib_backend_switch_at_import_time() -> None:
    offenders = []
    for path in source_files():
        for call in _module_level_calls(ast.parse(path.read_text(encoding="utf-8"))):
            func = call.func
            if isinstance(func, ast.Attribute) and func.attr == "use" and isinstance(func.value, ast.Name) \
                    and func.value.id == "matplotlib":
                offenders.append(f"{path.relative_to(ROOT)}:{call.lineno}")
    assert not offenders, f"matplotlib.use() at import time changes every importer's backend: {offenders}"
