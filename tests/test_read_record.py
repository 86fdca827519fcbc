"""data.read_log: each rank's record of the batches its loader delivered (datamodules/read_record.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from datamodules import shard_data_module
from datamodules.read_record import read_records
from tests.shard_factory import make_dataset, read_keys


def test_each_rank_records_exactly_the_keys_it_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_dataset(tmp_path / "data", num_classes=2, per_class={"train": 4, "val": 3}, shards_per_split=2,
                 seconds=(0.2, 0.3))
    loaded = {}
    for rank in (0, 1):
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "2")
        monkeypatch.setenv("SLURMD_NODENAME", f"node{rank}")
        dm = shard_data_module(str(tmp_path / "data"), batch_size=2, num_workers=0, clip_seconds=0.2,
                             read_log=str(tmp_path / "reads"))
        loaded[rank] = {stage: [key for batch in loader for key in batch["key"]]
                        for stage, loader in (("train", dm.train_dataloader()), ("val", dm.val_dataloader()))}
    records = read_records(tmp_path / "reads")
    assert {(r["rank"], r["world_size"], r["node"], r["epoch"]) for r in records} == {(0, 2, "node0", 0), (1, 2, "node1", 0)}
    for rank in (0, 1):
        for stage in ("train", "val"):
            recorded = [key for r in records if r["rank"] == rank and r["stage"] == stage for key in r["keys"]]
            assert recorded == loaded[rank][stage] and recorded
    assert sorted(loaded[0]["val"] + loaded[1]["val"]) == sorted(read_keys(tmp_path / "data", "val"))


def test_no_record_unless_asked(tmp_path: Path) -> None:
    make_dataset(tmp_path / "data", num_classes=2, per_class={"train": 2, "val": 1}, shards_per_split=1,
                 seconds=(0.2, 0.3))
    dm = shard_data_module(str(tmp_path / "data"), batch_size=2, num_workers=0, clip_seconds=0.2)
    assert dm.read_record is None and list(dm.val_dataloader())
    assert not any(tmp_path.rglob("rank*.jsonl"))
