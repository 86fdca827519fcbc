"""Picking a run back up: which checkpoint to resume from, and the random number generators.

Lightning restores epoch, step, optimiser, scheduler, loop progress and callback state (early
stopping, best-F1 checkpointing) from a checkpoint, but not the random number generators, so
:class:`RngStateCheckpoint` adds them (per rank). :func:`find_resume_checkpoint` picks the newest
checkpoint that is complete, among the preemption (``hpc_ckpt_N.ckpt``) and ``last*.ckpt`` files,
so ``train.py --ckpt_path last`` works the same after a requeue and after a crash.
"""
from __future__ import annotations

import os
import random
import re
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from lightning.pytorch.callbacks import Callback

from training.last_checkpoint import LAST_NAME
from training.safe_load import load_checkpoint_file

HPC_PATTERN = re.compile(r"^hpc_ckpt_(\d+)\.ckpt$")
LAST_PATTERN = re.compile(r"^last(-v\d+)?\.ckpt$")


def is_complete_checkpoint(path: Path) -> bool:
    """Whether ``path`` is a whole ``torch.save`` archive: its zip central directory (written last) reads.

    A file cut short by a kill has no central directory, so this is cheap and catches it.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            return len(archive.namelist()) > 0
    except (OSError, zipfile.BadZipFile, ValueError):
        return False


def resume_candidates(folders: Iterable[str | os.PathLike]) -> list[Path]:
    """Preemption and ``last`` checkpoints in ``folders``, newest first (by modification time)."""
    found: set[Path] = set()
    for folder in folders:
        folder = Path(folder)
        if folder.is_dir():
            found.update(p for p in folder.iterdir() if HPC_PATTERN.match(p.name) or LAST_PATTERN.match(p.name))
    return sorted(found, key=lambda p: p.stat().st_mtime_ns, reverse=True)


def find_resume_checkpoint(folders: Iterable[str | os.PathLike]) -> Path | None:
    """The newest complete resume checkpoint in ``folders``, or None when there is none."""
    for path in resume_candidates(folders):
        if is_complete_checkpoint(path):
            return path
    return None


def best_checkpoint(folder: str | os.PathLike) -> Path:
    """The best checkpoint by validation F1, as train.py's ModelCheckpoint recorded it in last.ckpt.

    Read from the callback state rather than parsed from file names, which the checkpoint config may change.
    """
    folder = Path(folder)
    state = load_checkpoint_file(folder / LAST_NAME)
    for key, value in state.get("callbacks", {}).items():
        if key.startswith("ModelCheckpoint") and isinstance(value, dict) and value.get("best_model_path"):
            best = folder / Path(value["best_model_path"]).name
            if best.is_file():
                return best
    raise RuntimeError(f"train.py recorded no best checkpoint in {folder / 'last.ckpt'}")


def slurm_job_id(env: Mapping[str, str] = os.environ) -> str | None:
    """The job id a requeue keeps (``ARRAYID_TASKID`` for array jobs), or None outside SLURM."""
    array_job, array_task = env.get("SLURM_ARRAY_JOB_ID"), env.get("SLURM_ARRAY_TASK_ID")
    if array_job and array_task:
        return f"{array_job}_{array_task}"
    return env.get("SLURM_JOB_ID")


def _local_rng_state() -> dict[str, Any]:
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    # plain lists and tuples only, so checkpoints still load with torch.load(weights_only=True)
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "numpy": [kind, keys.tolist(), pos, has_gauss, gauss],
                             "python": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_local_rng_state(state: Mapping[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, gauss))
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class RngStateCheckpoint(Callback):
    """Saves every rank's torch/numpy/python (and CUDA) RNG state in checkpoints and restores it.

    Dropout, on-device augmentation and loader-worker seeds then continue after a resume as they
    would have. Rank ``r`` gets state ``r``; a run resumed on a different world size reuses them
    modulo the saved count (still deterministic, no longer identical).
    """

    def state_dict(self) -> dict[str, Any]:
        local = _local_rng_state()
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            states: list[Any] = [None] * dist.get_world_size()
            dist.all_gather_object(states, local)  # every rank dumps the checkpoint, so all take part
        else:
            states = [local]
        return {"ranks": states}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Apply at once: Lightning restores callbacks before it builds the resumed epoch's data iterator,
        whose shuffling draws from these generators."""
        states = list(state_dict.get("ranks") or [])
        if states:
            rank = dist.get_rank() if dist.is_available() and dist.is_initialized() else 0
            _set_local_rng_state(states[rank % len(states)])
