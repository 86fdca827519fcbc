"""Atomic checkpoint writes survive kill -9, and resume picks the newest complete checkpoint."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from training.cli import resolve_ckpt_path
from training.atomic import TEMP_PREFIX, atomic_torch_save, remove_stale_temps
from training.checkpoint_io import AtomicCheckpointIO
from training.resume import find_resume_checkpoint, is_complete_checkpoint

# Saves ever-changing 16 MB checkpoints to one path until killed, printing each finished step.
# (training.atomic is what AtomicCheckpointIO.save_checkpoint calls, without Lightning's import time.)
SAVER = """
import sys, torch
from training.atomic import atomic_torch_save
path, step = sys.argv[1], 0
while True:
    atomic_torch_save({"step": step, "weights": torch.full((4_000_000,), float(step))}, path)
    print(step, flush=True)
    step += 1
"""


def test_kill_during_save_never_leaves_a_broken_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "last.ckpt"
    steps = []
    for delay in (0.03, 0.11):
        saver = subprocess.Popen([sys.executable, "-c", SAVER, str(path)], stdout=subprocess.PIPE, text=True,
                                 cwd=Path(__file__).resolve().parents[1])
        while int(saver.stdout.readline()) < 2:
            pass
        time.sleep(delay)  # somewhere inside a later save: serialising, writing or renaming
        saver.send_signal(signal.SIGKILL)
        saver.wait(timeout=30)
        checkpoint = torch.load(path, weights_only=True)  # must never raise
        assert torch.equal(checkpoint["weights"], torch.full((4_000_000,), float(checkpoint["step"])))
        steps.append(checkpoint["step"])
    assert min(steps) >= 2
    removed = remove_stale_temps(tmp_path)
    assert all(p.name.startswith(TEMP_PREFIX) for p in removed)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]


def test_failed_save_keeps_the_previous_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "ckpt" / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"step": 1}, path)

    def broken_save(obj, stream):  # a writer that dies half-way, like a full disk
        stream.write(b"PK\x03\x04 half a checkpoint")
        raise OSError("No space left on device")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="No space"):
        atomic_torch_save({"step": 2}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True) == {"step": 1}
    assert [p.name for p in path.parent.iterdir()] == ["last.ckpt"], "the temporary file was not cleaned up"


def test_resume_picks_newest_complete_checkpoint(tmp_path: Path) -> None:
    run, ckpts = tmp_path / "run", tmp_path / "run" / "checkpoints"
    atomic_torch_save({"step": 10}, ckpts / "last.ckpt")
    time.sleep(0.02)
    atomic_torch_save({"step": 12}, run / "hpc_ckpt_1.ckpt")
    time.sleep(0.02)
    truncated = run / "hpc_ckpt_2.ckpt"  # e.g. written by an older tool that was killed mid-save
    truncated.write_bytes((run / "hpc_ckpt_1.ckpt").read_bytes()[:100])
    (ckpts / "epoch001-f10.5.ckpt").write_bytes(b"")  # top-k checkpoints are not resume candidates

    assert not is_complete_checkpoint(truncated)
    assert find_resume_checkpoint([ckpts, run]) == run / "hpc_ckpt_1.ckpt"
    assert find_resume_checkpoint([tmp_path / "nothing"]) is None
    assert resolve_ckpt_path("last", ckpts, run) == str(run / "hpc_ckpt_1.ckpt")  # train.py --ckpt_path last
    assert resolve_ckpt_path("last", tmp_path / "nothing") is None
