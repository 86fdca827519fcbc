"""ShardDataModule's four setting groups and the flat ``data:`` section that sets them by name.

The groups are internal structure: every ``data.<key>`` a config or the command line sets is still one
parameter of ``shard_data_module`` (what LightningCLI reads), with the default its group has, and
checkpoints still store the flat keys as plain values.
"""
from __future__ import annotations

import dataclasses
import inspect
import io
import pickle
from pathlib import Path

import pytest
import torch

from datamodules import ClipShape, Loading, ShardDataModule, SplitChoice, TrainingStream, shard_data_module
from tests.shard_factory import make_dataset

GROUPS = (ClipShape, SplitChoice, TrainingStream, Loading)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ds")
    make_dataset(path, per_class={"train": 2, "val": 1, "test": 1}, shards_per_split={"train": 1, "val": 1, "test": 1})
    return path


def _plain(value: object) -> object:
    return tuple(value) if isinstance(value, (list, tuple)) else value


def test_every_data_key_is_one_group_field_with_the_same_default() -> None:
    flat = {name: p.default for name, p in inspect.signature(shard_data_module).parameters.items() if name != "data_root"}
    fields = [(f.name, f.default) for group in GROUPS for f in dataclasses.fields(group)]
    assert sorted(name for name, _ in fields) == sorted(flat), "a data.* key is missing from the groups, or in two"
    differing = {name: (flat[name], default) for name, default in fields if _plain(flat[name]) != _plain(default)}
    assert not differing, f"data.* defaults differ from their group's (flat, group): {differing}"
    assert list(inspect.signature(ShardDataModule).parameters) == ["data_root", "clips", "splits", "stream", "loading"]


def test_the_flat_keys_land_in_their_groups(root: Path) -> None:
    dm = shard_data_module(str(root), batch_size=3, num_workers=0, clip_seconds=0.5, padding="repeat",
                           train_splits=["train"], shuffle_buffer=7, seed=5, eval_crop="start", allow_incomplete=True)
    assert dm.loading == Loading(batch_size=3, num_workers=0, allow_incomplete=True)
    assert dm.clips == ClipShape(clip_seconds=0.5, padding="repeat", eval_crop="start")
    assert dm.stream == TrainingStream(shuffle_buffer=7, seed=5) and dm.splits == SplitChoice()
    assert dm.contract.padding == "repeat" and dm.contract.eval_crop == "start" and dm.allow_incomplete
    assert next(iter(dm.val_dataloader()))["audio"].shape[1] == 8000  # clip_seconds x 16 kHz


def test_checkpoints_keep_the_flat_keys_as_plain_values(root: Path) -> None:
    dm = shard_data_module(str(root), batch_size=3, num_workers=0, fold=None)
    expected = {"data_root", *(f.name for group in GROUPS for f in dataclasses.fields(group))}
    assert set(dm.hparams) == expected and dm.hparams["batch_size"] == 3
    buffer = io.BytesIO()
    torch.save({"datamodule_hyper_parameters": dict(dm.hparams)}, buffer)
    buffer.seek(0)
    assert torch.load(buffer, weights_only=True)["datamodule_hyper_parameters"]["clip_seconds"] == 4.0
    pickle.dumps(dm.loading)  # groups travel to loader worker processes with the datamodule


@pytest.mark.parametrize("group, values, key", [
    (Loading, {"batch_size": 0}, "data.batch_size=0"),
    (Loading, {"num_workers": -1}, "data.num_workers=-1"),
    (ClipShape, {"clip_seconds": 0.0}, "data.clip_seconds=0.0"),
    (TrainingStream, {"shuffle_buffer": 0}, "data.shuffle_buffer=0"),
    (TrainingStream, {"samples_per_epoch": 0}, "data.samples_per_epoch=0"),
])
def test_a_bad_setting_is_named(group: type, values: dict, key: str) -> None:
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        group(**values)
