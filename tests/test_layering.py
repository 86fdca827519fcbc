"""The project's packages form layers: a package imports only from the layers below it.

Every import is read from the source with ``ast``, so nothing is imported to run these checks, and
the checks see what a drawing of the tree's imports shows: imports inside functions and under
``TYPE_CHECKING`` (a lazy import is still a dependency), ``importlib.import_module("...")`` and
``__import__("...")`` with a constant name, and ``{"class_path": "package.module.Class"}`` in code
(jsonargparse imports it). A package's commands (``<package>/command.py``, ``*_command.py``,
``__main__.py``) belong to their package's layer like the rest of it: a command that needs a higher
layer lives in a package of that layer. Only the top-level scripts (train.py, evaluate.py, ...) sit
above every layer; nothing imports them or a package's command. A new package fails
``test_every_package_has_a_layer`` until it is given a place in LAYERS.
"""
from __future__ import annotations

import ast
import textwrap
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOT_PROJECT = {"tests", "benchmarks", "scripts", "docs", "configs", "slurm"}
LIBRARY_MODULES = {"user_errors"}  # top-level modules that are library code, not commands

# Lowest first. A package may import packages of lower layers only, so packages that share a layer
# are independent of each other.
LAYERS: list[tuple[str, ...]] = [
    ("user_errors",),  # the one-sentence user error every command reports
    ("corpora",),  # corpus readers, native labels -> canonical emotions
    ("data_preparation",),  # decode, clean, split and write shards; the input contract
    ("datamodules", "evaluation", "lightning_modules"),  # stream shards | score logits | module + networks
    ("callbacks", "classical"),  # training-time hooks | sklearn baselines
    ("training",),  # run assembly: CLI, loggers, checkpoints, resume, preemption
    ("prediction", "protocols"),  # load any trained model, predict and evaluate it | k-fold protocols
    # over a trained model: ensembles of predictors | the web page | transformers/ONNX export | Grad-CAM
    ("ensemble", "serving", "export", "explanations"),
]
# lightning_modules/ holds the LightningModule and its networks; run assembly reaches into the rest.
LIGHTNING_MODULES_MUST_NOT_IMPORT = ("training", "callbacks", "datamodules")
Graph = dict[str, dict[str, list[str]]]  # unit -> imported unit -> ["file:line", ...]


def project_units(root: Path = ROOT) -> tuple[set[str], set[str]]:
    """(library units: packages and library top-level modules, entry top-level scripts)."""
    packages = {p.parent.name for p in root.glob("*/__init__.py") if p.parent.name not in NOT_PROJECT}
    scripts = {p.stem for p in root.glob("*.py")}
    return packages | (scripts & LIBRARY_MODULES), scripts - LIBRARY_MODULES


LIBRARY, ENTRY_SCRIPTS = project_units()


def source_files(root: Path = ROOT) -> list[Path]:
    files = list(root.glob("*.py"))
    for unit in sorted(project_units(root)[0]):
        if (root / unit).is_dir():
            files += [p for p in (root / unit).rglob("*.py") if ".venv" not in p.parts]
    return sorted(files)


def is_command(module: str) -> bool:
    """A package's command module: ``command``, ``*_command`` or ``__main__``."""
    leaf = module.rsplit(".", 1)[-1]
    return "." in module and (leaf in {"__main__", "command"} or leaf.endswith("_command"))


def module_name(path: Path, root: Path = ROOT) -> str:
    return ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")


IMPORT_FUNCTIONS = {"import_module", "__import__"}  # importlib.import_module, from importlib import ..., builtin


def _resolve(name: str, package: list[str]) -> str:
    """``name`` made absolute; a leading dot is relative to ``package``, as ``import_module`` does."""
    level = len(name) - len(name.lstrip("."))
    if not level:
        return name
    base = package[: len(package) - level + 1]
    return ".".join([*base, name[level:]] if name[level:] else base)


def _string_imports(node: ast.AST, package: list[str]) -> list[str]:
    """Modules a call or dict imports by name: ``import_module("a.b")``, ``{"class_path": "a.b.C"}``."""
    if isinstance(node, ast.Call):
        func = node.func
        called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
        names = []
        if called in IMPORT_FUNCTIONS and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            names.append(_resolve(node.args[0].value, package))
        pairs = [(ast.Constant(k.arg), k.value) for k in node.keywords if k.arg]
    elif isinstance(node, ast.Dict):
        names, pairs = [], list(zip(node.keys, node.values))
    else:
        return []
    for key, value in pairs:
        if isinstance(key, ast.Constant) and key.value == "class_path" and isinstance(value, ast.Constant) \
                and isinstance(value.value, str) and "." in value.value:
            names.append(value.value.rsplit(".", 1)[0])
    return names


def imported_modules(path: Path, root: Path = ROOT) -> list[tuple[str, int]]:
    """Absolute names of everything ``path`` imports, anywhere in the file, with line numbers."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    own = module_name(path, root).split(".")
    package = own if path.name == "__init__.py" else own[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            name = ".".join([*base, node.module] if node.module else base)
            # `from pkg import mod` imports pkg.mod too (a command imported this way is still a command)
            found += [(name, node.lineno)] + [(f"{name}.{alias.name}", node.lineno) for alias in node.names]
        else:
            found += [(name, node.lineno) for name in _string_imports(node, package)]
    return found


def unit_of(module: str) -> str:
    return module.split(".")[0]


def dependencies(root: Path = ROOT) -> tuple[Graph, list[str]]:
    """(unit -> imported unit -> ["file:line", ...] for every file in a unit, imports of entry points).

    A package's commands count as the package's own imports; the top-level scripts are left out."""
    library, entry_scripts = project_units(root)
    graph: Graph = defaultdict(lambda: defaultdict(list))
    entry_imports = []
    for path in source_files(root):
        source = module_name(path, root)
        if source in entry_scripts:
            continue
        for name, line in imported_modules(path, root):
            target = unit_of(name)
            where = f"{path.relative_to(root)}:{line}"
            if target in entry_scripts or (target in library and is_command(name) and name != source):
                entry_imports.append(f"{where} imports the entry point {name}")
            if target in library and target != unit_of(source) and where not in graph[unit_of(source)][target]:
                graph[unit_of(source)][target].append(where)
    return graph, entry_imports


def upward_imports(graph: Graph, unit: str, layers: list[tuple[str, ...]] = LAYERS) -> dict[str, list[str]]:
    """The units ``unit`` imports from its own layer or above: unit -> ["file:line", ...]."""
    level = {name: index for index, layer in enumerate(layers) for name in layer}
    return {t: w for t, w in graph.get(unit, {}).items() if level.get(t, len(layers)) >= level[unit]}


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
    upward = upward_imports(GRAPH, unit)
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


# The checker itself: a tree made of the real LAYERS' units, clean, then with one planted import each.
PLANTED = {
    "import": "import training.cli\n",
    "from-import, lazy in a function": "def load():\n    from training import cli\n    return cli\n",
    "importlib.import_module string": "import importlib\n\nMODULE = importlib.import_module('training.cli')\n",
    "import_module imported by name": "from importlib import import_module\n\nimport_module('training')\n",
    "__import__ string": "cli = __import__('training.cli')\n",
    "class_path string in code": "NET = {'class_path': 'training.cli.Thing', 'init_args': {}}\n",
    "class_path keyword": "def build(**kw):\n    return kw\n\n\nbuild(class_path='training.cli.Thing')\n",
}


def _layered_tree(root: Path) -> None:
    """Every unit of LAYERS as an empty package (user_errors as a module), plus training/cli.py."""
    for unit in [u for layer in LAYERS for u in layer]:
        if unit in LIBRARY_MODULES:
            (root / f"{unit}.py").write_text("")
        else:
            (root / unit).mkdir()
            (root / unit / "__init__.py").write_text("")
    (root / "training" / "cli.py").write_text("import corpora\n")  # downward: allowed


def _violations(root: Path) -> dict[str, dict[str, list[str]]]:
    graph, _ = dependencies(root)
    return {unit: found for layer in LAYERS for unit in layer if (found := upward_imports(graph, unit))}


def test_the_checker_passes_a_clean_tree(tmp_path: Path) -> None:
    _layered_tree(tmp_path)
    (tmp_path / "corpora" / "ok.py").write_text("import importlib\n\nimportlib.import_module('user_errors')\n")
    graph, entry_imports = dependencies(tmp_path)
    assert graph["training"]["corpora"] == ["training/cli.py:1"] and graph["corpora"]["user_errors"]
    assert _violations(tmp_path) == {} and entry_imports == []


@pytest.mark.parametrize("how", sorted(PLANTED))
def test_the_checker_fails_on_a_planted_upward_import(tmp_path: Path, how: str) -> None:
    _layered_tree(tmp_path)
    planted = tmp_path / "corpora" / "planted.py"
    planted.write_text(PLANTED[how])
    line = 1 + next(i for i, text in enumerate(PLANTED[how].splitlines()) if "training" in text)
    assert _violations(tmp_path) == {"corpora": {"training": [f"corpora/planted.py:{line}"]}}


def test_the_checker_counts_a_packages_command_as_the_package(tmp_path: Path) -> None:
    # a drawing of the tree shows evaluation/command.py's import of prediction as evaluation -> prediction
    _layered_tree(tmp_path)
    (tmp_path / "evaluation" / "command.py").write_text("from prediction import predictor\n")
    (tmp_path / "evaluate.py").write_text("from evaluation.command import run\nimport serving\n")  # a script: on top
    assert _violations(tmp_path) == {"evaluation": {"prediction": ["evaluation/command.py:1"]}}


def test_the_checker_fails_on_an_import_of_a_command(tmp_path: Path) -> None:
    _layered_tree(tmp_path)
    (tmp_path / "prediction" / "evaluate_command.py").write_text("")
    (tmp_path / "serving" / "app.py").write_text(textwrap.dedent("""\
        from prediction import evaluate_command
        import importlib
        importlib.import_module("prediction.evaluate_command")
        """))
    assert dependencies(tmp_path)[1] == [
        "serving/app.py:1 imports the entry point prediction.evaluate_command",
        "serving/app.py:3 imports the entry point prediction.evaluate_command",
    ]
