"""``python train.py --help``: our networks and augmentations only, Lightning's own arguments by name."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_help_lists_our_networks_only() -> None:
    done = subprocess.run([sys.executable, "train.py", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())  # argparse wraps long lists mid-name
    for ours in ("SmallCNN", "SpeechEncoderClassifier", "TimmImageClassifier", "SeedCNN", "WaveformAugment"):
        assert ours in text.replace(" ", ""), ours
    for foreign in ("torch.nn.Linear", "torch.nn.Identity", "timm.layers"):
        assert foreign not in text, foreign
    assert len(done.stdout.splitlines()) < 400  # 3,716 lines when both arguments took any nn.Module
    assert "--trainer.max_epochs MAX_EPOCHS" in done.stdout and "Stop training once" not in done.stdout
    assert "--model.lr LR" in done.stdout and "(type: float, default: 0.001)" in done.stdout  # ours in full


def test_help_full_keeps_lightnings_descriptions() -> None:
    done = subprocess.run([sys.executable, "train.py", "--help_full"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Stop training once this number of epochs is reached" in " ".join(done.stdout.split())
