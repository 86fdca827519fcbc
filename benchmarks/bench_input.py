"""Input throughput on realistic audio, per shard codec: can one core feed one GPU?

A generated three-corpus merge at the real native rates and lengths (benchmarks/realistic_corpus.py:
48 kHz RAVDESS-like, 24,414 Hz TESS-like, 44.1 kHz SAVEE-like, 1-5 s) is prepared once per codec
(flac, wav, raw), and then, for each codec:

1. Preparation: files/s per core of ``prepare()``, and where its time goes per file (decode at the
   native rate, resample to 16 kHz, checks, FLAC spool write, shard write in the codec), timed
   stage by stage on the same files in this process.
2. Streaming: one full training epoch of ShardDataModule (4 s random crops, zero padding, batch 32)
   with 0, 1 and 2 loader workers: clips/s by the wall clock and clips per CPU-second (the CPU time
   of this process and its loader workers: the per-core rate, which other users of a shared
   machine disturb far less than the wall clock); disk bytes per clip.
3. Baselines measured in the same run: (a) librosa file by file from the original files (load at
   the native rate, resample to 16 kHz, fix the length to 4 s: the seeds' loop), (b) the decode
   floor of the codec: the same tar reader and the same decode, and nothing else (no metadata, no
   shuffle, no crop, no batch, no tensors), with the shards mapped as the pipeline reads them and
   with each member read into bytes; the floor is the cheaper of the two.
4. Stage costs of the epoch (microseconds per clip): the datamodule's own stage list timed prefix
   by prefix (tar, shuffle, decode+metadata, crop/pad, batch+collate) plus the loader, with the
   decode stage split into audio decode and JSON metadata; ``--profile`` adds a cProfile of one
   epoch.

The target (issue 13) is judged on the uncompressed codecs: >= 2,500 clips per CPU-second end to
end with 0 workers, and >= 80% of the codec's decode floor.

    python -m benchmarks.bench_input                        # 320 clips: a short run (~1-2 min)
    python -m benchmarks.bench_input --clips 4720 --repeats 3 --prep-workers 2   # full size
    python -m benchmarks.bench_input --codecs raw --profile --work /tmp/bench_input   # reuse data
"""
from __future__ import annotations

import argparse
import cProfile
import csv
import logging
import pstats
import resource
import shutil
import tempfile
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterable

import librosa
import numpy as np
import torch
import webdataset as wds

from benchmarks import realistic_corpus
from benchmarks.prep_costs import preparation_costs
from benchmarks.process_usage import Pass, measure, median_pass
from data_preparation.shards.audio_codec import CODECS, decode
from data_preparation.config import AudioFilter, PrepareConfig, SplitSpec, validate
from data_preparation.pipeline import prepare
from data_preparation.shards.shard_format import SAMPLE_RATE, DatasetInfo, load_dataset_info, shard_urls
from datamodules import ShardDataModule, shard_data_module
from datamodules.shard_datamodule import EpochLoader
from datamodules.tar_samples import tar_samples

CLIP_SECONDS, BATCH = 4.0, 32
TARGET_PER_CORE, TARGET_FLOOR_SHARE = 2500.0, 0.80


@dataclass
class Rate:
    clips: int
    wall: float  # seconds
    cpu: float  # CPU seconds of this process and the loader workers it waited for

    @property
    def per_s(self) -> float:
        return self.clips / self.wall

    @property
    def per_cpu(self) -> float:
        return self.clips / max(self.cpu, 1e-9)


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(run: Callable[[], int], repeats: int) -> Rate:
    """The fastest of ``repeats`` passes (by CPU time) after one warm-up pass (page cache, imports)."""
    run()
    best = None
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), _cpu()
        clips = run()
        rate = Rate(clips, time.perf_counter() - wall, _cpu() - cpu)
        best = rate if best is None or rate.per_cpu > best.per_cpu else best
    return best


def prepare_codec(specs, out: Path, codec: str, clips: int, workers: int) -> tuple[DatasetInfo, Rate]:
    """The merge prepared in ``codec`` (1-5 s kept, stratified 70/15/15, >= 8 training shards), and how fast.

    An earlier run's output is removed first: prepare() would find it and do nothing, and time nothing.
    """
    shutil.rmtree(out, ignore_errors=True)
    per_shard = max(4, int(0.7 * clips) // 8)
    config = validate(PrepareConfig(
        corpora=specs, output=str(out), filter=AudioFilter(min_duration=1.0, max_duration=5.0),
        split=SplitSpec(mode="stratified"), shard_max_samples=per_shard, codec=codec, workers=workers,
        progress=False, overwrite=True))
    start, cpu = time.perf_counter(), _cpu()
    info = prepare(config)
    return info, Rate(info.extra["input_files"], time.perf_counter() - start, _cpu() - cpu)


def stream_epoch(root: str, workers: int, batch: int = BATCH) -> int:
    """Clips of one training epoch as a training run gets them (4 s random crops, ``batch`` clips a batch)."""
    datamodule = shard_data_module(root, batch_size=batch, num_workers=workers, clip_seconds=CLIP_SECONDS,
                                 pin_memory=False)
    return sum(len(batch["key"]) for batch in datamodule.train_dataloader())


def decode_floor(urls: list[str], codec: str, mapped: bool = True) -> int:
    """The codec's floor: untar with the pipeline's own reader and decode the audio to float32; nothing else.

    ``mapped``: members are views of the mapped shards, as the pipeline reads them; False reads each into
    ``bytes`` (a copy, but one the decode then finds in cache). The floor is the cheaper of the two."""
    ext, clips = CODECS[codec], 0
    reader = partial(tar_samples, handler=wds.reraise_exception, mapped=mapped)
    for sample in wds.DataPipeline(wds.SimpleShardList(urls), reader):
        decode(sample[ext], codec, SAMPLE_RATE)
        clips += 1
    return clips


def librosa_files(paths: list[Path]) -> int:
    """The seeds' loop: each original file at its native rate, resampled to 16 kHz, fixed to 4 s."""
    size = int(CLIP_SECONDS * SAMPLE_RATE)
    for path in paths:
        wave, rate = librosa.load(path, sr=None, mono=True)
        librosa.util.fix_length(librosa.resample(wave, orig_sr=rate, target_sr=SAMPLE_RATE), size=size)
    return len(paths)


def train_sources(root: Path, specs) -> list[Path]:
    roots = {spec.options["name"]: Path(spec.root) for spec in specs}
    with (root / "manifest.csv").open() as handle:
        return [roots[row["corpus"]] / row["path"] for row in csv.DictReader(handle) if row["fate"] == "train"]


def bytes_per_clip(root: Path, info: DatasetInfo) -> float:
    split = info.splits["train"]
    return sum((root / path).stat().st_size for path in split.shards) / split.num_samples


def _stage_name(stage) -> str:
    """A readable name of one pipeline stage (a partial, a WebDataset filter, or a callable object)."""
    inner = getattr(stage, "func", None) or getattr(stage, "f", None)
    if inner is not None and getattr(inner, "__name__", "") == "_map":
        return type(stage.args[0]).__name__
    return getattr(inner, "__name__", None) or type(stage).__name__


def _count(items: Iterable) -> int:
    return sum(len(item["key"]) if "key" in item and isinstance(item["key"], list) else 1 for item in items)


def stage_costs(root: str, repeats: int, batch: int = BATCH) -> list[tuple[str, float]]:
    """Microseconds per clip added by each stage of the datamodule's training pipeline (0 workers)."""
    datamodule = shard_data_module(root, batch_size=batch, num_workers=0, clip_seconds=CLIP_SECONDS, pin_memory=False)
    dataset = datamodule.train_dataloader().loader.pipeline[0].dataset
    stages = dataset.pipeline
    costs, previous = [], 0.0
    first = next(i for i, stage in enumerate(stages) if "tar" in _stage_name(stage))
    for end in range(first + 1, len(stages) + 1):
        prefix = wds.DataPipeline(*stages[:end])
        rate = timed(lambda: _count(prefix), repeats)
        cost = 1e6 / rate.per_cpu
        names = [_stage_name(s) for s in stages[:first + 1]] if end == first + 1 else [_stage_name(stages[end - 1])]
        costs.append(("+".join(names), cost - previous))
        previous = cost
    loader = setup_loader(root, LoaderSetup(0), batch)  # built once, as a training run builds it (not per epoch)
    full = timed(lambda: sum(len(batch["key"]) for batch in loader), repeats)
    costs.append(("torch DataLoader + EpochLoader", 1e6 / full.per_cpu - previous))
    costs.append(("total (one epoch, 0 workers)", 1e6 / full.per_cpu))
    return costs + _decode_split(datamodule, stages, first)


def _decode_split(datamodule: ShardDataModule, stages: list, first: int) -> list[tuple[str, float]]:
    """The decode stage's two halves: the audio, and the JSON metadata with its label check."""
    from datamodules.pipeline_stages import _meta

    samples = list(wds.DataPipeline(*stages[:first + 1]))
    decode_stage = next(s.args[0] for s in stages if _stage_name(s) == "DecodeWaveform")
    whole = timed(lambda: sum(1 for s in samples if decode_stage(s)), 3)
    meta = timed(lambda: sum(1 for s in samples if _meta(s, tuple(datamodule.classes))), 3)
    return [("  of which audio decode", 1e6 / whole.per_cpu - 1e6 / meta.per_cpu),
            ("  of which JSON metadata + label check", 1e6 / meta.per_cpu)]


def profile_epoch(root: str, batch: int, top: int = 18) -> None:
    """cProfile of one training epoch with 0 workers: the functions that take the time."""
    profiler = cProfile.Profile()
    profiler.runcall(stream_epoch, root, 0, batch)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


def _corpus_line(specs, sources: list[Path]) -> str:
    parts = []
    for shape in realistic_corpus.SHAPES:
        count = sum(1 for path in sources if shape.name in path.parts)
        parts.append(f"{shape.name} {shape.rate} Hz {shape.seconds[0]:g}-{shape.seconds[1]:g} s: {count}")
    return "; ".join(parts)


def report_preparation(specs, sources: list[Path], prepared: dict, prep_workers: int, sample: int) -> None:
    for codec, (info, rate) in prepared.items():
        print(f"preparation ({codec}): {rate.clips} files in {rate.wall:.1f} s on {prep_workers} worker(s) = "
              f"{rate.per_s:.1f} files/s, {rate.per_s / prep_workers:.1f} files/s per core by the wall clock, "
              f"{rate.per_cpu:.1f} files per CPU-s")
    costs = preparation_costs(sources[:sample], list(prepared))
    codec = next(iter(prepared))  # flac was assumed: --codecs raw wav stopped here with a KeyError
    total = sum(v for k, v in costs.items() if not k.startswith("shard write")) + costs[f"shard write ({codec})"]
    print(f"preparation stages, CPU ms per file over {min(sample, len(sources))} files ({codec} total {total:.2f} ms "
          f"= {1000 / total:.0f} files/s per core before listing, splits, manifest and plots):")
    for stage, ms in costs.items():
        print(f"  {stage:<24} {ms:7.2f} ms")


@dataclass(frozen=True)
class LoaderSetup:
    """One way to run the training loader: worker count, how batches reach this process, persistence.

    ``transport``: ``slots`` is the datamodule's (reused shared batch buffers, datamodules/batch_slots.py);
    ``torch`` is torch's own (a new shared-memory file per tensor, strategy ``file_descriptor``), the
    loader before BatchSlots; ``file_system`` is torch's with that sharing strategy."""

    workers: int
    transport: str = "slots"
    persistent: bool = False

    @property
    def label(self) -> str:
        if not self.workers:
            return "0 workers"
        return f"{self.workers} workers, {self.transport}{', persistent' if self.persistent else ''}"


def loader_setups(worker_counts: list[int]) -> list[LoaderSetup]:
    setups = []
    for workers in worker_counts:
        if workers == 0:
            setups.append(LoaderSetup(0))
            continue
        setups += [LoaderSetup(workers, "torch"), LoaderSetup(workers, "file_system"), LoaderSetup(workers),
                   LoaderSetup(workers, "slots", persistent=True)]
    return setups


def setup_loader(root: str, setup: LoaderSetup, batch: int) -> EpochLoader:
    datamodule = shard_data_module(root, batch_size=batch, num_workers=setup.workers, clip_seconds=CLIP_SECONDS,
                                   pin_memory=False, persistent_workers=setup.persistent)
    if setup.transport != "slots":
        datamodule._slots = lambda size: None  # torch's own transport: what the loader did before BatchSlots
    return datamodule.train_dataloader()


def loader_pass(loader: EpochLoader, setup: LoaderSetup) -> Pass:
    strategy = torch.multiprocessing.get_sharing_strategy()
    torch.multiprocessing.set_sharing_strategy("file_system" if setup.transport == "file_system" else "file_descriptor")
    try:
        return measure(lambda: sum(len(batch["key"]) for batch in loader))
    finally:
        torch.multiprocessing.set_sharing_strategy(strategy)


def _cpu_us(run: Pass) -> float:
    return 1e6 * (run.main.cpu + run.workers.cpu) / run.clips


def _usage_text(run: Pass) -> str:
    main, workers = run.per_clip(run.main), run.per_clip(run.workers)
    return (f"CPU us per clip: main {main[0]:6.1f}, workers {workers[0]:6.1f}; page faults per clip (minor/major): "
            f"main {main[1]:5.1f}/{main[2]:.1f}, workers {workers[1]:5.1f}/{workers[2]:.1f}")


def report_streaming(codec: str, root: Path, info: DatasetInfo, librosa_rate: Rate, args) -> dict:
    """The floor and every loader setup, ``args.repeats`` passes each, interleaved; medians printed."""
    urls = shard_urls(str(root), info.splits["train"])
    setups = loader_setups(args.workers)
    loaders = {setup: setup_loader(str(root), setup, args.batch) for setup in setups}
    floors = {"mapped": True, "read": False}
    runs: dict[Any, list[Pass]] = {**{name: [] for name in floors}, **{setup: [] for setup in setups}}
    for repeat in range(args.repeats + 1):  # the first round warms up (page cache, heaps, persistent workers)
        for key in runs:
            if key in floors:
                run = measure(lambda: decode_floor(urls, codec, mapped=floors[key]))
            else:
                run = loader_pass(loaders[key], key)
            if repeat:
                runs[key].append(run)
    medians = {key: median_pass(value) for key, value in runs.items()}
    floor = max((medians[name] for name in floors), key=lambda run: run.per_cpu)
    print(f"{codec}: {bytes_per_clip(root, info) / 1024:7.1f} KiB per clip on disk; decode floor "
          f"{floor.per_cpu:7.0f} clips per CPU-s ({floor.clips / floor.wall:7.0f} clips/s wall); {_usage_text(floor)} "
          f"(medians of {args.repeats} interleaved passes; load {' '.join(f'{x:.2f}' for x in _load())}); the cheaper "
          f"of shards mapped {_cpu_us(medians['mapped']):.1f} and members read into bytes {_cpu_us(medians['read']):.1f} "
          f"CPU us per clip")
    for setup in setups:
        run = medians[setup]
        print(f"  {setup.label + ':':<34} {run.clips / run.wall:7.0f} clips/s wall, {run.per_cpu:7.0f} clips per CPU-s "
              f"({run.clips} clips); x floor {run.per_cpu / floor.per_cpu:4.2f} (per CPU-s), "
              f"{floor.wall / run.wall * run.clips / floor.clips:4.2f} (wall); x librosa "
              f"{run.per_cpu / librosa_rate.per_cpu:5.1f} (per CPU-s); {_usage_text(run)}")
    return {"floor": floor, "setups": {setup: medians[setup] for setup in setups}}


def report_stages(codec: str, root: Path, repeats: int, batch: int) -> None:
    print(f"  stage costs ({codec}, 0 workers), CPU us per clip:")
    for name, cost in stage_costs(str(root), repeats, batch):
        print(f"    {name:<44} {cost:8.1f}")


def verdict(results: dict) -> None:
    """The goals: 0 workers >= 2,500 clips per CPU-s at >= 80% of the floor (uncompressed codecs), and a
    worker's CPU per clip no more than the main process's at 0 workers (the datamodule's own transport)."""
    for codec, result in results.items():
        setups, floor = result["setups"], result["floor"]
        main = next((run for setup, run in setups.items() if setup.workers == 0), None)
        if main is None:
            continue
        share = main.per_cpu / floor.per_cpu
        if codec in ("wav", "raw"):
            ok = main.per_cpu >= TARGET_PER_CORE and share >= TARGET_FLOOR_SHARE
            print(f"target {codec}: {main.per_cpu:.0f} clips per CPU-s (>= {TARGET_PER_CORE:.0f}) at {share:.0%} of its "
                  f"floor (>= {TARGET_FLOOR_SHARE:.0%}): {'met' if ok else 'NOT met'}")
        reference = main.per_clip(main.main)[0]
        for setup, run in setups.items():
            if setup.workers and setup.transport == "slots":
                worker = run.per_clip(run.workers)[0]
                print(f"target {codec}, {setup.label}: worker CPU {worker:.1f} us per clip <= the main process's "
                      f"{reference:.1f} us at 0 workers: {'met' if worker <= reference else 'NOT met'}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=320, help="clips in the generated merge (full size: 4720)")
    parser.add_argument("--codecs", nargs="+", default=list(CODECS), choices=list(CODECS))
    parser.add_argument("--workers", nargs="+", type=int, default=[0, 1, 2], help="loader worker counts")
    parser.add_argument("--batch", type=int, default=BATCH, help="clips per batch")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed passes per figure after a warm-up (streaming: interleaved, medians; else the best)")
    parser.add_argument("--prep-workers", type=int, default=1, help="preparation processes")
    parser.add_argument("--prep-sample", type=int, default=60, help="files timed stage by stage")
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of one epoch per codec")
    parser.add_argument("--work", type=Path, default=None,
                        help="folder for the corpus (kept, reused) and the shards (prepared again each run)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    logging.getLogger("datamodules").setLevel(logging.ERROR)  # short benchmark epochs warn of uneven shards
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_input_"))
    specs = realistic_corpus.generate(work / f"corpus{args.clips}", args.clips, workers=args.prep_workers)
    prepared = {codec: prepare_codec(specs, work / f"prepared{args.clips}" / codec, codec, args.clips, args.prep_workers)
                for codec in args.codecs}
    first = work / f"prepared{args.clips}" / args.codecs[0]
    sources = train_sources(first, specs)
    print(f"data: {work}; load average {' '.join(f'{x:.2f}' for x in _load())} at start (a shared machine is not quiet)")
    print(f"corpus: {_corpus_line(specs, sources)} (training split); 4 s random crops, batch {args.batch}")
    report_preparation(specs, sources, prepared, args.prep_workers, args.prep_sample)
    librosa_rate = timed(lambda: librosa_files(sources), args.repeats)
    print(f"librosa file by file: {librosa_rate.per_cpu:7.1f} clips per CPU-s ({librosa_rate.per_s:7.1f} clips/s wall)")
    results = {}
    for codec in args.codecs:
        root = work / f"prepared{args.clips}" / codec
        results[codec] = report_streaming(codec, root, load_dataset_info(str(root)), librosa_rate, args)
        report_stages(codec, root, args.repeats, args.batch)
        if args.profile:
            profile_epoch(str(root), args.batch)
    verdict(results)
    print(f"load average {' '.join(f'{x:.2f}' for x in _load())} at the end")


def _load() -> tuple[float, float, float]:
    import os

    return os.getloadavg()


if __name__ == "__main__":
    main()
