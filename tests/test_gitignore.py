"""What installing, preparing and training leave in a clone is ignored, so `git status` stays clean.

``pip install .`` copies every package into build/lib (the duplicates tool then reports each module
twice), ``pip install -e .`` writes <name>.egg-info, and prepared data and runs are outputs.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LEFT_BEHIND = [
    "build/lib/data_preparation/pipeline.py",  # pip install . (setuptools' build directory)
    "build/bdist.linux-x86_64/wheel/x.py",
    "dist/ser_toolkit-0.1.0-py3-none-any.whl",  # python -m build
    "ser_toolkit.egg-info/PKG-INFO",  # pip install -e .
    ".eggs/README.txt",
    "data/prepared/demo/stats.json",  # prepare_data.py's default outputs
    "data/demo_corpus/spk00/x.wav",
    "runs/demo/checkpoints/last.ckpt",  # train.py's runs
    ".venv",  # scripts/setup_env.sh's environment, or a link to a shared one: '.venv/' misses a link
]


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs a git clone")
def test_install_and_run_outputs_are_ignored() -> None:
    # --no-index: the rules alone decide, whether or not such files exist in this clone
    done = subprocess.run(["git", "check-ignore", "--no-index", "--verbose", "--non-matching", *LEFT_BEHIND],
                          cwd=ROOT, capture_output=True, text=True, timeout=30)
    not_ignored = [line.split("\t")[-1] for line in done.stdout.splitlines() if line.startswith("::")]
    assert not not_ignored, f"not ignored by .gitignore: {not_ignored}"
    assert len(done.stdout.splitlines()) == len(LEFT_BEHIND), done.stdout + done.stderr
