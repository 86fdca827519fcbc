"""Another checkout's training loader beside this one's, in one process, passes alternated, the decode floor beside.

On a shared machine the load moves between runs by more than a code change moves the loader, so a
before/after taken in two runs says little. Here both loaders run in one process over the same
prepared shards: the other checkout's ``datamodules/`` package is copied to a temporary folder as
``datamodules_old`` (its imports of itself renamed; everything else, ``data_preparation`` included,
is this checkout's), and each round runs the floor (benchmarks/bench_input.py's, both readers), then
every loader once. Figures are medians over rounds, shares and ratios taken round by round.

    python -m benchmarks.loader_ab --old /work/main --root /tmp/bench/prepared2000/raw --codec raw
"""
from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

import torch

from benchmarks.bench_input import BATCH, CLIP_SECONDS, decode_floor
from benchmarks.process_usage import Pass, measure
from data_preparation.shards.shard_format import load_dataset_info, shard_urls


def old_datamodules(checkout: Path, into: Path) -> Any:
    """``checkout``'s datamodules package, importable beside this one's as ``datamodules_old``."""
    package = into / "datamodules_old"
    shutil.copytree(checkout / "datamodules", package, ignore=shutil.ignore_patterns("__pycache__"))
    for path in package.glob("*.py"):
        text = re.sub(r"\b(from|import) datamodules\b", r"\1 datamodules_old", path.read_text())
        path.write_text(text)
    sys.path.insert(0, str(into))
    import datamodules_old

    return datamodules_old


def epoch(package: Any, root: str, workers: int) -> Callable[[], int]:
    """One training epoch of ``package``'s loader (4 s crops, batch 32; persistent workers), as bench_input streams."""
    loader = package.shard_data_module(root, batch_size=BATCH, num_workers=workers, clip_seconds=CLIP_SECONDS,
                                       pin_memory=False, persistent_workers=workers > 0).train_dataloader()
    return lambda: sum(len(batch["key"]) for batch in loader)


def us(run: Pass, workers: bool = False) -> float:
    return 1e6 * (run.workers if workers else run.main).cpu / run.clips


def rounds(cases: dict[str, Callable[[], int]], count: int) -> dict[str, list[Pass]]:
    """``count`` rounds of every case in turn, after one warm-up round (page cache, heaps, persistent workers)."""
    runs: dict[str, list[Pass]] = {name: [] for name in cases}
    for number in range(count + 1):
        for name, run in cases.items():
            result = measure(run)
            if number:
                runs[name].append(result)
    return runs


def report(runs: dict[str, list[Pass]], workers: list[int]) -> None:
    floors = [min(us(a), us(b)) for a, b in zip(runs["floor mapped"], runs["floor read"])]
    median = statistics.median
    print(f"decode floor: mapped {median(map(us, runs['floor mapped'])):.1f}, read {median(map(us, runs['floor read'])):.1f}, "
          f"the cheaper per round {median(floors):.1f} CPU us per clip")
    for side in ("old", "new"):
        main = runs[f"{side}, 0 workers"]
        for count in workers:
            passes = runs[f"{side}, {count} workers"]
            if count == 0:
                share = median(f / us(p) for f, p in zip(floors, passes))
                print(f"  {side}, 0 workers: main {median(map(us, passes)):.1f} us per clip, {share:.2f} of the floor")
                continue
            worker = median(us(p, True) for p in passes)
            ratio = median(us(p, True) / us(m) for p, m in zip(passes, main))
            print(f"  {side}, {count} persistent worker(s): worker {worker:.1f} us per clip, main {median(map(us, passes)):.1f}; "
                  f"worker / main at 0 workers {ratio:.2f}")
    pairs = [us(n) / us(o) for n, o in zip(runs["new, 0 workers"], runs["old, 0 workers"])]
    print(f"  new / old at 0 workers, round by round: {median(pairs):.3f}; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", type=Path, required=True, help="the other checkout (its datamodules/ is 'old')")
    parser.add_argument("--root", required=True, help="a prepared dataset (bench_input's --work keeps them)")
    parser.add_argument("--codec", required=True, help="the dataset's codec (the floor decodes it)")
    parser.add_argument("--workers", nargs="+", type=int, default=[0, 1], help="loader worker counts (0 first)")
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    logging.getLogger("datamodules").setLevel(logging.ERROR)
    logging.getLogger("datamodules_old").setLevel(logging.ERROR)
    import datamodules

    urls = shard_urls(args.root, load_dataset_info(args.root).splits["train"])
    with tempfile.TemporaryDirectory(prefix="loader_ab_") as folder:
        old = old_datamodules(args.old, Path(folder))
        logging.getLogger("datamodules_old").setLevel(logging.ERROR)
        cases = {"floor mapped": lambda: decode_floor(urls, args.codec, True),
                 "floor read": lambda: decode_floor(urls, args.codec, False)}
        for side, package in (("old", old), ("new", datamodules)):
            cases.update({f"{side}, {count} workers": epoch(package, args.root, count) for count in args.workers})
        print(f"{args.codec}: {args.old} (old) against this checkout (new), {args.rounds} rounds")
        report(rounds(cases, args.rounds), args.workers)


if __name__ == "__main__":
    main()
