"""Importing a module of ours changes no process-wide state (STYLE.md: no import-time side effects)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_plots_module_leaves_matplotlib_backend_alone() -> None:
    code = ("import sys, matplotlib; before = matplotlib.get_backend(); import data_preparation.plots; "
            "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'; "
            "assert matplotlib.get_backend() == before, (before, matplotlib.get_backend())")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT), "MPLBACKEND": "svg"}, timeout=120)
    assert done.returncode == 0, done.stderr
