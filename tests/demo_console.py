"""The README's main job as a user runs it: ``train.py --config configs/demo.yaml`` in a subprocess
whose console is what a terminal shows, run once per test session and shared (read-only) by the
test that it learns (test_demo_run.py) and the tests of what it prints (test_console.py): the one
full demo run is then both checked and paid for once."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
TERMINAL = {"TTY_COMPATIBLE": "1", "TTY_INTERACTIVE": "1", "NO_COLOR": "1", "COLUMNS": "120"}  # Rich: draw as on a tty


def train_py(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """train.py as a user types it: no W&B key, no netrc (so ``--wandb.mode=auto`` goes offline)."""
    environ = {key: value for key, value in os.environ.items() if key not in ("WANDB_API_KEY", "SER_DEBUG")}
    environ.update(WANDB_MODE="offline", NETRC=str(tmp_path / "no-netrc"), **env)
    return subprocess.run([sys.executable, str(REPO / "train.py"), *args], cwd=REPO, env=environ,
                          capture_output=True, text=True, timeout=900)


def console_text(stdout: str, stderr: str) -> str:
    return ANSI.sub("", stdout + stderr).replace("\r", "\n")


def console_of(result: subprocess.CompletedProcess) -> str:
    return console_text(result.stdout, result.stderr)


@dataclass
class DemoRun:
    """The finished demo run: its folder and everything it printed."""

    run_dir: Path
    returncode: int
    stdout: str
    stderr: str

    @property
    def console(self) -> str:
        return console_text(self.stdout, self.stderr)


def demo_argv(prepared: Path, runs: Path) -> list[str]:
    """configs/demo.yaml unchanged, on the prepared demo corpus, W&B left to decide (no key: offline)."""
    return ["--config", "configs/demo.yaml", f"--data.data_root={prepared}", f"--run.root={runs}", "--wandb.mode=auto"]


def run_demo(folder: Path, prepared: Path) -> dict:
    """Train the demo under ``folder/runs`` (its run folder: ``runs/demo``)."""
    result = train_py(demo_argv(prepared, folder / "runs"), folder, **TERMINAL)
    return {"returncode": result.returncode, "stdout": result.stdout, "stderr": result.stderr}
