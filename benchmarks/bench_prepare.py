"""Preparation and read-back throughput, against the seeds' way of reading audio.

1. Preparation: files/s of ``prepare()`` on a generated corpus (22.05 kHz WAV, like the public
   corpora's mix of rates), decoding on every core.
2. Read-back, one process (clips/s per core): stream the prepared train split with WebDataset
   and decode every FLAC sample to a 16 kHz waveform, versus the baseline the seeds used:
   ``librosa.load`` of each source file at its native rate, then resampling to 16 kHz.

Both read-back loops run on a warm page cache, so they compare CPU cost only: FLAC decoding
versus reading 16-bit WAV plus a soxr resample. What the shards buy beyond that (a few large
sequential reads instead of one open per clip, ~40% fewer bytes than 16 kHz WAV, streaming from
object storage) does not show up here and matters most on network file systems.

``python -m benchmarks.bench_prepare [--speakers 8 --clips-per-class 12 --workers 0]``
"""
from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

import librosa
import numpy as np
import webdataset as wds

from data_preparation.config import CorpusSpec, PrepareConfig, SplitSpec, validate
from data_preparation.demo_corpus import generate
from data_preparation.parallel import resolve_workers
from data_preparation.pipeline import prepare
from data_preparation.shards.shard_format import AUDIO_EXT, SAMPLE_RATE, decode_audio


def decode_sample(sample: dict) -> tuple[np.ndarray, str]:
    wave, _ = decode_audio(sample[AUDIO_EXT])
    return wave, sample["__key__"]


def read_shards(shards: list[str]) -> tuple[int, float]:
    """(clips, seconds of audio) from streaming and decoding ``shards`` in this process."""
    clips, seconds = 0, 0.0
    for wave, _ in wds.WebDataset(shards, shardshuffle=False, empty_check=False).map(decode_sample):
        clips += 1
        seconds += wave.size / SAMPLE_RATE
    return clips, seconds


def read_files_librosa(paths: list[Path]) -> tuple[int, float]:
    """The seeds' loop: each file at its native rate, resampled to 16 kHz."""
    clips, seconds = 0, 0.0
    for path in paths:
        wave, rate = librosa.load(path, sr=None, mono=True)
        wave = librosa.resample(wave, orig_sr=rate, target_sr=SAMPLE_RATE)
        clips += 1
        seconds += wave.size / SAMPLE_RATE
    return clips, seconds


def timed(fn, *args, repeats: int) -> tuple[float, int]:
    """Best clips/s over ``repeats`` runs (after one warm-up, so both sides read from page cache)."""
    fn(*args)
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        clips, _ = fn(*args)
        best = max(best, clips / (time.perf_counter() - start))
    return best, clips


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--speakers", type=int, default=8)
    parser.add_argument("--clips-per-class", type=int, default=12)
    parser.add_argument("--workers", type=int, default=0, help="preparation processes; 0 = every core")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    workers = resolve_workers(args.workers)
    with tempfile.TemporaryDirectory() as scratch:
        corpus, out = Path(scratch) / "corpus", Path(scratch) / "prepared"
        generate(corpus, args.speakers, args.clips_per_class, seed=0, workers=workers, progress=False)
        config = validate(PrepareConfig(corpora=[CorpusSpec("csv", str(corpus), {"name": "bench"})], output=str(out),
                                        split=SplitSpec(mode="speaker"), workers=workers, progress=False))
        start = time.perf_counter()
        info = prepare(config)
        prep_seconds = time.perf_counter() - start
        files = info.extra["input_files"]
        shards = [str(out / p) for p in info.splits["train"].shards]
        with (out / "manifest.csv").open() as handle:
            paths = [corpus / r["path"] for r in csv.DictReader(handle) if r["fate"] == "train"]
        shard_rate, clips = timed(read_shards, shards, repeats=args.repeats)
        librosa_rate, _ = timed(read_files_librosa, paths, repeats=args.repeats)
    print(f"preparation: {files} files in {prep_seconds:.1f} s = {files / prep_seconds:.1f} files/s "
          f"on {workers} worker(s) ({files / prep_seconds / workers:.1f} files/s per core)")
    print(f"read-back of the train split ({clips} clips), one process:")
    print(f"  WebDataset shards, FLAC -> 16 kHz:           {shard_rate:8.1f} clips/s per core")
    print(f"  librosa.load native rate + resample (seeds): {librosa_rate:8.1f} clips/s per core")
    print(f"  ratio shards / librosa:                      {shard_rate / librosa_rate:8.2f}x")


if __name__ == "__main__":
    main()
