"""Incomplete or inconsistent data is an error, not a smaller score (issue 8, sections 4 and 5):
missing shards stop the run naming each, a test scored on fewer samples than stats.json lists
stops unless allowed, verify lists every unreadable member, and a label that is not its id's
class is a counted bad sample."""
from __future__ import annotations

import json
import logging
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import webdataset as wds

from callbacks.report import ReportCallback
from data_preparation import verify
from data_preparation.pipeline import prepare
from data_preparation.shards.shard_format import load_dataset_info
from datamodules import ShardDataModule, shard_data_module
from prediction.split_logits import split_urls
from tests.shard_factory import make_dataset
from tests.test_prepare_fingerprint import small_corpus

SPLITS = {"train": 9, "val": 3, "test": 3}  # per class, 2 classes: one sample per shard of 2


def rewrite_member(shard: Path, key: str, flac: bytes | None = None, **meta_changes) -> None:
    """Rewrite ``shard`` with ``key``'s FLAC bytes replaced and/or its JSON metadata changed."""
    samples = list(wds.DataPipeline(wds.SimpleShardList(str(shard)), wds.tarfile_to_samples()))
    assert key in [s["__key__"] for s in samples], key
    with wds.TarWriter(str(shard)) as writer:
        for sample in samples:
            if sample["__key__"] == key:
                sample["json"] = json.dumps({**json.loads(sample["json"]), **meta_changes}).encode()
                sample["flac"] = sample["flac"] if flac is None else flac
            writer.write({k: v for k, v in sample.items() if k in ("__key__", "flac", "json")})


def meta_of(shard: Path, key: str) -> dict:
    samples = wds.DataPipeline(wds.SimpleShardList(str(shard)), wds.tarfile_to_samples())
    return json.loads(next(s["json"] for s in samples if s["__key__"] == key))


def keys_in(shard: Path) -> list[str]:
    return [s["__key__"] for s in wds.DataPipeline(wds.SimpleShardList(str(shard)), wds.tarfile_to_samples())]


@pytest.fixture()
def gapped(tmp_path: Path) -> Path:
    """9 train, 3 val and 3 test shards, of which 6 train, 1 val and 1 test are deleted (the issue's case)."""
    make_dataset(tmp_path, num_classes=2, per_class=SPLITS, shards_per_split={"train": 9, "val": 3, "test": 3},
                 seconds=(0.3, 0.6))
    for name in ["train-000001", "train-000002", "train-000004", "train-000005", "train-000007", "train-000008",
                 "val-000001", "test-000002"]:
        (tmp_path / "shards" / f"{name}.tar").unlink()
    return tmp_path


def test_missing_shards_stop_fit_and_test_naming_every_one(gapped: Path) -> None:
    dm = shard_data_module(str(gapped), batch_size=2, num_workers=0, clip_seconds=0.5)
    with pytest.raises(ValueError, match="8 shard") as fit:
        dm.setup("fit")
    message = str(fit.value)
    for name in ["train-000001", "train-000002", "train-000004", "train-000005", "train-000007", "train-000008",
                 "val-000001", "test-000002"]:
        assert f"shards/{name}.tar" in message
    assert "train-000000" not in message and "\n" not in message
    with pytest.raises(ValueError, match=r"1 shard.*test: shards/test-000002\.tar"):
        dm.setup("test")
    with pytest.raises(ValueError, match=r"val: shards/val-000001\.tar"):
        dm.setup("validate")
    with pytest.raises(ValueError, match=r"test: shards/test-000002\.tar"):
        dm.test_dataloader()  # a loader built without setup() checks too
    with pytest.raises(ValueError, match=r"test: shards/test-000002\.tar"):
        split_urls(load_dataset_info(str(gapped)), str(gapped), "test")  # evaluate.py and ensemble/


def test_a_missing_shard_behind_a_pipe_stops_at_open(gapped: Path) -> None:
    dm = shard_data_module(f"pipe:cat {gapped}", batch_size=2, num_workers=0, clip_seconds=0.5)
    dm.setup("test")  # remote: nothing to list up front
    with pytest.raises(ValueError, match=r"shard pipe:cat .*/shards/test-000002\.tar could not be opened"):
        [batch for batch in dm.test_dataloader()]
    assert dm.bad_samples == 0  # stopped, not counted and skipped


def test_label_that_is_not_its_ids_class_is_a_counted_bad_sample(tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    make_dataset(tmp_path, num_classes=2, per_class={"train": 2, "val": 4, "test": 1}, shards_per_split=2)
    unknown, swapped = keys_in(tmp_path / "shards/val-000000.tar")[:2]
    rewrite_member(tmp_path / "shards/val-000000.tar", unknown, label="joy")  # label_id still valid
    rewrite_member(tmp_path / "shards/val-000000.tar", swapped, label="class1")
    assert meta_of(tmp_path / "shards/val-000000.tar", swapped)["label_id"] == 0  # class0's id, class1's name
    dm = shard_data_module(str(tmp_path), batch_size=2, num_workers=0, clip_seconds=0.5)
    with caplog.at_level(logging.WARNING):
        keys = [key for batch in dm.val_dataloader() for key in batch["key"]]
    assert unknown not in keys and swapped not in keys and len(keys) == 6
    assert dm.bad_samples == 2
    messages = [r.getMessage() for r in caplog.records]
    for key in (unknown, swapped):
        assert any(key in m and "val-000000.tar" in m and "does not match label_id" in m for m in messages), messages


def fake_test_run(tmp_path: Path, datamodule: ShardDataModule, limit: float | int = 1.0):
    trainer = SimpleNamespace(sanity_checking=False, current_epoch=0, global_rank=0, global_step=3, loggers=[],
                              default_root_dir=str(tmp_path), datamodule=datamodule, limit_test_batches=limit)
    return trainer, SimpleNamespace(class_names=datamodule.classes, hparams={})


def score_batches(callback: ReportCallback, trainer, module, datamodule: ShardDataModule,
                  max_batches: int | None = None) -> None:
    """What a test loop does with the callback: every batch's logits (perfect ones), then the epoch end."""
    for index, batch in enumerate(datamodule.test_dataloader()):
        if index == max_batches:
            break
        logits = torch.nn.functional.one_hot(batch["label"], 2).float()
        callback.on_test_batch_end(trainer, module, {"logits": logits}, batch, index)
    callback.on_test_epoch_end(trainer, module)


def test_test_scored_on_fewer_samples_stops_unless_allowed(tmp_path: Path) -> None:
    make_dataset(tmp_path / "data", num_classes=2, per_class={"train": 2, "val": 1, "test": 4}, shards_per_split=2)
    victim = keys_in(tmp_path / "data/shards/test-000001.tar")[0]
    rewrite_member(tmp_path / "data/shards/test-000001.tar", victim, flac=b"fLaC-truncated")
    strict = shard_data_module(str(tmp_path / "data"), batch_size=3, num_workers=0, clip_seconds=0.5)
    trainer, module = fake_test_run(tmp_path / "strict", strict)
    with pytest.raises(ValueError, match=r"scored 7 of 8 test samples .*data\.allow_incomplete=true"):
        score_batches(ReportCallback(mistakes=0), trainer, module, strict)
    report = json.loads((tmp_path / "strict/reports/test/report.json").read_text())
    assert report["coverage"]["summary"] == "scored 7 of 8 test samples (1 not scored; incomplete)"
    assert "scored 7 of 8" in (tmp_path / "strict/reports/test/classification_report.txt").read_text()

    allowed = shard_data_module(str(tmp_path / "data"), batch_size=3, num_workers=0, clip_seconds=0.5,
                              allow_incomplete=True)
    trainer, module = fake_test_run(tmp_path / "allowed", allowed)
    callback = ReportCallback(mistakes=0)
    score_batches(callback, trainer, module, allowed)
    assert callback.coverage["test"].summary == "scored 7 of 8 test samples (1 not scored; allowed)"
    report = json.loads((tmp_path / "allowed/reports/test/report.json").read_text())
    assert report["coverage"]["complete"] is False and report["coverage"]["allowed"] is True

    trainer, module = fake_test_run(tmp_path / "limited", strict, limit=1)  # one batch on purpose: no error
    callback = ReportCallback(mistakes=0)
    score_batches(callback, trainer, module, strict, max_batches=1)
    assert callback.coverage["test"].summary.endswith("(5 not scored; limited by trainer.limit_test_batches=1)")


def test_complete_test_says_so(tmp_path: Path) -> None:
    make_dataset(tmp_path / "data", num_classes=2, per_class={"train": 2, "val": 1, "test": 4}, shards_per_split=2)
    dm = shard_data_module(str(tmp_path / "data"), batch_size=3, num_workers=0, clip_seconds=0.5)
    trainer, module = fake_test_run(tmp_path, dm)
    callback = ReportCallback(mistakes=0)
    score_batches(callback, trainer, module, dm)
    assert callback.coverage["test"].summary == "scored 8 of 8 test samples" and callback.coverage["test"].complete


def test_verify_lists_every_unreadable_member_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    config = small_corpus(tmp_path / "corpus")
    info = prepare(config)
    out = Path(config.output)
    shard = out / info.splits["train"].shards[0]
    victims = keys_in(shard)[:2]
    for victim in victims:
        rewrite_member(shard, victim, flac=b"fLaC\x00\x00\x00\x22" + bytes(range(200)))
    assert verify.main([str(out)]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if "unreadable .flac" in line]
    assert len(errors) == 2
    for victim, line in zip(victims, errors):
        assert victim in line and ".tar" in line and "Error" in line


@pytest.mark.slow
def test_train_and_evaluate_stop_on_an_incomplete_test_unless_allowed(tmp_path: Path, capsys, monkeypatch) -> None:
    """Through train.py and evaluate.py: 7 of 8 test samples readable."""
    from prediction import evaluate_command as evaluate
    from tests.in_process import run_command
    from training import command as train
    from evaluation.coverage import IncompleteScoreError
    from tests.tiny_train_config import make_tiny_run
    from tests.wandb_records import read_wandb_records

    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    config = make_tiny_run(tmp_path, epochs=1)
    shard = tmp_path / "data/shards/test-000001.tar"
    rewrite_member(shard, keys_in(shard)[0], flac=b"fLaC-truncated")
    base = ["--config", str(config), "--trainer.max_epochs=1"]
    train.main(base + ["--data.allow_incomplete=true"])
    assert "scored 7 of 8 test samples (1 not scored; allowed)" in capsys.readouterr().out  # the printed summary
    run = tmp_path / "runs/tiny"
    assert json.loads((run / "reports/test/report.json").read_text())["coverage"]["summary"].startswith("scored 7 of 8")
    summary = read_wandb_records(next((run / "wandb").glob("offline-run-*")))["summary"]
    assert summary["test/coverage"] == "scored 7 of 8 test samples (1 not scored; allowed)"

    with pytest.raises(IncompleteScoreError, match="scored 7 of 8 test samples"):
        train.main(base + ["--run.name=strict"])
    assert "scored 7 of 8" in (tmp_path / "runs/strict/reports/test/classification_report.txt").read_text()

    checkpoint = next((run / "checkpoints").glob("epoch*.ckpt"))
    args = ["--model", str(checkpoint), "--data_root", str(tmp_path / "data"), "--device", "cpu"]
    report = evaluate.main(args + ["--output_dir", str(tmp_path / "allowed"), "--allow_incomplete", "true"])
    assert report["coverage"]["summary"] == "scored 7 of 8 test samples (1 not scored; allowed)"
    assert "scored 7 of 8 test samples (1 not scored; allowed)" in capsys.readouterr().out
    result = run_command(evaluate.run, [*args, "--output_dir", str(tmp_path / "strict_eval")], capsys, monkeypatch,
                         log_to_stderr=True)  # evaluate.py as a user runs it
    assert result.returncode == 1 and "scored 7 of 8 test samples" in result.stderr, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    saved = json.loads((tmp_path / "strict_eval/report.json").read_text())
    assert saved["coverage"]["complete"] is False and saved["skipped_samples"][0]["key"].startswith("test_")

    # A shard gone: train.py stops before training, evaluate.py before scoring, each naming it.
    (tmp_path / "data/shards/val-000001.tar").unlink()
    (tmp_path / "data/shards/test-000000.tar").unlink()
    with pytest.raises(ValueError, match=r"2 shard.*val: shards/val-000001\.tar; test: shards/test-000000\.tar"):
        train.main(base + ["--run.name=gone"])
    assert not list((tmp_path / "runs/gone").glob("checkpoints/*.ckpt"))
    with pytest.raises(ValueError, match=r"test: shards/test-000000\.tar"):
        evaluate.main(args + ["--output_dir", str(tmp_path / "gone_eval")])
