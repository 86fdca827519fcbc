"""Map a picklable function over items on all cores, results in input order, with progress (rate, ETA)."""
from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import sys
from typing import Callable, ContextManager, Iterable, Iterator, Sequence, TypeVar, Union

from data_preparation.progress import Progress

T = TypeVar("T")
R = TypeVar("R")


def resolve_workers(workers: int) -> int:
    """``workers <= 0`` means every core this process may use."""
    if workers > 0:
        return workers
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS has no affinity API
        return os.cpu_count() or 1


class WorkerPool:
    """Worker processes forked once, before the main process builds its per-clip state, for every
    ``ordered_map`` of one run (a preparation: decoding, then shards).

    Workers forked later share the main process's pages copy-on-write while it holds one entry per
    clip, so every page the main process then writes (a decode result stored on its entry, an
    object pickled for a worker: reference counts) is copied, and so is every page a worker
    writes. Measured at 100,000 clips, the process tree's PSS grew from 633 to 867 MiB while
    decoding; with workers forked before the clip list exists, which share none of it, it stays
    within 560-590 MiB (with the smaller entries of inputs/entries.py).
    """

    def __init__(self, workers: int) -> None:
        self.workers = resolve_workers(workers)
        self.pool = None
        if self.workers > 1:
            # Frozen until the pool ends, not just while forking (``_forked_pool``): the main process
            # goes on to make hundreds of thousands of objects, and each full collection they set off
            # would write to every object imported so far, copying the pages it shares with the workers.
            gc.freeze()
            try:
                self.pool = _context().Pool(self.workers, initializer=_worker_init)
            except BaseException:
                gc.unfreeze()
                raise

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """End the workers (a run calls it once its last parallel stage is done); later maps run in this process."""
        if self.pool is not None:
            self.pool.terminate()  # as a Pool's own ``with`` does: nothing is left running
            self.pool.join()
            self.pool, self.workers = None, 1
            gc.unfreeze()


Workers = Union[int, WorkerPool]  # a process count (a pool forked per call), or the run's pool


def _worker_init() -> None:
    # One process per core already; nested BLAS/torch threads would only oversubscribe.
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = "1"
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


def ordered_map(
    fn: Callable[[T], R], items: Sequence[T], workers: Workers, desc: str, progress: bool = True, done: int = 0,
    unit: str = "file",
) -> Iterator[R]:
    """Yield ``fn(item)`` for each item in order; on ``workers`` processes when more than one (a
    ``WorkerPool``'s, or a pool forked for this call).

    ``done``: items of the same stage a killed run already finished (progress counts them, not the rate).
    """
    count = min(workers.workers if isinstance(workers, WorkerPool) else resolve_workers(workers), max(1, len(items)))
    bar = Progress(len(items) + done, desc, enabled=progress, initial=done, unit=unit)
    with bar:
        if count == 1:
            for item in items:
                yield fn(item)
                bar.update()
            return
        chunksize = max(1, min(16, len(items) // (count * 32)))
        with _pool(workers, count) as pool:
            for result in pool.imap(fn, items, chunksize=chunksize):
                yield result
                bar.update()


def _pool(workers: Workers, count: int) -> ContextManager[multiprocessing.pool.Pool]:
    """The run's pool (left running for its next stage), or one of ``count`` processes for this call."""
    if isinstance(workers, WorkerPool):
        return contextlib.nullcontext(workers.pool)
    return _forked_pool(count)


def _forked_pool(workers: int) -> multiprocessing.pool.Pool:
    """The pool, with every object the parent holds (the clip list: hundreds of MB at 100,000 clips)
    moved out of the garbage collector's reach while the workers fork (``gc.freeze``, as the gc docs
    advise for pre-fork servers). Otherwise a worker's first full collection writes to every one of
    those objects and so copies every page they share with the parent: measured at 100,000 clips,
    the process tree's PSS was 2.1x that at 10,000, against 1.27x for the main process alone."""
    gc.freeze()
    try:
        return _context().Pool(workers, initializer=_worker_init)
    finally:
        gc.unfreeze()


def _context() -> multiprocessing.context.BaseContext:
    """fork where the OS has it, as torch's DataLoader does: workers start at once, and they set
    torch to one thread (``_worker_init``), which is what makes forking after torch use safe.
    spawn/forkserver would re-import the ``__main__`` module (and torch with it) in every worker."""
    if "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def run_ordered(fn: Callable[[T], R], items: Iterable[T], workers: int, desc: str, progress: bool = True) -> list[R]:
    return list(ordered_map(fn, list(items), workers, desc, progress))
