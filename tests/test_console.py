"""What a user reads when train.py runs (issue 23): the demo's console, and a refused start.

A real ``train.py`` subprocess, so the console is what a terminal shows: Lightning's and W&B's
logging handlers, Rich's progress bars (told that the pipe is a terminal, so they draw every bar,
the validation bar included, as they do for a user) and every warning.
"""
from __future__ import annotations

import hashlib
import math
import re
from pathlib import Path

import pytest

from tests.conftest import PreparedDemo
from tests.demo_console import DemoRun, console_of, demo_argv, train_py
from tests.shard_factory import make_dataset
from training import command as train
from training.loggers import WandbSettings, build_loggers
from training.run_header import run_header

BATCH = 32  # configs/demo.yaml's data.batch_size, one loader worker


def demo_args(prepared: Path, runs: Path) -> list[str]:
    """configs/demo.yaml shrunk to one short epoch; validation and test stay whole."""
    return ["--config", "configs/demo.yaml", f"--data.data_root={prepared}", f"--run.root={runs}",
            "--trainer.max_epochs=1", "--data.samples_per_epoch=64", "--trainer.log_every_n_steps=1"]


def bar_ends(console: str, stage: str) -> set[str]:
    """The ``done/total`` a stage's progress bar showed, e.g. {'0/5', '5/5'}."""
    return set(re.findall(rf"^{stage} [━╸╺ ]*(\d+/\S+)", console, flags=re.MULTILINE))


@pytest.mark.slow  # the demo run (tests/conftest.py: demo_run, shared with test_demo_run.py)
def test_demo_console_names_the_run_first_and_holds_no_library_noise(demo_run: DemoRun,
                                                                     prepared_demo: PreparedDemo) -> None:
    assert demo_run.returncode == 0, demo_run.stderr[-3000:]
    console, run_dir = demo_run.console, demo_run.run_dir
    assert "weights_only" not in console  # Lightning's line at every checkpoint save
    assert "deprecat" not in console.lower(), [line for line in console.splitlines() if "deprecat" in line.lower()]
    assert "Tip:" not in console and "anonymous setting" not in console  # Lightning's ad; W&B on Lightning's init args
    info = prepared_demo.info
    for stage, split in (("Validation", "val"), ("Testing", "test")):
        total = math.ceil(info.splits[split].num_samples / BATCH)
        assert f"{total}/{total}" in bar_ends(console, stage), (stage, bar_ends(console, stage))
        assert not any(end.endswith("/--") for end in bar_ends(console, stage))

    first = [line for line in console.splitlines() if line.strip()][:4]
    assert first[0].startswith(f"run folder: {run_dir} (new"), first
    (wandb_line,) = [line for line in first if line.startswith("W&B run: offline")]
    run_id = re.search(r"id (\S+),", wandb_line).group(1)
    assert f"{run_dir / 'wandb'}/" in wandb_line and list((run_dir / "wandb").glob(f"offline-run-*-{run_id}"))
    (logs,) = [line for line in first if line.startswith("logs: ")]
    assert str(run_dir / "csv" / "metrics.csv") in logs and (run_dir / "csv" / "metrics.csv").is_file()


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` and its content hash."""
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.mark.slow  # the demo run, and two train.py subprocesses that refuse at once
def test_a_truncated_ckpt_path_is_one_line_and_leaves_nothing_behind(demo_run: DemoRun, prepared_demo: PreparedDemo,
                                                                    tmp_path: Path) -> None:
    run_dir = demo_run.run_dir
    cut = tmp_path / "cut.ckpt"
    cut.write_bytes((run_dir / "checkpoints" / "last.ckpt").read_bytes()[:5000])  # head -c 5000
    marker = f"train.py: error: {cut}: cannot load the checkpoint: truncated or damaged (5,000 bytes)"

    fresh = tmp_path / "runs"
    result = train_py([*demo_args(prepared_demo.prepared, fresh), "--run.name=fresh", f"--ckpt_path={cut}"], tmp_path)
    assert result.returncode == 2, result.stderr[-3000:]
    assert console_of(result).strip().splitlines() == [console_of(result).strip()]
    assert console_of(result).startswith(marker)
    assert not (fresh / "fresh").exists(), sorted(map(str, (fresh / "fresh").rglob("*")))

    before = snapshot(run_dir)  # a resume into the finished run's own folder: it stays as it was
    result = train_py([*demo_argv(prepared_demo.prepared, run_dir.parent), f"--ckpt_path={cut}"], tmp_path)
    assert result.returncode == 2 and console_of(result).strip().startswith(marker), result.stderr[-3000:]
    assert len(console_of(result).strip().splitlines()) == 1
    assert snapshot(run_dir) == before


@pytest.mark.parametrize("refusal", ["missing shard", "unreadable init_from"])
def test_a_run_refused_at_fit_start_leaves_no_run_folder(refusal: str, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture) -> None:
    """A missing shard is found by the datamodule's setup, an unreadable ``model.init_from`` only when
    fit starts (after run.json, csv/ and the W&B run exist): neither leaves the folder it made."""
    data = tmp_path / "data"
    info = make_dataset(data, per_class={"train": 4, "val": 2, "test": 2}, shards_per_split=2, seconds=(0.5, 1.0))
    args = ["--config", "configs/demo.yaml", f"--data.data_root={data}", f"--run.root={tmp_path / 'runs'}",
            "--data.batch_size=4", "--data.clip_seconds=1.0", "--trainer.enable_progress_bar=false"]
    if refusal == "missing shard":
        (data / info.splits["test"].shards[-1]).unlink()
        expected = "shard(s) that"
    else:
        (tmp_path / "encoder.safetensors").write_text("not weights")
        args.append(f"--model.init_from={tmp_path / 'encoder.safetensors'}")
        expected = "not a readable safetensors weights file"
    with pytest.raises(SystemExit) as stop:
        train.run(args)
    assert stop.value.code == 2 and expected in capsys.readouterr().err
    assert not (tmp_path / "runs" / "demo").exists(), sorted(map(str, (tmp_path / "runs").rglob("*")))


def test_the_header_names_an_online_run_by_its_address(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Online with an entity: the address, before the run starts; WANDB_MODE=offline wins, as in W&B."""
    monkeypatch.delenv("WANDB_MODE", raising=False)
    run_dir = tmp_path / "run"
    loggers = build_loggers(run_dir, "run", WandbSettings(mode="online", entity="lab", project="ser"), "run-1a2b")
    lines = run_header(run_dir, loggers, run_dir / "reports", resumed=True, seed=3).splitlines()
    assert lines[0] == f"run folder: {run_dir} (continued; seed 3)"
    assert lines[1] == "W&B run: https://wandb.ai/lab/ser/runs/run-1a2b"
    monkeypatch.setenv("WANDB_MODE", "offline")
    assert run_header(run_dir, loggers, run_dir / "reports", True, 3).splitlines()[1].startswith(
        f"W&B run: offline, id run-1a2b, in {run_dir / 'wandb'}/")
    assert not run_dir.exists()  # describing the run creates nothing
