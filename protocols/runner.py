"""Prepare a protocol's shards once and train/test its folds, each in its own run folder.

A fold is finished when its ``protocol_fold.json`` (the test scores, written after train.py
returned) exists: a rerun skips finished folds and resumes an interrupted one from its last
checkpoint (``--ckpt_path=last``) in the same, explicitly named run folder. Preparation takes a
file lock, so the tasks of a SLURM array that start together prepare once and share the result.
"""
from __future__ import annotations

import fcntl
import json
import shlex
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from data_preparation.config import parse_config
from data_preparation.pipeline import prepare
from data_preparation.shards.shard_format import DatasetInfo
from protocols.config import ProtocolConfig
from protocols.machine import machine, measured
from protocols.scores import scores_from_report

FOLD_RESULT = "protocol_fold.json"
FOLD_LOG = "train.log"  # the fold's train.py output (stdout and stderr), appended to by every attempt
TEST_REPORT = Path("reports") / "test" / "report.json"


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def prepare_protocol(protocol: ProtocolConfig) -> tuple[str, DatasetInfo]:
    """(data root, its stats) after preparing once (idempotent; concurrent callers wait on a lock)."""
    config = parse_config(protocol.prepare_argv())
    with _locked(Path(config.output).with_name(Path(config.output).name + ".lock")):
        info = prepare(config)
    return config.output, info


def fold_count(info: DatasetInfo) -> int:
    """Folds of the prepared dataset; a plain train/val/test preparation (cross-corpus) is one fold."""
    return len(info.folds) if info.folds else 1


def fold_name(info: DatasetInfo, fold: int) -> str:
    """The fold as its source names it (EmoBox ``fold_1``..; ``session=3``, ``ravdess/Actor_07``, ``fold2``).

    The index ``fold`` (``--fold``, the SLURM array task, the run folder) counts from 0; this name is
    what results show, so a row can be set beside the source's own table.
    """
    return info.folds[fold]["name"] if info.folds else "test split"


def fold_held_out(info: DatasetInfo, fold: int) -> str:
    """What the fold holds out for testing, from the fold plan (``4 speaker(s)``), or ``test split``."""
    return f"{info.folds[fold]['speakers']['test']} speaker(s)" if info.folds else "test split"


def run_dir(protocol: ProtocolConfig, fold: int) -> Path:
    """The fold's run folder: explicit and stable, so a resumed fold finds its checkpoints."""
    return protocol.folder / "folds" / f"{protocol.name}-fold{fold}"


def train_command(protocol: ProtocolConfig, data_root: str, info: DatasetInfo, fold: int, launcher: str) -> list[str]:
    """train.py's argument list for one fold; the protocol's ``train_args`` come last and win."""
    folder = run_dir(protocol, fold)
    command = [*shlex.split(launcher), sys.executable, "-m", "training.command", "--config", protocol.train,
               f"--data.data_root={data_root}", f"--run.root={folder.parent}", f"--run.name={folder.name}",
               f"--wandb.group={protocol.name}", f"--wandb.project={protocol.wandb_project}", "--ckpt_path=last"]
    if info.folds:
        command.append(f"--data.fold={fold}")
    return command + list(protocol.train_args)


class FoldFailedError(RuntimeError):
    """A fold's train.py failed; the message names the fold, its status and its log file."""


def run_logged(command: list[str], log: Path) -> tuple[int, str]:
    """Run ``command`` with its output shown as it comes and appended to ``log``; (exit status, last output line).

    The log keeps what a failed fold printed (its error is usually the last line), since the
    console of a long protocol run has scrolled past it, and on SLURM is another task's file.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    last = ""
    with log.open("a", encoding="utf-8") as out, subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace") as process:
        for line in process.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            out.write(line)
            last = line.strip() or last
    return process.returncode, last


def fold_result(protocol: ProtocolConfig, fold: int) -> dict | None:
    """The finished fold's scores, or None when it has not finished."""
    path = run_dir(protocol, fold) / FOLD_RESULT
    return json.loads(path.read_text()) if path.is_file() else None


def run_fold(protocol: ProtocolConfig, data_root: str, info: DatasetInfo, fold: int, launcher: str = "",
             start: Callable[[list[str], Path], tuple[int, str]] = run_logged) -> dict:
    """Train and test one fold unless it already finished; returns its scores.

    ``start`` runs the fold's train.py command and returns (exit status, last output line): by
    default a fresh interpreter per fold (no seeds, W&B runs or CUDA memory leak between folds),
    its output kept in the fold's log.
    """
    done = fold_result(protocol, fold)
    if done is not None:
        print(f"{protocol.name}: fold {fold} already finished ({run_dir(protocol, fold)})", flush=True)
        return done
    command = train_command(protocol, data_root, info, fold, launcher)
    print(f"{protocol.name}: fold {fold} ({fold_name(info, fold)}): {shlex.join(command)}", flush=True)
    log = run_dir(protocol, fold) / FOLD_LOG
    with measured() as cost:
        status, last_line = start(command, log)
    report = run_dir(protocol, fold) / TEST_REPORT
    if status != 0 or not report.is_file():
        raise FoldFailedError(f"fold {fold} ({fold_name(info, fold)}): train.py ended with status {status}"
                              + ("" if report.is_file() else " and no test report")
                              + f"; its log: {log}" + (f" (last line: {last_line[:300]})" if last_line else ""))
    result = {"fold": fold_name(info, fold), "index": fold, "held_out": fold_held_out(info, fold),
              "run_dir": str(run_dir(protocol, fold)), **scores_from_report(json.loads(report.read_text())),
              "train": protocol.train, "train_args": list(protocol.train_args), "cost": cost, "machine": machine()}
    path = run_dir(protocol, fold) / FOLD_RESULT
    path.with_suffix(".partial").write_text(json.dumps(result, indent=2, sort_keys=True))
    path.with_suffix(".partial").replace(path)  # atomic: a half-written result never marks a fold done
    return result
