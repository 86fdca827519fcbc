"""Scale: the whole path at 1,000 / 10,000 / 100,000 clips, time per clip and peak memory per step.

Each size gets its own generated corpus (benchmarks/scale_corpus.py: four corpora, four formats
and rates, 0.5-2 s clips, speakers growing with the corpus, duplicates, label conflicts, broken
files) and runs, each as its own command, as a user types it:

1. ``prepare_data.py`` with a speaker split;  2. ``prepare_data.py`` with speaker 5-fold folds;
3. ``train.py``: one epoch of a tiny CNN streaming the speaker split's shards on the CPU (then its
   validation and test passes, as every run does);  4. ``evaluate.py`` on the test split;
5. ``predict.py`` on a folder holding every 10th clip of ``read_like`` (hard links), so per clip
   its figure scales with the corpus as the others do.

Per step: wall seconds, wall and CPU (user+sys of the command and every process it waited for)
milliseconds per clip of the corpus (per predicted file for predict), the peak RSS of its largest
process (``wait4``'s ru_maxrss) and of its whole process tree (summed PSS, polled from /proc). Then
the ratios of the largest size against the previous one: time per clip (goal <= 1.25x) and peak
RSS of preparation and training (goal <= 1.5x). The machine is shared: compare CPU ms per clip
first; wall time carries the load (printed before and after).

``nice -n 15 python -m benchmarks.bench_scale --sizes 1000 10000 --work /work/scale24``
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from benchmarks import scale_corpus
from data_preparation import demo_corpus
from data_preparation.config import FoldSpec, SplitSpec
from data_preparation.inputs.entries import Entry
from data_preparation.shards.tar_writer import make_keys
from data_preparation.shards.writers import members_by_split, split_items
from data_preparation.split.split_assignment import fold_split_names
from data_preparation.stages import assign_splits, mark_duplicates

REPO = Path(__file__).resolve().parents[1]
STEPS = ("prepare speaker", "prepare folds", "train 1 epoch", "evaluate test", "predict folder")
TIME_GOAL, RSS_GOAL = 1.25, 1.5
RSS_STEPS = ("prepare speaker", "prepare folds", "train 1 epoch")


@dataclass
class Step:
    name: str
    clips: int  # what the per-clip figures divide by
    wall: float
    cpu: float
    rss_mib: float  # the largest process
    tree_mib: float  # the process tree, summed PSS

    def per_clip(self) -> tuple[float, float]:
        return 1000 * self.wall / self.clips, 1000 * self.cpu / self.clips


class TreeSampler(threading.Thread):
    """Polls the summed PSS (/proc, Linux) of a process and all its descendants; keeps the peak.

    PSS, not RSS: preparation forks its workers from a main process holding the clip list, and
    each worker's RSS counts the pages it still shares with it (copy-on-write), so summed RSS
    counted those pages once per process (measured at 100,000 clips: 2,240 MiB of RSS, 1,155 MiB
    of PSS, 472 MiB of each worker shared with the main process)."""

    def __init__(self, pid: int, interval: float = 1.0) -> None:  # reading smaps_rollup slows its target: not often
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak_kib, self.running = pid, interval, 0, True

    def run(self) -> None:
        while self.running:
            self.peak_kib = max(self.peak_kib, sum(_pss_kib(p) for p in _tree(self.pid)))
            time.sleep(self.interval)

    def stop(self) -> float:
        self.running = False
        self.join()
        return self.peak_kib / 1024


def _pss_kib(pid: int) -> int:
    """The process's proportional set size (a page shared by N processes counts 1/N); VmRSS where
    the kernel has no smaps_rollup (before 4.14)."""
    for path, key in ((f"/proc/{pid}/smaps_rollup", "Pss:"), (f"/proc/{pid}/status", "VmRSS:")):
        try:
            with open(path) as lines:
                return next(int(line.split()[1]) for line in lines if line.startswith(key))
        except FileNotFoundError:
            continue  # no smaps_rollup (kernel < 4.14); a process that has ended has no status either
        except (OSError, StopIteration):
            return 0
    return 0


def _tree(root: int) -> list[int]:
    pids, frontier = [], [root]
    while frontier:
        pid = frontier.pop()
        pids.append(pid)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as children:
                    frontier += [int(child) for child in children.read().split()]
        except OSError:
            continue
    return pids


def run_step(name: str, command: list[str], clips: int, log: Path, ok: tuple[int, ...] = (0,)) -> Step:
    """Run one command to its end; its wall time, CPU time and peak memory (fails loudly, with its log).

    ``ok``: the exit statuses that count as the command working (predict.py exits 1 when some of its
    inputs, here the corpus's planted bad files, could not be predicted and the rest were)."""
    env = {**os.environ, "WANDB_MODE": "disabled", "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    start = time.perf_counter()
    with log.open("w") as handle:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT)
        sampler = TreeSampler(process.pid)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    wall, tree = time.perf_counter() - start, sampler.stop()
    if process.returncode not in ok:
        raise SystemExit(f"bench_scale: {name} failed (exit {process.returncode}); see {log}:\n"
                         + log.read_text()[-3000:])
    step = Step(name, clips, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, tree)
    print(f"  {row(step)}  load {_load()}", flush=True)  # as it ends: a run cut short still has its figures
    return step


def prepare_config(work: Path, specs, output: Path, workers: int, folds: bool) -> Path:
    split = ({"mode": "folds", "folds": {"by": "speaker", "k": 5, "val_fraction": 0.2}, "seed": 0} if folds
             else {"mode": "speaker", "fractions": [0.7, 0.15, 0.15], "seed": 0})
    config = {
        "corpora": [{"name": s.name, "root": s.root, "options": s.options} for s in specs],
        "taxonomy": "four", "output": str(output), "min_class_share": 0.0,
        "filter": {"min_duration": 0.4, "max_duration": 4.0}, "split": split,
        "shard_max_samples": 1000, "workers": workers, "augmentation": None, "logmel": None,
    }
    path = work / f"prepare_{'folds' if folds else 'speaker'}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def train_config(work: Path, data_root: Path) -> Path:
    """A tiny CNN (2 blocks, 16 log-mel bands) on 1 s crops, loaders in the main process, CSV logs only."""
    config = {
        "config": str(REPO / "configs" / "debug" / "cpu.yaml"),
        "seed_everything": 0,
        "trainer.max_epochs": 1,
        "model": {"net": {"class_path": "lightning_modules.components.small_cnn.SmallCNN",
                          "init_args": {"channels": [4, 8], "dropout": 0.1, "frontend": {
                              "class_path": "lightning_modules.components.frontends.LogMel",
                              "init_args": {"n_mels": 16}}}},
                  "lr": 0.01, "scheduler": "cosine", "warmup": 0.1},
        "data": {"data_root": str(data_root), "batch_size": 32, "num_workers": 0, "clip_seconds": 1.0,
                 "shuffle_buffer": 500},
        "checkpoint": {"monitor": "val/macro_f1"},
        "early_stopping": {"patience": 50},
        "report": {"every_n_val_epochs": 1000, "mistakes": 0},
        "wandb": {"mode": "disabled", "project": "ser-scale"},
        "run": {"root": str(work / "runs"), "name": "scale"},
    }
    path = work / "train.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def predict_folder(corpus: Path, work: Path) -> int:
    """Every 10th read_like clip hard-linked into one folder tree (no copy); how many files it holds."""
    folder = work / "predict_inputs"
    files = sorted((corpus / "read_like" / "audio").rglob("*.wav"))[::10]
    for path in files:
        link = folder / path.relative_to(corpus / "read_like" / "audio")
        if not link.exists():
            link.parent.mkdir(parents=True, exist_ok=True)
            os.link(path, link)
    return len(files)


def run_size(size: int, work: Path, workers: int, count: int = len(STEPS)) -> list[Step]:
    """Generate (or reuse) the corpus of ``size`` clips and run its first ``count`` steps (in STEPS order)."""
    work.mkdir(parents=True, exist_ok=True)
    corpus = work / "corpus"
    start = time.perf_counter()
    specs = scale_corpus.generate(corpus, size, workers=workers)
    print(f"{size} clips: corpus ready in {time.perf_counter() - start:.0f} s; load {_load()}", flush=True)
    clips = sum(sum(1 for _ in open(Path(s.root) / "metadata.csv")) - 1 for s in specs)
    py = [sys.executable]
    speaker, folds, run = work / "prepared_speaker", work / "prepared_folds", work / "runs" / "scale"
    commands = [
        lambda: (py + ["prepare_data.py", "--config", str(prepare_config(work, specs, speaker, workers, False)),
                       "--overwrite", "true"], clips),
        lambda: (py + ["prepare_data.py", "--config", str(prepare_config(work, specs, folds, workers, True)),
                       "--overwrite", "true"], clips),
        lambda: (py + ["train.py", "--config", str(train_config(work, speaker))], clips),
        lambda: (py + ["evaluate.py", "--model", str(run), "--data_root", str(speaker), "--split", "test",
                       "--output_dir", str(work / "evaluation"), "--device", "cpu", "--batch_size", "64"], clips),
        lambda: (py + ["predict.py", "--model", str(run), "--inputs", str(work / "predict_inputs"),
                       "--output_dir", str(work / "predictions"), "--device", "cpu", "--batch_size", "64"],
                 predict_folder(corpus, work)),
    ]
    steps = []
    for name, command in zip(STEPS[:count], commands):
        argv, per = command()
        ok = (0, 1) if name == "predict folder" else (0,)
        steps.append(run_step(name, argv, per, work / f"{name.split()[0]}_{name.split()[-1]}.log", ok))
    return steps


def planner_costs(size: int) -> dict[str, float]:
    """CPU microseconds per clip of the in-memory planning between decoding and writing, on ``size``
    synthetic kept clips (four corpora, a speaker per 100 clips): the speaker split, speaker 5-fold
    and leave-one-speaker-out plans, keys, duplicates and the per-split item lists the writers take.
    The decode-bound prepare steps hide these; a quadratic term here shows only at scale."""
    costs = {}
    for name, spec in (("speaker split", SplitSpec(mode="speaker")),
                       ("5 speaker folds", SplitSpec(mode="folds", folds=FoldSpec(by="speaker", k=5))),
                       ("leave one speaker out", SplitSpec(mode="folds", folds=FoldSpec(by="speaker", k=None)))):
        entries = _synthetic_entries(size)
        start = time.process_time()
        mark_duplicates(entries)
        outcome = assign_splits(entries, spec)
        for entry, key in zip(entries, make_keys([e.corpus for e in entries], [e.source for e in entries])):
            entry.key = key
        members = members_by_split(entries)
        for n, split in enumerate(fold_split_names(outcome)):
            split_items(members.get(split, []), list(demo_corpus.CLASSES), Path("spool"), n)
        costs[name] = 1e6 * (time.process_time() - start) / size
    return costs


def _synthetic_entries(size: int) -> list[Entry]:
    speakers = max(4, size // (4 * scale_corpus.CLIPS_PER_SPEAKER))
    entries = []
    for i in range(size):
        corpus, speaker = f"corpus{i % 4}", f"spk{(i // 4) % speakers:04d}"
        entry = Entry(corpus, Path(corpus), f"{speaker}/{i:06d}.wav", "x", speaker)
        entry.label, entry.digest, entry.duration = demo_corpus.CLASSES[(i // 7) % 4], f"{i:032x}", 1.0
        entries.append(entry)
    return entries


def table(results: dict[int, list[Step]]) -> str:
    lines = [f"| clips | step | wall s | wall ms/clip | CPU ms/clip | peak RSS MiB (largest process) | peak PSS MiB (tree) |",
             "|---:|---|---:|---:|---:|---:|---:|"]
    for size, steps in results.items():
        lines += [f"| {size} | {row(step)}" for step in steps]
    return "\n".join(lines)


def row(step: Step) -> str:
    wall, cpu = step.per_clip()
    return (f"{step.name} ({step.clips} clips) | {step.wall:.1f} | {wall:.2f} | {cpu:.2f} | {step.rss_mib:.0f} | "
            f"{step.tree_mib:.0f} |")


def ratios(results: dict[int, list[Step]]) -> str:
    """The largest size against the previous: time per clip and, for preparation and training, peak RSS."""
    sizes = sorted(results)
    if len(sizes) < 2:
        return "ratios: need two sizes"
    small, large = ({s.name: s for s in results[n]} for n in sizes[-2:])
    lines = [f"ratios {sizes[-1]} vs {sizes[-2]} (goals: time per clip <= {TIME_GOAL}x, peak RSS <= {RSS_GOAL}x):"]
    for name in [n for n in STEPS if n in large and n in small]:
        wall = large[name].per_clip()[0] / small[name].per_clip()[0]
        cpu = large[name].per_clip()[1] / small[name].per_clip()[1]
        line = f"  {name}: wall/clip {wall:.2f}x, CPU/clip {cpu:.2f}x ({'met' if cpu <= TIME_GOAL else 'NOT met'})"
        if name in RSS_STEPS:
            rss = large[name].rss_mib / small[name].rss_mib
            tree = large[name].tree_mib / small[name].tree_mib
            line += f"; peak RSS {rss:.2f}x, tree PSS {tree:.2f}x ({'met' if max(rss, tree) <= RSS_GOAL else 'NOT met'})"
        lines.append(line)
    return "\n".join(lines)


def _load() -> str:
    return Path("/proc/loadavg").read_text().strip() if Path("/proc/loadavg").exists() else "?"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--work", type=Path, required=True, help="corpora and outputs go here (one folder per size)")
    parser.add_argument("--workers", type=int, default=0, help="preparation processes; 0 = every core")
    parser.add_argument("--steps", type=int, default=len(STEPS), choices=range(1, len(STEPS) + 1),
                        help="run only the first N steps at the largest size (1: preparation with a speaker split)")
    args = parser.parse_args(argv)
    print(f"cores: {len(os.sched_getaffinity(0))}; load before: {_load()}", flush=True)
    results: dict[int, list[Step]] = {}
    for size in args.sizes:
        count = args.steps if size == args.sizes[-1] else len(STEPS)
        results[size] = run_size(size, args.work / f"clips_{size}", args.workers, count)
        print(f"{size} clips done; load {_load()}", flush=True)
    print(table(results))
    print(ratios(results))
    planner = {size: planner_costs(size) for size in args.sizes}
    print("planning between decoding and writing, CPU us per clip (synthetic clips, in this process):")
    for name in planner[args.sizes[0]]:
        figures = ", ".join(f"{size}: {planner[size][name]:.1f}" for size in args.sizes)
        ratio = (f"; {args.sizes[-1]} vs {args.sizes[-2]}: {planner[args.sizes[-1]][name] / planner[args.sizes[-2]][name]:.2f}x"
                 if len(args.sizes) > 1 else "")
        print(f"  {name}: {figures}{ratio}")
    print(f"load after: {_load()}")


if __name__ == "__main__":
    main()
