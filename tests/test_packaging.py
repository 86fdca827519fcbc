"""``pip install -e .``: the console scripts work from any directory, and nothing shadows a library.

The top-level scripts (``train.py``, ``evaluate.py``, ...) are shims for the clone; the installed
distribution ships the packages and ``user_errors`` only. A top-level ``evaluate`` module would
shadow Hugging Face's ``evaluate`` package for anything that imports it, so no package may import a
top-level script and the install must not expose one. The real install runs in a scratch venv that
sees the suite's packages (a ``.pth`` adding this interpreter's site-packages: ``--system-site-packages``
from inside a venv would expose the base interpreter's packages instead) and uses the suite's own
pip and setuptools (``--no-deps --no-build-isolation``: no network).
"""
from __future__ import annotations

import ast
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from setuptools import find_packages

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SHIPPED_MODULES = set(PYPROJECT["tool"]["setuptools"]["py-modules"])
LIBRARY_MODULES = {"user_errors"}  # the one top-level module that is library code, not a command shim
TOP_LEVEL_SCRIPTS = sorted(p.stem for p in ROOT.glob("*.py") if p.stem not in LIBRARY_MODULES)
SCRIPTS = sorted(PYPROJECT["project"]["scripts"])
ENV = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", "HF_HUB_OFFLINE": "1",
       "TRANSFORMERS_OFFLINE": "1", "PYTHONPATH": ""}


def shipped_packages() -> list[str]:
    """The packages pyproject.toml's ``packages.find`` ships (the same call setuptools makes)."""
    found = PYPROJECT["tool"]["setuptools"]["packages"]["find"]
    return sorted(find_packages(str(ROOT), include=found.get("include", ["*"]), exclude=found["exclude"]))


def imported_top_levels(path: Path) -> set[str]:
    """Top-level names of every absolute import in one source file."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_every_command_has_a_console_script_and_a_shim() -> None:
    assert set(TOP_LEVEL_SCRIPTS) == {"train", "evaluate", "predict", "serve", "export_model", "explain",
                                      "prepare_data", "cross_validate", "pretrain", "fetch_weights"}, TOP_LEVEL_SCRIPTS
    assert SHIPPED_MODULES == LIBRARY_MODULES, SHIPPED_MODULES  # no shim is installed
    assert len(SCRIPTS) == 11 and all(name.startswith("ser-") for name in SCRIPTS), SCRIPTS
    assert "tests" not in shipped_packages() and "training" in shipped_packages()


def test_packages_never_import_the_top_level_scripts() -> None:
    offenders = []
    for package in shipped_packages():
        for path in sorted((ROOT / package.replace(".", "/")).glob("*.py")):
            wrong = imported_top_levels(path) & set(TOP_LEVEL_SCRIPTS)
            offenders += [f"{path.relative_to(ROOT)} imports {name}" for name in sorted(wrong)]
    assert not offenders, offenders


def test_test_extra_matches_requirements_test() -> None:
    lines = [line.split("#")[0].strip() for line in (ROOT / "requirements-test.txt").read_text().splitlines()]
    wanted = sorted(line for line in lines if line and not line.startswith("-"))
    assert sorted(PYPROJECT["project"]["optional-dependencies"]["test"]) == wanted


# Run inside the scratch venv from a foreign directory: import every shipped module with a top-level
# `evaluate` (ours or Hugging Face's) and the top-level scripts made unimportable, so a library or a
# module pulling one in fails here by name; then every console script's entry point with --help, as
# its generated wrapper calls it (one process: each command alone would import torch again).
IN_VENV = """
import contextlib, importlib, importlib.abc, importlib.metadata, importlib.util, io, pkgutil, sys
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {refused!r}:
            raise ImportError(f"{{name}} was imported")
refuse = Refuse()
sys.meta_path.insert(0, refuse)
for top in {packages!r}:
    package = importlib.import_module(top)
    for info in pkgutil.walk_packages(package.__path__, top + "."):
        importlib.import_module(info.name)
for entry in importlib.metadata.distribution("ser-toolkit").entry_points:
    sys.argv, shown, status = [entry.name], io.StringIO(), 0
    try:
        with contextlib.redirect_stdout(shown):
            entry.load()(["--help"])
    except SystemExit as stop:
        status = stop.code or 0
    assert status == 0 and shown.getvalue().startswith("usage: "), (entry.name, status, shown.getvalue()[-500:])
    print("help ok:", entry.name)
sys.meta_path.remove(refuse)
found = [n for n in {refused!r} if importlib.util.find_spec(n) is not None]
print("top-level scripts importable:", found)
"""


def scratch_venv(tmp_path: Path) -> Path:
    """A venv that sees this interpreter's packages, with the clone installed editable; its python."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    (site / "_suite_packages.pth").write_text(f"import site; site.addsitedir({sysconfig.get_path('purelib')!r})\n")
    python = venv / "bin" / "python"
    done = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-build-isolation", "-e", str(ROOT)],
                          capture_output=True, text=True, timeout=300, env=ENV, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return python


@pytest.mark.slow  # a real pip install, then every module and command imported (torch and all: ~1-2 min on 2 cores)
def test_editable_install_runs_every_console_script_from_another_directory(tmp_path: Path) -> None:
    python = scratch_venv(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    top = sorted({name.split(".")[0] for name in shipped_packages()})
    script = IN_VENV.format(refused=sorted({"evaluate", *TOP_LEVEL_SCRIPTS}), packages=top)
    done = subprocess.run([str(python), "-c", script], cwd=elsewhere, env=ENV, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert sorted(line.split()[-1] for line in done.stdout.splitlines() if line.startswith("help ok:")) == SCRIPTS
    assert "top-level scripts importable: []" in done.stdout, done.stdout
    for name in SCRIPTS:  # pip wrote a wrapper for each into the venv's bin/
        assert (python.parent / name).is_file(), name
    shown = subprocess.run([str(python.parent / "ser-train"), "--help"], cwd=elsewhere, env=ENV, capture_output=True,
                           text=True, timeout=300)
    assert shown.returncode == 0 and "usage: ser-train" in shown.stdout, shown.stderr[-2000:]
    printed = subprocess.run([str(python.parent / "ser-train"), "--config", "wavlm.yaml", "--print_config"],
                             cwd=elsewhere, env=ENV, capture_output=True, text=True, timeout=300)
    assert printed.returncode == 0, printed.stderr[-2000:]
    assert f"config: {ROOT / 'configs' / 'wavlm.yaml'}" in printed.stderr
    assert "model_name: microsoft/wavlm-base-plus" in printed.stdout
