"""ReportCallback, logger selection and resume-path rules, without training."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch
from lightning.pytorch.loggers import CSVLogger

from callbacks.report import ReportCallback
from training.cli import resolve_ckpt_path
from training.loggers import WandbSettings, build_loggers, has_wandb_key

NAMES = ["anger", "happy", "sad"]


def fake_run(tmp_path, epoch: int = 0):
    trainer = SimpleNamespace(sanity_checking=False, current_epoch=epoch, global_rank=0, global_step=7,
                              default_root_dir=str(tmp_path), loggers=[])
    module = SimpleNamespace(class_names=NAMES, hparams={"sample_rate": 16_000})
    return trainer, module


def eval_batch(labels: list[int], predicted: list[int], confidence: list[float], keys: list[str]):
    logits = torch.full((len(labels), 3), -10.0)
    for row, (p, c) in enumerate(zip(predicted, confidence)):
        logits[row, p] = 0.0
        logits[row, (p + 1) % 3] = torch.log(torch.tensor((1 - c) / c))  # softmax max == c (approx.)
    batch = {"label": torch.tensor(labels), "lengths": torch.tensor([800] * len(labels)),
             "audio": torch.randn(len(labels), 1000), "key": keys, "corpus": ["a"] * len(labels)}
    return {"logits": logits}, batch


def test_report_files_confusion_and_confident_mistakes(tmp_path):
    callback = ReportCallback(mistakes=2)
    trainer, module = fake_run(tmp_path)
    batches = [eval_batch([0, 0, 1], [0, 1, 1], [0.9, 0.95, 0.8], ["k0", "k1", "k2"]),
               eval_batch([2, 2, 1], [0, 2, 0], [0.6, 0.9, 0.7], ["k3", "k4", "k5"])]
    for index, (outputs, batch) in enumerate(batches):
        callback.on_test_batch_end(trainer, module, outputs, batch, index)
    callback.on_test_epoch_end(trainer, module)
    paths = callback.last_paths["test"]
    report = json.loads(paths["json"].read_text())
    assert report["confusion_matrix"] == [[1, 1, 0], [1, 1, 0], [1, 0, 1]]
    assert paths["confusion_counts"].read_bytes()[:4] == b"\x89PNG"
    assert paths["json"].parent == tmp_path / "reports" / "test"


def test_confident_mistakes_keep_the_top_k():
    callback = ReportCallback(mistakes=2)
    for outputs, batch in [eval_batch([0, 0, 1], [0, 1, 2], [0.9, 0.95, 0.5], ["k0", "k1", "k2"]),
                           eval_batch([2, 2], [0, 1], [0.6, 0.99], ["k3", "k4"])]:
        callback._collect("val", outputs, batch)
    mistakes = sorted(callback._state["val"].mistakes, reverse=True)
    assert [m.key for m in mistakes] == ["k4", "k1"]
    assert mistakes[0].audio.shape == (800,)  # valid samples only


def test_validation_reports_skip_sanity_check_and_off_epochs(tmp_path):
    callback = ReportCallback(every_n_val_epochs=2)
    trainer, module = fake_run(tmp_path, epoch=0)
    outputs, batch = eval_batch([0], [0], [0.9], ["k"])
    callback.on_validation_batch_end(trainer, module, outputs, batch, 0)
    callback.on_validation_epoch_end(trainer, module)
    assert not (tmp_path / "reports").exists()
    trainer.current_epoch = 1
    callback.on_validation_batch_end(trainer, module, outputs, batch, 0)
    callback.on_validation_epoch_end(trainer, module)
    assert (tmp_path / "reports" / "val" / "epoch_001" / "report.json").is_file()
    with pytest.raises(ValueError, match="every_n_val_epochs=0"):
        ReportCallback(every_n_val_epochs=0)


def test_wandb_key_detection(tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    assert not has_wandb_key()
    (tmp_path / "netrc").write_text("machine api.wandb.ai\n  login user\n  password abc\n")
    assert has_wandb_key()
    monkeypatch.setenv("NETRC", str(tmp_path / "none"))
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert has_wandb_key()


def test_loggers_csv_always_wandb_by_mode(tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "none"))
    (only,) = build_loggers(tmp_path, "r", WandbSettings(mode="disabled"))
    assert isinstance(only, CSVLogger)
    csv, wandb = build_loggers(tmp_path, "demo/run 1", WandbSettings(project="p", tags=["t"]))
    assert wandb._offline and wandb._id == "demo-run-1" and wandb._wandb_init["tags"] == ["t"]
    with pytest.raises(ValueError, match="wandb.mode='cloud'"):
        build_loggers(tmp_path, "r", WandbSettings(mode="cloud"))


def test_resolve_ckpt_path(tmp_path):
    assert resolve_ckpt_path(None, tmp_path) is None
    assert resolve_ckpt_path("last", tmp_path) is None  # nothing to resume yet: fresh start
    torch.save({"epoch": 0}, tmp_path / "last.ckpt")
    assert resolve_ckpt_path("last", tmp_path) == str(tmp_path / "last.ckpt")
    with pytest.raises(FileNotFoundError, match="missing.ckpt"):
        resolve_ckpt_path(str(tmp_path / "missing.ckpt"), tmp_path)
