"""ShardDataModule on generated shards: batch contract, crops and padding, epoch plan, exactly-once
evaluation, failures. Ranks are simulated with RANK/WORLD_SIZE (the real 2-process DDP check is in
test_datamodule_ddp.py)."""
from __future__ import annotations

import json
import tarfile
from collections import Counter
from pathlib import Path

import pytest
import torch
import webdataset as wds

from data_preparation.shards.shard_format import SAMPLE_RATE, decode_audio
from datamodules import shard_data_module
from datamodules.epoch_plan import plan_epoch
from tests.shard_factory import make_dataset, read_keys

SPLITS = {"train": 8, "val": 5, "test": 3}  # per class, 4 classes
SHARDS = {"train": 4, "val": 3, "test": 1}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ds")
    make_dataset(path, per_class=SPLITS, shards_per_split=SHARDS, seconds=(0.5, 1.5), logmel=True)
    return path


def audio_by_key(root: Path, split: str) -> dict[str, torch.Tensor]:
    info = json.loads((root / "stats.json").read_text())
    out = {}
    for shard in info["splits"][split]["shards"]:
        for sample in wds.DataPipeline(wds.SimpleShardList(str(root / shard)), wds.tarfile_to_samples()):
            out[sample["__key__"]] = torch.from_numpy(decode_audio(sample["flac"])[0])
    return out


def keys_of(loader) -> list[str]:
    return [key for batch in loader for key in batch["key"]]


def simulate_rank(monkeypatch: pytest.MonkeyPatch, rank: int, world_size: int) -> None:
    monkeypatch.setenv("RANK", str(rank))
    monkeypatch.setenv("WORLD_SIZE", str(world_size))


def test_properties_come_from_stats(root: Path) -> None:
    dm = shard_data_module(str(root), batch_size=4, num_workers=0)
    assert dm.classes == ["class0", "class1", "class2", "class3"] and dm.num_classes == 4
    assert dm.class_weights == pytest.approx([1.0] * 4) and dm.info.splits["val"].num_samples == 20


def test_zero_padding_keeps_true_lengths_and_centre_crops(root: Path) -> None:
    dm = shard_data_module(str(root), batch_size=8, num_workers=0, clip_seconds=1.0, padding="zero")
    clips = audio_by_key(root, "val")
    size = SAMPLE_RATE
    seen = 0
    for batch in dm.val_dataloader():
        assert batch["audio"].dtype == torch.float32 and batch["audio"].shape[1] == size
        assert batch["lengths"].dtype == torch.int64 and batch["label"].dtype == torch.int64
        for row, key, length in zip(batch["audio"], batch["key"], batch["lengths"].tolist()):
            clip = clips[key]
            if len(clip) >= size:
                start = (len(clip) - size) // 2
                assert length == size and torch.equal(row, clip[start:start + size])
            else:
                assert length == len(clip) and torch.equal(row[:length], clip) and not row[length:].any()
            seen += 1
    assert seen == len(clips)


def test_repeat_padding_tiles_the_clip(root: Path) -> None:
    dm = shard_data_module(str(root), batch_size=8, num_workers=0, clip_seconds=1.5, padding="repeat", eval_crop="start")
    clips = audio_by_key(root, "test")
    short = 0
    for batch in dm.test_dataloader():
        assert (batch["lengths"] == int(1.5 * SAMPLE_RATE)).all()
        for row, key in zip(batch["audio"], batch["key"]):
            clip = clips[key]
            if len(clip) < row.shape[0]:
                short += 1
                index = torch.arange(row.shape[0]) % len(clip)  # position i holds clip[i mod n]
                assert torch.equal(row, clip[index])
            else:
                assert torch.equal(row, clip[:row.shape[0]])
    assert short > 0


def test_training_crops_are_random_and_evaluation_deterministic(root: Path) -> None:
    dm = shard_data_module(str(root), batch_size=4, num_workers=0, clip_seconds=0.5, shuffle_buffer=8)
    assert keys_of(dm.val_dataloader()) == keys_of(dm.val_dataloader())
    loader = dm.train_dataloader()
    first, second = list(loader), list(loader)  # epochs 0 and 1
    assert sorted(keys_of(first)) == sorted(keys_of(second)) and keys_of(first) != keys_of(second)
    rows = {k: r for b in first for k, r in zip(b["key"], b["audio"])}
    assert any(not torch.equal(rows[k], r) for b in second for k, r in zip(b["key"], b["audio"]))


@pytest.mark.parametrize("num_workers", [0, 2])
def test_training_epoch_has_equal_batches_and_no_repeats_across_ranks(
    root: Path, monkeypatch: pytest.MonkeyPatch, num_workers: int
) -> None:
    world_size, seen = 2, {}
    for rank in range(world_size):
        simulate_rank(monkeypatch, rank, world_size)
        dm = shard_data_module(str(root), batch_size=2, num_workers=num_workers, clip_seconds=0.5)
        loader = dm.train_dataloader()
        batches = list(loader)
        assert len(batches) == len(loader) and all(len(b["key"]) == 2 for b in batches)
        seen[rank] = keys_of(batches)
    assert len(seen[0]) == len(seen[1])
    every = seen[0] + seen[1]
    assert len(every) == len(set(every)), "a sample was seen twice in one epoch"
    assert set(every) <= set(read_keys(root, "train"))
    # 4 shards of 8 over 2 ranks x max(1, workers) loaders, batches of 2: every sample once.
    assert len(every) == 32


def test_samples_per_epoch_and_resampled_mode(root: Path) -> None:
    dm = shard_data_module(str(root), batch_size=4, num_workers=0, samples_per_epoch=12)
    assert len(dm.train_dataloader()) == 3
    dm = shard_data_module(str(root), batch_size=4, num_workers=2, samples_per_epoch=80, resampled=True, clip_seconds=0.5)
    loader = dm.train_dataloader()
    keys = keys_of(loader)
    assert len(loader) == 20 and len(keys) == 80 and max(Counter(keys).values()) > 1  # drawn with replacement


@pytest.mark.parametrize(("split", "world_size", "num_workers"),
                         [("val", 2, 2), ("test", 2, 2), ("val", 3, 0), ("val", 1, 2)])
def test_evaluation_sees_every_sample_exactly_once(
    root: Path, monkeypatch: pytest.MonkeyPatch, split: str, world_size: int, num_workers: int
) -> None:
    """val has 3 shards of 7, 7 and 6 samples (split by shard, uneven over 2 ranks); test has 1 (split
    by sample). Each rank's ``len()`` is the batches it yields: Lightning's bar total, and the count
    after which Lightning stops the loader, so one too few would drop samples."""
    seen = []
    for rank in range(world_size):
        simulate_rank(monkeypatch, rank, world_size)
        dm = shard_data_module(str(root), batch_size=3, num_workers=num_workers, clip_seconds=0.5)
        loader = dm.val_dataloader() if split == "val" else dm.test_dataloader()
        batches = [batch["key"] for batch in loader]
        rank_keys = [key for keys in batches for key in keys]
        assert rank_keys, f"rank {rank} got no {split} samples"
        assert len(loader) == len(batches), (rank, [len(keys) for keys in batches])
        seen += rank_keys
    assert Counter(seen) == Counter(read_keys(root, split))


def test_precomputed_logmel_batches(root: Path) -> None:
    dm = shard_data_module(str(root), batch_size=4, num_workers=0, clip_seconds=1.0, features="logmel")
    batch = next(iter(dm.val_dataloader()))
    n_mels = dm.info.logmel["n_mels"]
    assert "audio" not in batch and batch["features"].shape == (4, n_mels, dm.clip_size) == (4, n_mels, 101)
    assert batch["features"].dtype == torch.float32 and (batch["lengths"] <= dm.clip_size).all()
    row, length = batch["features"][0], int(batch["lengths"][0])
    if length < dm.clip_size:  # zero padding of a log-mel is the clip's own silence floor
        assert torch.equal(row[:, length:], torch.full_like(row[:, length:], float(row[:, :length].min())))


def test_pipe_urls(root: Path) -> None:
    dm = shard_data_module(f"pipe:cat {root}", batch_size=4, num_workers=0, clip_seconds=0.5)
    assert Counter(keys_of(dm.test_dataloader())) == Counter(read_keys(root, "test"))


def test_user_errors_name_what_is_wrong(root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="'train_aug' has no shards"):
        shard_data_module(str(root), train_splits=["train", "train_aug"]).setup("fit")
    with pytest.raises(ValueError, match="'dev' has no shards"):
        shard_data_module(str(root), test_split="dev").setup("test")
    with pytest.raises(FileNotFoundError, match="no stats.json"):
        shard_data_module(str(tmp_path))
    plain = tmp_path / "plain"
    make_dataset(plain, num_classes=2, per_class={"train": 2, "val": 1, "test": 1}, shards_per_split=1)
    with pytest.raises(ValueError, match="lists no log-mel shards"):
        shard_data_module(str(plain), features="logmel")
    simulate_rank(monkeypatch, 0, 4)
    with pytest.raises(ValueError, match="4 shards, fewer than world_size=4 x num_workers=2"):
        shard_data_module(str(root), num_workers=2).train_dataloader()
    with pytest.raises(ValueError, match="no full batch"):
        plan_epoch(samples_per_epoch=10, batch_size=8, world_size=2, workers=1)


def corrupt_one_clip(root: Path, shard: str, victim: str) -> None:
    """Rewrite ``shard`` with ``victim``'s FLAC bytes truncated."""
    path = root / shard
    samples = list(wds.DataPipeline(wds.SimpleShardList(str(path)), wds.tarfile_to_samples()))
    with wds.TarWriter(str(path)) as writer:
        for sample in samples:
            if sample["__key__"] == victim:
                sample["flac"] = sample["flac"][:60]
            writer.write({k: v for k, v in sample.items() if k in ("__key__", "flac", "json")})
    with tarfile.open(path) as tar:
        assert len(tar.getnames()) == 2 * len(samples)


def test_corrupt_sample_is_counted_and_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    make_dataset(tmp_path, num_classes=2, per_class={"train": 4, "val": 4, "test": 1}, shards_per_split=2)
    victim = read_keys(tmp_path, "val")[0]
    corrupt_one_clip(tmp_path, "shards/val-000000.tar", victim)
    dm = shard_data_module(str(tmp_path), batch_size=2, num_workers=0, clip_seconds=0.5)
    keys = keys_of(dm.val_dataloader())
    assert victim not in keys and len(keys) == 7 and dm.bad_samples == 1
    assert any(victim in record.getMessage() for record in caplog.records)
    strict = shard_data_module(str(tmp_path), batch_size=2, num_workers=0, clip_seconds=0.5, max_bad_samples=0)
    with pytest.raises(RuntimeError, match="more than 0 bad samples"):
        keys_of(strict.val_dataloader())


def test_persistent_workers_see_the_new_epoch(root: Path) -> None:
    """The epoch reaches long-lived workers through shared memory, so each epoch reshuffles."""
    dm = shard_data_module(str(root), batch_size=4, num_workers=1, clip_seconds=0.5, shuffle_buffer=8,
                         persistent_workers=True)
    loader = dm.train_dataloader()
    epochs = [keys_of(loader) for _ in range(3)]
    assert all(sorted(keys) == sorted(epochs[0]) for keys in epochs)
    assert epochs[0] != epochs[1] != epochs[2]


def test_uneven_shards_shorten_the_epoch_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    make_dataset(tmp_path, num_classes=4, per_class={"train": 8, "val": 1, "test": 1}, shards_per_split=5)
    loader = shard_data_module(str(tmp_path), batch_size=2, num_workers=4).train_dataloader()
    # 5 shards of 6-7 over 4 loaders: each loader can fill 3 batches of 2 without repeating a shard.
    assert len(loader) == 12
    assert any("covers 24 of 32 samples" in record.getMessage() for record in caplog.records)
