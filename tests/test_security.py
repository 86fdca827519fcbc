"""Nothing from data or checkpoints runs as code (issue 9, "Security" 1-2).

A dataset's stats.json cannot put a command into a ``pipe:`` data_root, and a checkpoint with a
planted pickle payload is refused by every loader, even with ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``
(which turns every torch.load that does not pass ``weights_only`` explicitly into a full unpickle).
"""
from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from data_preparation.shards.shard_format import STATS_FILE, DatasetInfo, ShardPathError, SplitInfo, shard_urls
from tests.in_process import run_command
from tests.shard_factory import make_dataset
from tests.tiny_train_config import make_tiny_run

REPO = Path(__file__).resolve().parents[1]
INJECTION = "shards/{split}-000000.tar; touch X; #"


@pytest.mark.parametrize("path", [
    INJECTION.format(split="test"), "../outside/test-000000.tar", "/etc/passwd", "shards/$(touch X).tar",
    "shards/a b.tar", "shards/`id`.tar", "shards/.hidden.tar", "-rf", "shards//x.tar", "", 7,
])
def test_stats_json_with_an_unsafe_shard_path_is_refused_on_load(path):
    data = json.loads(DatasetInfo(classes=["a"], class_weights=[1.0],
                                  splits={"test": SplitInfo(shards=["shards/test-000000.tar"], num_samples=1)}).to_json())
    DatasetInfo.from_dict(data)  # the clean file loads
    data["splits"]["test"]["shards"].append(path)
    with pytest.raises(ShardPathError, match="is not a relative path of letters, digits and ._-/ inside the dataset"):
        DatasetInfo.from_dict(data)
    with pytest.raises(ShardPathError):  # also when a SplitInfo is built by hand
        shard_urls("pipe:cat /data", SplitInfo(shards=[path], num_samples=1))


def run_cli(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """A command as a user runs it, from ``cwd``, offline, with extra environment variables."""
    environment = {**os.environ, "WANDB_MODE": "disabled", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO), **env}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=environment, capture_output=True, text=True,
                          timeout=300)


COMMANDS = {"evaluate.py": "prediction.evaluate_command", "predict.py": "prediction.command",
            "export_model.py": "export.command", "train.py": "training.command"}


def run_here(args: list[str], cwd: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture,
             **env: str) -> subprocess.CompletedProcess:
    """:func:`run_cli` in this process (tests/in_process.py): the script's ``run``, one interpreter start less.

    ``serve.py`` stays a real process: a server that wrongly started would never return.
    """
    import importlib

    run = importlib.import_module(COMMANDS[Path(args[0]).name]).run
    return run_command(run, args[1:], capfd, monkeypatch, cwd=cwd, log_to_stderr=True,
                       env={"WANDB_MODE": "disabled", "HF_HUB_OFFLINE": "1", **env})


def error_lines(result: subprocess.CompletedProcess, marker: str) -> list[str]:
    return [line for line in result.stderr.splitlines() if marker in line]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    from tests.trained_models import session_base, trained_checkpoint

    return trained_checkpoint(session_base(tmp_path_factory), "small_cnn")


@pytest.mark.slow  # evaluate.py and train.py (and a tiny checkpoint trained once per session)
def test_shard_names_in_stats_json_run_no_command_through_evaluate_or_train(checkpoint, tmp_path, monkeypatch, capfd):
    data = tmp_path / "data"
    make_dataset(data, num_classes=4, per_class={"train": 2, "val": 1, "test": 1}, shards_per_split=1,
                 seconds=(0.5, 0.6))
    stats = json.loads((data / STATS_FILE).read_text())
    for split, info in stats["splits"].items():
        info["shards"] = [INJECTION.format(split=split)]
    (data / STATS_FILE).write_text(json.dumps(stats))
    work = tmp_path / "work"
    work.mkdir()
    pipe_root = f"pipe:cat {data}"

    evaluated = run_here([str(REPO / "evaluate.py"), "--model", str(checkpoint), "--data_root", pipe_root,
                          "--output_dir", str(tmp_path / "report"), "--device", "cpu"], work, monkeypatch, capfd)
    assert not (work / "X").exists(), "a shard name from stats.json ran as a shell command in evaluate.py"
    assert evaluated.returncode == 2, evaluated.stderr[-2000:]
    assert len(error_lines(evaluated, "shard path 'shards/test-000000.tar; touch X; #'")) == 1, evaluated.stderr
    assert "Traceback" not in evaluated.stderr

    config = make_tiny_run(tmp_path / "tiny", epochs=1)
    trained = run_here([str(REPO / "train.py"), "--config", str(config), f"--data.data_root={pipe_root}"], work,
                       monkeypatch, capfd)
    assert not (work / "X").exists(), "a shard name from stats.json ran as a shell command in train.py"
    assert trained.returncode == 2, trained.stderr[-2000:]
    assert len(error_lines(trained, "-000000.tar; touch X; #' is not a relative path")) == 1, trained.stderr
    assert "Traceback" not in trained.stderr


class Payload:
    """Unpickling this runs ``touch <marker>``: what a hostile checkpoint would do, made harmless."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def plant(checkpoint: Path, target: Path, marker: Path) -> Path:
    """A copy of ``checkpoint`` whose callback state holds the payload (the rest stays a valid checkpoint)."""
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    state["callbacks"]["Planted"] = {"note": Payload(marker)}
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, target)
    return target


@pytest.mark.slow  # five commands, serve.py a subprocess (and a tiny checkpoint trained once per session)
def test_a_planted_checkpoint_runs_nothing_in_any_loader(checkpoint, tmp_path, monkeypatch, capfd):
    marker = tmp_path / "PWNED"
    planted = plant(checkpoint, tmp_path / "model" / "planted.ckpt", marker)
    # the payload is live: a full unpickle runs it (so the checks below are not vacuous)
    torch.load(planted, map_location="cpu", weights_only=False)
    assert marker.exists()
    marker.unlink()

    clip = tmp_path / "clip.wav"
    sf.write(clip, np.zeros(16_000, np.float32), 16_000)
    data = tmp_path / "data"
    make_dataset(data, num_classes=4, per_class={"test": 1}, shards_per_split=1, seconds=(0.5, 0.6))
    force = {"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}
    commands = {
        "predict": ["predict.py", "--model", str(planted), "--inputs", str(clip), "--output_dir", str(tmp_path / "p")],
        "evaluate": ["evaluate.py", "--model", str(planted), "--data_root", str(data), "--output_dir", str(tmp_path / "e")],
        "export": ["export_model.py", "--model", str(planted), "--output_dir", str(tmp_path / "x")],
        "serve": ["serve.py", "--model", str(planted), "--port", "0", "--device", "cpu"],
    }
    for name, args in commands.items():
        command = run_cli if name == "serve" else functools.partial(run_here, monkeypatch=monkeypatch, capfd=capfd)
        result = command([str(REPO / args[0]), *args[1:]], tmp_path, **force)
        assert not marker.exists(), f"{name}: the checkpoint's payload ran"
        assert result.returncode == 2, (name, result.stderr[-2000:])
        assert len(error_lines(result, "planted.ckpt: refused to load")) == 1, (name, result.stderr)
        assert "Traceback" not in result.stderr, (name, result.stderr)

    config = make_tiny_run(tmp_path / "tiny", epochs=1)
    resumed = run_here([str(REPO / "train.py"), "--config", str(config), f"--ckpt_path={planted}"], tmp_path,
                       monkeypatch, capfd, **force)
    assert not marker.exists(), "train.py --ckpt_path: the checkpoint's payload ran"
    assert resumed.returncode == 2, resumed.stderr[-2000:]
    assert len(error_lines(resumed, "planted.ckpt: refused to load")) == 1 and "Traceback" not in resumed.stderr

    # the resume helpers: picking the newest complete checkpoint reads no pickle; best_checkpoint refuses
    from training.resume import best_checkpoint, find_resume_checkpoint
    from training.safe_load import UnsafeCheckpointError

    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    run = tmp_path / "run" / "checkpoints"
    plant(checkpoint, run / "last.ckpt", marker)
    shutil.copy(planted, run.parent / "hpc_ckpt_1.ckpt")
    assert find_resume_checkpoint([run, run.parent]) in (run / "last.ckpt", run.parent / "hpc_ckpt_1.ckpt")
    with pytest.raises(UnsafeCheckpointError, match=r"last.ckpt: refused to load: the checkpoint holds a Python "
                                                     r"object \(posix.system\)"):
        best_checkpoint(run)
    assert not marker.exists()
