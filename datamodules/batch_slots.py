"""BatchSlots: batch buffers that loader workers fill and reuse, instead of a new shared-memory file per batch.

Why by hand: torch sends a worker's tensors to the main process through shared memory
(torch.multiprocessing's reductions; default strategy ``file_descriptor``), and every tensor of
every batch gets a new shared-memory file: the worker faults in every page of it (the kernel
zeroes each one), and the main process receives each file descriptor over a new Unix-socket
connection with an HMAC handshake (multiprocessing.resource_sharer), three per batch (signal,
lengths, labels). benchmarks/bench_input.py measured it (docs/performance.md): with one worker,
about 65 page faults per clip in the worker and the main process spending most of the 0-worker
cost per clip just receiving. Torch cannot reuse those buffers because it cannot know when the
consumer is done with one; here the consumer's side says so.

The protocol:

- The datamodule makes the pool (one anonymous ``MAP_SHARED`` mapping) before the loader forks
  its workers, so every worker shares its pages with the main process. Worker ``w`` owns slots
  ``w * per_worker ...``; a slot holds one batch: the float32 signal rows, then int64 lengths and
  labels. The first page holds each slot's owner word: 0 free, else the pid of the worker that
  filled it.
- A worker takes one of its free slots by writing its pid there (under the pool's lock), writes the batch into it and
  sends a :class:`SlotBatch`: the slot's index and the small fields (keys, corpora).
- The main process, unpickling a SlotBatch, maps the slot as one numpy array; the batch's tensors
  are views of it (``torch.from_numpy``). When the last of them, and every view a consumer made,
  is gone, a ``weakref.finalize`` writes 0: the slot is free. A batch a consumer keeps is never
  written over; a worker that finds no free slot sends a freshly allocated batch, as torch does.
- Slots filled by a worker that has since exited and never received (an abandoned iterator's
  queue) are freed by :meth:`BatchSlots.reclaim` when the next pass starts.
- Spawned workers (not forked) do not inherit the mapping: the pool pickles to None there and
  those workers allocate every batch, as torch does.
- At 0 workers the main process is worker 0: Collate takes a slot, receives it at once (before
  filling it, so a fill that raises frees it again) and returns the batch as views of it. Nothing
  crosses a process there, but a fresh 8 MB batch each step was faulted in page by page
  (docs/performance.md); a consumer's loop keeps two slots in turn.
"""
from __future__ import annotations

import itertools
import math
import mmap
import multiprocessing as mp
import os
import weakref
from typing import Any

import numpy as np
import torch

SLOTS_PER_WORKER = 4  # the loader's prefetch_factor (2) in flight + the batch in the step + the one before it
LOCK_WAIT = 1.0  # seconds a worker waits for the pool's lock before it allocates instead
_PAGE = mmap.PAGESIZE
_POOLS: "weakref.WeakValueDictionary[tuple[int, int], BatchSlots]" = weakref.WeakValueDictionary()
_TOKENS = itertools.count()


def _round_up(size: int, unit: int) -> int:
    return -(-size // unit) * unit


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process has the pid now: ours is gone
        return False
    return True


def _pool(token: tuple[int, int]) -> "BatchSlots | None":
    """The pool a SlotBatch or Collate was pickled from, in the process that made it; None elsewhere."""
    return _POOLS.get(token)


class BatchSlots:
    """``workers x per_worker`` reusable batch buffers of ``rows`` float32 rows of ``row_shape``.

    >>> pool = BatchSlots(workers=1, rows=2, row_shape=(3,))
    >>> index = pool.acquire(worker=0); signal, lengths, labels = pool.views(pool.slot(index), 2)
    >>> signal.shape, lengths.dtype.name, bool(pool.owners[index] == os.getpid())
    ((2, 3), 'int64', True)
    """

    def __init__(self, workers: int, rows: int, row_shape: tuple[int, ...], per_worker: int = SLOTS_PER_WORKER) -> None:
        self.rows, self.row_shape, self.per_worker = rows, tuple(row_shape), per_worker
        self.count = workers * per_worker
        self.signal_bytes = _round_up(rows * math.prod(self.row_shape) * 4, 64)  # int64 fields after it stay aligned
        self.slot_bytes = _round_up(self.signal_bytes + 2 * 8 * rows, _PAGE)
        self.header = _round_up(8 * self.count, _PAGE)
        self.memory = mmap.mmap(-1, self.header + self.count * self.slot_bytes)  # anonymous, MAP_SHARED: forks share it
        self.owners = np.frombuffer(self.memory, np.int64, count=self.count)
        self.lock = mp.Lock()  # made before the workers fork, as the memory: they share it
        self.live: set[int] = set()  # slots the main process received and still holds (main process only)
        self.token = (os.getpid(), next(_TOKENS))
        _POOLS[self.token] = self

    def __reduce__(self) -> tuple[Any, tuple[tuple[int, int]]]:
        return _pool, (self.token,)

    def acquire(self, worker: int) -> int | None:
        """In worker ``worker``: a free slot of its own, now owned by this process; None when all are in use.

        Under the pool's lock: two passes of one loader can be alive at once (a trainer that calls
        ``iter()`` again before the first pass is shut down), and then two processes are worker
        ``worker``. The wait is bounded: a worker killed while holding the lock makes the others
        allocate their batches, not hang."""
        if not self.lock.acquire(timeout=LOCK_WAIT):
            return None
        try:
            first = worker * self.per_worker
            for index in range(first, min(first + self.per_worker, self.count)):
                if self.owners[index] == 0:
                    self.owners[index] = os.getpid()
                    return index
            return None
        finally:
            self.lock.release()

    def slot(self, index: int) -> np.ndarray:
        """The bytes of slot ``index`` as one uint8 array (every view of a batch is a view of it)."""
        return np.frombuffer(self.memory, np.uint8, count=self.slot_bytes, offset=self.header + index * self.slot_bytes)

    def views(self, slot: np.ndarray, rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(signal float32 [rows, *row_shape], lengths int64 [rows], labels int64 [rows]) inside ``slot``."""
        row_bytes = math.prod(self.row_shape) * 4
        signal = slot[:rows * row_bytes].view(np.float32).reshape(rows, *self.row_shape)
        fields = slot[self.signal_bytes:self.signal_bytes + 16 * self.rows].view(np.int64)
        return signal, fields[:rows], fields[self.rows:self.rows + rows]

    def receive(self, index: int) -> np.ndarray:
        """In the main process: slot ``index``, freed for its worker once the array and all its views are gone."""
        slot = self.slot(index)
        self.live.add(index)
        weakref.finalize(slot, self._release, index).atexit = False
        return slot

    def _release(self, index: int) -> None:
        self.live.discard(index)
        self.owners[index] = 0

    def reclaim(self) -> int:
        """Free slots filled by workers that have exited and never received here; how many (main process)."""
        freed = 0
        for index in np.flatnonzero(self.owners):
            if int(index) not in self.live and not _alive(int(self.owners[index])):
                self.owners[index] = 0
                freed += 1
        return freed


class SlotBatch:
    """What a worker sends for a batch it wrote into a slot: the index, the row count and the small fields.

    Unpickled in the main process it holds the slot (:meth:`BatchSlots.receive`); :meth:`batch` gives the
    dict Collate gives in the main process, its tensors views of the slot.
    """

    def __init__(self, slots: BatchSlots, index: int, rows: int, signal_name: str, fields: dict[str, list[str]]) -> None:
        self.slots, self.index, self.rows, self.signal_name, self.fields = slots, index, rows, signal_name, fields
        self.held: np.ndarray | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "held": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if self.slots is None:
            raise RuntimeError("a loader worker sent a batch in a shared slot of a datamodule that no longer exists")
        self.held = self.slots.receive(self.index)

    def batch(self) -> dict[str, Any]:
        """``{signal_name: float32 [B, ...], "lengths": int64 [B], "label": int64 [B], "key", "corpus", "speaker"}``."""
        signal, lengths, labels = self.slots.views(self.held, self.rows)
        return {self.signal_name: torch.from_numpy(signal), "lengths": torch.from_numpy(lengths),
                "label": torch.from_numpy(labels), **self.fields}

    def pin_memory(self) -> dict[str, Any]:
        """The loader's pin-memory thread calls this: the batch in pinned memory; the slot is freed at once."""
        return {name: value.pin_memory() if isinstance(value, torch.Tensor) else value
                for name, value in self.batch().items()}


def unpack(batch: Any) -> Any:
    """A loader's output as the LightningModule takes it: a SlotBatch becomes its dict; anything else passes."""
    return batch.batch() if isinstance(batch, SlotBatch) else batch
