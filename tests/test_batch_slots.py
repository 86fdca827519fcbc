"""Loader workers write batches into reused shared slots (datamodules/batch_slots.py) without aliasing any batch a consumer holds."""
from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from datamodules import shard_data_module
from datamodules.batch_slots import BatchSlots, SlotBatch, unpack
from datamodules.pipeline_stages import Collate
from tests.shard_factory import make_dataset

SPLITS = {"train": 12, "val": 6}  # per class, 4 classes: 48 training clips, 12 batches of 4 > the slots of one worker
SHARDS = {"train": 4, "val": 2}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("slots")
    make_dataset(path, per_class=SPLITS, shards_per_split=SHARDS, seconds=(0.5, 1.5), codec="raw")
    return path


@dataclass
class _Meta:
    key: str
    corpus: str
    label_id: int
    speaker: str = "s"


def _copy(batch: dict) -> dict:
    return {name: value.clone() if isinstance(value, torch.Tensor) else list(value) for name, value in batch.items()}


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) if isinstance(a[k], torch.Tensor) else a[k] == b[k]
                                        for k in a)


@pytest.mark.parametrize("workers", [0, 1])
def test_held_batches_are_never_written_over(root: Path, workers: int) -> None:
    """Every batch of an epoch kept (three times the slots one worker, or the main process at 0 workers, has):
    each still holds what it held on arrival."""
    loader = shard_data_module(str(root), batch_size=4, num_workers=workers, clip_seconds=0.5,
                               pin_memory=False).train_dataloader()
    held, copies = [], []
    for batch in loader:
        held.append(batch)
        copies.append(_copy(batch))
    assert len(held) == 12 > loader.slots.per_worker
    assert all(_same(batch, copy) for batch, copy in zip(held, copies))
    assert not torch.equal(held[0]["audio"], held[1]["audio"]) and held[0]["key"] != held[1]["key"]
    assert 0 < len(loader.slots.live) <= loader.slots.per_worker  # the first batches came in slots, the rest freshly
    del held, batch
    assert not loader.slots.live and not loader.slots.owners.any()  # dropped batches free their slots


@pytest.mark.parametrize("workers", [0, 1])
def test_a_worker_reuses_its_slots_once_batches_are_dropped(root: Path, workers: int) -> None:
    """Consumed one by one, the epoch's 12 batches travel in at most the worker's 4 slots (the same memory); at 0
    workers in two (a loop's variable still holds the last batch while the next one is made)."""
    loader = shard_data_module(str(root), batch_size=4, num_workers=workers, clip_seconds=0.5,
                               pin_memory=False).train_dataloader()
    pointers = {batch["audio"].data_ptr() for batch in loader}
    base = np.frombuffer(loader.slots.memory, np.uint8).ctypes.data
    assert len(pointers) <= (loader.slots.per_worker if workers else 2)
    assert all(base <= pointer < base + len(loader.slots.memory) for pointer in pointers)
    assert not loader.slots.live and not loader.slots.owners.any()


def test_a_batch_that_fails_to_fill_frees_its_slot_at_0_workers() -> None:
    """In the main process a slot is received before it is filled, so a collation that raises leaves it free."""
    slots = BatchSlots(workers=1, rows=2, row_shape=(4,), per_worker=1)
    collate = Collate("audio", size=4, slots=slots)
    good = {"signal": np.arange(3, dtype=np.int16), "length": 3, "meta": _Meta("a", "c", 1)}
    with pytest.raises(ValueError):
        collate([good, {**good, "signal": np.ones((2, 2), np.float32)}])  # a row that does not fit
    assert not slots.live and not slots.owners.any()
    batch = collate([good, good])
    assert batch["audio"].tolist() == [[0.0, 1 / 32768, 2 / 32768, 0.0]] * 2 and slots.live == {0}
    del batch
    assert not slots.live and not slots.owners.any()


@pytest.mark.parametrize("split", ["train", "val"])
def test_batches_from_slots_equal_the_main_process_batches(root: Path, split: str) -> None:
    """One worker (slots) and none (main process) give the same batches, value for value, lengths and labels too."""
    def epoch(workers: int) -> list[dict]:
        dm = shard_data_module(str(root), batch_size=5, num_workers=workers, clip_seconds=0.75, pin_memory=False)
        loader = dm.train_dataloader() if split == "train" else dm.val_dataloader()
        return [_copy(batch) for batch in loader]

    main, worker = epoch(0), epoch(1)
    assert len(main) == len(worker) > 0 and all(_same(a, b) for a, b in zip(main, worker))
    assert worker[-1]["audio"].shape[0] <= 5  # a partial evaluation batch fits a slot too


def test_a_full_pool_falls_back_and_a_received_slot_is_freed_with_its_last_view() -> None:
    slots = BatchSlots(workers=1, rows=2, row_shape=(3,), per_worker=2)
    assert [slots.acquire(0), slots.acquire(0), slots.acquire(0)] == [0, 1, None]  # full: the caller allocates
    sent = pickle.dumps(SlotBatch(slots, 1, 2, "audio", {"key": ["a", "b"], "corpus": ["c", "c"]}))
    batch = unpack(pickle.loads(sent))
    view = batch["audio"][1:]
    del batch
    assert slots.owners[1] == os.getpid() and slots.live == {1}  # a view still holds the slot
    del view
    assert slots.owners[1] == 0 and not slots.live
    pickle.loads(sent)  # received and dropped unopened (an abandoned pass): freed as well
    assert slots.owners[1] == 0


def test_reclaim_frees_slots_of_exited_workers_only() -> None:
    slots = BatchSlots(workers=1, rows=1, row_shape=(2,), per_worker=3)
    pid = os.fork()
    if pid == 0:  # a worker that fills a slot and exits before anyone receives it
        slots.acquire(0)
        os._exit(0)
    os.waitpid(pid, 0)
    held = slots.receive(slots.acquire(0))  # one received and held here: not to be freed
    assert slots.owners[0] == pid and slots.reclaim() == 1
    assert slots.owners[0] == 0 and slots.owners[1] == os.getpid()
    del held


def test_two_live_passes_of_one_loader_do_not_share_a_slot(root: Path) -> None:
    """Two passes started at once (a trainer that calls ``iter()`` again before the first pass ends) run two
    worker 0s on the same slots, doing the same work at the same pace: they must not both take one slot."""
    reference = {key: audio for batch in shard_data_module(str(root), batch_size=2, num_workers=0, clip_seconds=0.5)
                 .val_dataloader() for key, audio in zip(batch["key"], batch["audio"].clone())}
    for _ in range(3):
        loader = shard_data_module(str(root), batch_size=2, num_workers=1, clip_seconds=0.5, pin_memory=False).val_dataloader()
        torch_loader = loader.loader.pipeline[0]  # the DataLoader: iter() starts its worker at once
        first, second = iter(torch_loader), iter(torch_loader)
        seen = [unpack(batch) for pair in zip(first, second) for batch in pair]
        assert len(seen) == 2 * 12
        assert all(torch.equal(audio, reference[key]) for batch in seen for key, audio in zip(batch["key"], batch["audio"]))
