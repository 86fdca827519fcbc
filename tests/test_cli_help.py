"""``python train.py --help``: our networks and augmentations only, Lightning's own arguments by name.

One fresh interpreter (nothing but train.py's own imports, as ``python train.py`` has) prints both
``--help`` and ``--help_full`` through ``training.command.run``, which is all train.py calls.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.xdist_group("test_cli_help")  # both tests read the one process

ROOT = Path(__file__).resolve().parents[1]
BOTH_HELPS = """
import contextlib, io
from training.command import run
for flag in ("--help", "--help_full"):
    shown = io.StringIO()
    try:
        with contextlib.redirect_stdout(shown):
            run([flag])
    except SystemExit as stop:
        assert not stop.code, (flag, stop.code)
    print(f"=== {flag} ===")
    print(shown.getvalue(), end="")
"""


@pytest.fixture(scope="module")
def helps() -> dict[str, str]:
    """``{"--help": text, "--help_full": text}`` as ``python train.py <flag>`` prints them."""
    done = subprocess.run([sys.executable, "-c", BOTH_HELPS], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    _, short, full = done.stdout.split("=== --help")
    return {"--help": short.removeprefix(" ===\n"), "--help_full": full.removeprefix("_full ===\n")}


def test_help_lists_our_networks_only(helps) -> None:
    shown = helps["--help"]
    text = " ".join(shown.split())  # argparse wraps long lists mid-name
    for ours in ("SmallCNN", "SpeechEncoderClassifier", "TimmImageClassifier", "SeedCNN", "WaveformAugment"):
        assert ours in text.replace(" ", ""), ours
    for foreign in ("torch.nn.Linear", "torch.nn.Identity", "timm.layers"):
        assert foreign not in text, foreign
    assert len(shown.splitlines()) < 400  # 3,716 lines when both arguments took any nn.Module
    assert "--trainer.max_epochs MAX_EPOCHS" in shown and "Stop training once" not in shown
    assert "--model.lr LR" in shown and "(type: float, default: 0.001)" in shown  # ours in full


def test_help_full_keeps_lightnings_descriptions(helps) -> None:
    assert "Stop training once this number of epochs is reached" in " ".join(helps["--help_full"].split())
