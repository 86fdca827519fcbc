"""Pretrained hub weights on an offline node: a missing one is one line at once, and fetch_weights.py fills the cache.

The hub is never reached from here: an unreachable one is an endpoint on a closed local port, an offline
node is ``HF_HUB_OFFLINE=1``, both with an empty ``HF_HOME``; the reachable hub is tests/standin_hub.py
serving a tiny WavLM saved under the name the shipped config reads (``microsoft/wavlm-base-plus``).
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.shard_factory import make_dataset
from tests.standin_hub import StandinHub
from tests.tiny_models import save_tiny_encoder

ROOT = Path(__file__).resolve().parents[1]
HUB_ENV = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_ENDPOINT", "HF_HOME", "HF_HUB_CACHE")
INFO_PREFIXES = ("config: ", "Seed set to")  # train.py's informational lines, not errors
# the card's command, shrunk to one training and one validation batch of short clips
SHRINK = ["--config=configs/debug/cpu.yaml", "--trainer.max_epochs=1", "--trainer.limit_train_batches=1",
          "--trainer.limit_val_batches=1", "--data.batch_size=4", "--data.clip_seconds=0.5", "--data.shuffle_buffer=8"]


def closed_port() -> int:
    """A local port nothing listens on (bound, then released): connecting to it is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("shards")
    make_dataset(root, num_classes=2, per_class={"train": 4, "val": 2, "test": 2}, shards_per_split=1,
                 seconds=(0.5, 0.8))
    return root


def hub_env(tmp_path: Path, mode: str, endpoint: str | None = None) -> dict[str, str]:
    """The environment with an empty HF_HOME and the hub ``mode``: unreachable, offline or ``endpoint``."""
    env = {k: v for k, v in os.environ.items() if k not in HUB_ENV}
    env.update(HF_HOME=str(tmp_path / "hf"), WANDB_MODE="offline", HF_HUB_DISABLE_PROGRESS_BARS="1")
    if mode == "unreachable":
        env["HF_ENDPOINT"] = f"http://127.0.0.1:{closed_port()}"
    elif mode == "offline":
        env["HF_HUB_OFFLINE"] = "1"
    else:
        env["HF_ENDPOINT"] = endpoint or ""
    return env


def train_args(data_root: Path, runs: Path) -> list[str]:
    return ["--config", "wavlm.yaml", "--trainer", "configs/trainer/cpu.yaml", f"--data.data_root={data_root}",
            f"--run.root={runs}"]


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.strip().splitlines() if not line.startswith(INFO_PREFIXES)]


@pytest.mark.parametrize("mode", ["unreachable", "offline"])
def test_train_without_cached_weights_is_one_line_and_leaves_no_run_folder(mode, data_root, tmp_path):
    """The card's command on a node whose hub is unreachable (or offline mode), with nothing cached:
    exit 2, one line naming the model, the cache folder and the fetch command, no run folder."""
    runs = tmp_path / "runs"
    done = subprocess.run([sys.executable, "train.py", *train_args(data_root, runs)], cwd=ROOT,
                          env=hub_env(tmp_path, mode), capture_output=True, text=True, timeout=300)
    lines = error_lines(done.stderr)
    assert done.returncode == 2 and len(lines) == 1, done.stderr[-3000:]
    line = lines[0]
    assert line.startswith("train.py: error: model.net.init_args.model_name='microsoft/wavlm-base-plus'"), line
    assert f"cache {tmp_path / 'hf' / 'hub'}" in line and "python fetch_weights.py --config wavlm.yaml" in line, line
    assert ("offline mode is on (HF_HUB_OFFLINE=1)" if mode == "offline" else "cannot be reached") in line, line
    assert not runs.exists(), sorted(runs.rglob("*"))


@pytest.mark.parametrize("mode", ["unreachable", "offline"])
def test_the_refusal_takes_seconds_not_hub_retries(mode, data_root, tmp_path, monkeypatch):
    """From the command line to the refusal in under 10 s (imports done: the time is the check's, not
    the interpreter's start); before, transformers spent about 23 s in hub retries, then a traceback."""
    for key, value in hub_env(tmp_path, mode).items():
        monkeypatch.setenv(key, value)
    for key in set(HUB_ENV) - set(hub_env(tmp_path, mode)):
        monkeypatch.delenv(key, raising=False)
    from training.command import run

    start = time.monotonic()
    with pytest.raises(SystemExit) as exited:
        run(train_args(data_root, tmp_path / "runs"))
    assert exited.value.code == 2 and time.monotonic() - start < 10
    assert not (tmp_path / "runs").exists()


def test_only_rank_zero_prints_the_refusal(tmp_path, monkeypatch, capsys):
    """Under SLURM every task runs train.py: the job's log gets the line once; every rank exits 2."""
    from lightning.pytorch.utilities import rank_zero_only
    from jsonargparse import Namespace

    from lightning_modules.hub_weights import MissingWeightsError
    from training.cli import check_pretrained_weights

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    net = {"class_path": "lightning_modules.components.speech_encoder.SpeechEncoderClassifier",
           "init_args": {"model_name": "microsoft/wavlm-base-plus"}}
    config = Namespace(config=[ROOT / "configs" / "wavlm.yaml"])
    with pytest.raises(MissingWeightsError, match="microsoft/wavlm-base-plus"):
        check_pretrained_weights(config, {"model": {"net": net}})
    monkeypatch.setattr(rank_zero_only, "rank", 1)
    with pytest.raises(SystemExit) as exited:
        check_pretrained_weights(config, {"model": {"net": net}})
    assert exited.value.code == 2 and capsys.readouterr() == ("", "")


def test_networks_declare_what_they_read(tmp_path):
    """The speech encoders and timm backbones name their hub repositories; folders, checkpoints'
    encoder configs and random-weight timm models read nothing from the hub."""
    from lightning_modules.hub_weights import weights_of_config

    speech = "lightning_modules.components.speech_encoder.SpeechEncoderClassifier"
    timm_image = "lightning_modules.components.timm_image.TimmImageClassifier"
    found = weights_of_config({"class_path": speech, "init_args": {}})
    assert [(w.repo_id, w.key, w.config_only) for w in found] == [
        ("microsoft/wavlm-base-plus", "model.net.init_args.model_name", False)]
    assert weights_of_config({"class_path": speech, "init_args": {"pretrained": False}})[0].config_only
    assert weights_of_config({"class_path": speech, "init_args": {"model_name": str(tmp_path)}}) == []
    assert weights_of_config({"class_path": speech, "init_args": {"pretrained": False, "encoder_config": {}}}) == []
    b5 = weights_of_config({"class_path": timm_image, "init_args": {"model_name": "efficientnet_b5"}})
    assert [w.repo_id.split(".")[0] for w in b5] == ["timm/efficientnet_b5"] and b5[0].library == "timm"
    assert weights_of_config({"class_path": timm_image, "init_args": {"pretrained": False}}) == []


def test_fetch_reads_configs_and_protocols_as_train_and_cross_validate_do(tmp_path):
    """Which weights: from train.py's resolution of each config (overrides applied) and a protocol's train config."""
    from protocols.weights import weights_of

    assert [w.repo_id for w in weights_of(["wavlm.yaml", "configs/hubert.yaml", "demo.yaml"], [])] == [
        "microsoft/wavlm-base-plus", "facebook/hubert-base-ls960"]
    assert [w.repo_id for w in weights_of(["configs/protocols/emodb_loso.yaml"], [])] == ["microsoft/wavlm-base-plus"]
    assert weights_of(["wavlm.yaml"], [f"--model.net.init_args.model_name={tmp_path}"]) == []


def test_fetch_check_offline_is_one_line(tmp_path, monkeypatch, capsys):
    """``fetch_weights.py --check`` (slurm/train.sh's check on offline nodes) downloads nothing and refuses in one line."""
    from protocols.fetch_weights_command import run

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(SystemExit) as exited:
        run(["--check", "--config", "wavlm.yaml"])
    err = capsys.readouterr().err.strip().splitlines()
    assert exited.value.code == 2 and len(err) == 1 and "microsoft/wavlm-base-plus" in err[0], err
    assert "python fetch_weights.py --config wavlm.yaml" in err[0] and not (tmp_path / "hf").exists()


def test_slurm_job_offline_without_weights_stops_before_srun(tmp_path):
    """slurm/train.sh on an offline node: one line and exit 2 before srun starts any rank."""
    venv = Path(sys.executable).parent.parent
    env = {**hub_env(tmp_path, "offline"), "SLURM_JOB_ID": "77", "SER_ROOT": str(ROOT), "SER_VENV": str(venv)}
    env.pop("SLURM_GPUS_ON_NODE", None)
    done = subprocess.run(["bash", "slurm/train.sh", "configs/wavlm.yaml"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    lines = error_lines(done.stderr)
    assert done.returncode == 2 and len(lines) == 1, done.stderr[-3000:]
    assert lines[0].startswith("fetch_weights.py: error: model.net.init_args.model_name='microsoft/wavlm-base-plus'")
    assert "srun" not in done.stdout + done.stderr


@pytest.mark.slow
def test_fetch_from_a_standin_hub_then_train_offline(data_root, tmp_path):
    """The fix the refusal names works: fetch_weights.py against a hub (a local stand-in serving a tiny
    WavLM as microsoft/wavlm-base-plus) fills the empty cache and ``--to`` a folder; the same train
    command then trains with HF_HUB_OFFLINE=1 from the cache."""
    encoder = save_tiny_encoder("wavlm", tmp_path / "source")
    with StandinHub({"microsoft/wavlm-base-plus": encoder}) as endpoint:
        online = hub_env(tmp_path, "hub", endpoint)
        fetched = subprocess.run([sys.executable, "fetch_weights.py", "--config", "wavlm.yaml"], cwd=ROOT, env=online,
                                 capture_output=True, text=True, timeout=600)
        folder = tmp_path / "models"
        to = subprocess.run([sys.executable, "fetch_weights.py", "--config", "wavlm.yaml", "--to", str(folder)],
                            cwd=ROOT, env=online, capture_output=True, text=True, timeout=600)
    assert fetched.returncode == 0, fetched.stderr[-3000:]
    cache = tmp_path / "hf" / "hub" / "models--microsoft--wavlm-base-plus"
    assert fetched.stdout.startswith(f"microsoft/wavlm-base-plus: 2 files, 0.") and str(cache) in fetched.stdout
    assert "verified: 1 model(s) load with HF_HUB_OFFLINE=1" in fetched.stdout, fetched.stdout
    assert to.returncode == 0, to.stderr[-3000:]
    local = folder / "wavlm-base-plus"
    assert {p.name for p in local.iterdir() if p.is_file()} == {"config.json", "model.safetensors"}
    assert f"--model.net.init_args.model_name={local}" in to.stdout, to.stdout
    # Training from such a folder offline is test_gpu_check.py's wavlm.yaml run (model_name=<folder>).
    trained = subprocess.run([sys.executable, "train.py", *train_args(data_root, tmp_path / "runs"), *SHRINK],
                             cwd=ROOT, env=hub_env(tmp_path, "offline"), capture_output=True, text=True, timeout=600)
    assert trained.returncode == 0 and "test/" in trained.stdout, trained.stderr[-3000:]


@pytest.fixture(scope="module")
def checkpoint_reading_its_encoder_config(tmp_path_factory) -> Path:
    """A trained checkpoint whose network reads its encoder's config by hub name (no ``encoder_config`` in it)."""
    import torch

    from tests.trained_models import session_base, trained_checkpoint

    checkpoint = torch.load(trained_checkpoint(session_base(tmp_path_factory), "wavlm"), map_location="cpu",
                            weights_only=True)
    net = checkpoint["hyper_parameters"]["net"]
    net["init_args"] = {**net["init_args"], "model_name": "microsoft/wavlm-base-plus", "pretrained": False,
                        "encoder_config": None}
    path = tmp_path_factory.mktemp("hub-checkpoint") / "reads-its-config.ckpt"
    torch.save(checkpoint, path)
    return path


@pytest.mark.parametrize("command", ["predict", "evaluate", "export"])
def test_loading_a_checkpoint_that_needs_its_base_config_offline_is_one_line(
        command, checkpoint_reading_its_encoder_config, tmp_path, tmp_path_factory, monkeypatch, capsys, caplog):
    """evaluate/predict/export of such a checkpoint with nothing cached: exit 2 and one line naming the model
    and the cache, not transformers' OSError traceback."""
    import numpy as np
    import soundfile

    from tests.trained_models import shared_dataset, session_base

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    model = str(checkpoint_reading_its_encoder_config)
    if command == "predict":
        from prediction.command import main

        soundfile.write(tmp_path / "a.wav", np.zeros(16000, dtype=np.float32), 16000)
        assert main(["--model", model, "--inputs", str(tmp_path / "a.wav"), "--output_dir", str(tmp_path / "out")]) == 2
        lines = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    else:
        from export.command import run as export_run
        from prediction.evaluate_command import run as evaluate_run

        data = shared_dataset(session_base(tmp_path_factory))
        with pytest.raises(SystemExit) as exited:
            if command == "evaluate":
                evaluate_run(["--model", model, "--data_root", str(data), "--output_dir", str(tmp_path / "out")])
            else:
                export_run(["--model", model, "--output_dir", str(tmp_path / "out")])
        assert exited.value.code == 2
        lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "model.net.init_args.model_name='microsoft/wavlm-base-plus'" in lines[0], lines
    assert f"cache {tmp_path / 'hf' / 'hub'}" in lines[0] and "fetch_weights.py" in lines[0], lines
