"""``python train.py --help`` lists the project's networks and augmentations, not every nn.Module."""
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
    assert len(done.stdout.splitlines()) < 1000  # 3,716 lines when both arguments took any nn.Module
