"""User errors get one sentence: ``python train.py`` with a bad value or a missing dataset exits 2
with one stderr line naming the key and value and what is valid, and no traceback unless
``SER_DEBUG=1`` asks for it (user_errors.py)."""
from __future__ import annotations

import doctest
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import lightning_modules.optim
from training import command as train
import user_errors
from tests.in_process import run_command
from tests.tiny_train_config import make_tiny_run
from user_errors import UserError

REPO = Path(__file__).resolve().parents[1]
PREFIX = "train.py: error: "


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory) -> Path:
    return make_tiny_run(tmp_path_factory.mktemp("user-errors"), epochs=1, per_class_train=2)


def run_train(*args: str, debug: bool = False) -> subprocess.CompletedProcess:
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    env.pop("SER_DEBUG", None)
    if debug:
        env["SER_DEBUG"] = "1"
    return subprocess.run([sys.executable, "train.py", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=600)


def run_train_here(capfd: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch, *args: str
                   ) -> subprocess.CompletedProcess:
    """``train.run`` (what ``python train.py`` runs) in this process: no interpreter start per case.

    ``test_missing_data_root_exits_2_naming_it`` runs the real ``python train.py`` for the same path.
    """
    return run_command(train.run, list(args), capfd, monkeypatch, env={"WANDB_MODE": "offline", "WANDB_SILENT": "true"})


def the_error_line(done: subprocess.CompletedProcess) -> str:
    """Exit 2, no traceback, and exactly one error line, the last one on stderr; returns it."""
    assert done.returncode == 2, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    lines = done.stderr.strip().splitlines()
    assert [line for line in lines if "error" in line.lower()] == [lines[-1]], done.stderr[-3000:]
    assert lines[-1].startswith(PREFIX)
    return lines[-1]


@pytest.mark.parametrize("override, named", [
    ("--data.batch_size=0", "data.batch_size=0: must be positive"),
    ("--model.lr=-0.001", "model.lr=-0.001: expected a learning rate > 0"),
    ("--data.data_root=", "data.data_root='': empty; expected the folder prepare_data.py wrote"),
], ids=["batch_size_0", "negative_lr", "empty_data_root"])
def test_bad_value_exits_2_with_one_line_naming_key_value_and_what_is_valid(tiny_config, override, named, capfd,
                                                                            monkeypatch):
    assert named in the_error_line(run_train_here(capfd, monkeypatch, "--config", str(tiny_config), override))


def test_missing_data_root_exits_2_naming_it(tiny_config, tmp_path):
    missing = tmp_path / "not-prepared"
    line = the_error_line(run_train("--config", str(tiny_config), f"--data.data_root={missing}"))
    assert f"data.data_root='{missing}': no such folder; expected the folder prepare_data.py wrote" in line


def test_dataset_whose_shards_are_gone_exits_2_naming_them(tiny_config, tmp_path, capfd, monkeypatch):
    data = tmp_path / "data"
    shutil.copytree(tiny_config.parent / "data", data)
    for shard in (data / "shards").glob("*.tar"):
        shard.unlink()
    line = the_error_line(run_train_here(capfd, monkeypatch, "--config", str(tiny_config), f"--data.data_root={data}",
                                         f"--run.root={tmp_path / 'runs'}"))
    assert "missing" in line and "train-000000.tar" in line and "val-000000.tar" in line


def test_debug_switch_shows_the_traceback(tiny_config, monkeypatch, capsys):
    """train.run is what ``python train.py`` runs; train.main raises for callers from Python."""
    args = ["--config", str(tiny_config), "--model.lr=-0.001"]
    monkeypatch.delenv("SER_DEBUG", raising=False)
    with pytest.raises(SystemExit) as stopped:
        train.run(args)
    assert stopped.value.code == 2 and "model.lr=-0.001" in capsys.readouterr().err
    monkeypatch.setenv("SER_DEBUG", "1")
    with pytest.raises(UserError, match="model.lr=-0.001"):
        train.run(args)
    monkeypatch.delenv("SER_DEBUG")
    with pytest.raises(UserError, match="model.lr=-0.001"):
        train.main(args)


@pytest.mark.parametrize("module", [user_errors, lightning_modules.optim], ids=lambda m: m.__name__)
def test_doctests(module) -> None:
    failures, tried = doctest.testmod(module)
    assert tried > 0 and failures == 0
