"""Re-run time of an unchanged preparation: size-only fingerprint (before) vs content digests (after).

An unchanged ``prepare()`` re-run lists the corpora, fingerprints every input file, finds the same
fingerprint in stats.json and stops. This times those steps on a generated csv corpus of many
small WAV files (default 60,000, the size of seed 000's eight-corpus merge):

- listing: ``collect_inputs`` (the same in both);
- before: the previous fingerprint, which hashed each file's size (copied below as the baseline);
- after, first run: BLAKE2b of every file's bytes (no digest cache yet; files in the page cache);
- after, re-run: the digest cache loaded from disk, every file answered by its size and mtime_ns.

Times are the best of ``--repeats``. Page-cache warm, so the first-run figure is the CPU cost of
hashing; on a cold network file system it is a read of the corpus.

``python -m benchmarks.bench_rerun [--files 60000 --seconds 0.1 --repeats 3]``
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import struct
import tempfile
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from data_preparation.config import CorpusSpec
from data_preparation.inputs.content_hash import DigestCache
from data_preparation.inputs.entries import Entry, collect_inputs
from data_preparation.pipeline import input_fingerprint

LABELS = ("neutral", "happy", "sad", "anger")


def wav_bytes(samples: np.ndarray, rate: int = 16_000) -> bytes:
    """A 16-bit mono PCM WAV file (header written by hand: 60,000 soundfile calls take longer than the test)."""
    data = samples.astype("<i2").tobytes()
    header = struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + len(data), b"WAVE", b"fmt ", 16, 1, 1, rate,
                         2 * rate, 2, 16, b"data", len(data))
    return header + data


def write_corpus(root: Path, files: int, seconds: float) -> None:
    """``files`` WAVs of noise in 100 speaker folders, and the metadata.csv the csv reader reads."""
    rng = np.random.default_rng(0)
    length = int(seconds * 16_000)
    with (root / "metadata.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "label", "speaker"])
        for index in range(files):
            speaker = f"spk{index % 100:03d}"
            path = root / speaker / f"clip{index:06d}.wav"
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(wav_bytes(rng.integers(-3000, 3000, length)))
            writer.writerow([path.relative_to(root).as_posix(), LABELS[index % len(LABELS)], speaker])


def size_fingerprint(entries: Sequence[Entry]) -> str:
    """The fingerprint before content digests (verbatim): corpus, path, label, speaker and size."""
    digest = hashlib.sha256()
    for entry in entries:
        size = entry.path.stat().st_size if entry.path.is_file() else -1
        digest.update(f"{entry.corpus}\t{entry.source}\t{entry.native_label}\t{entry.speaker}\t{size}\n".encode())
    return digest.hexdigest()[:16]


def best_of(fn: Callable[[], object], repeats: int) -> float:
    """Fastest wall time of ``repeats`` calls, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=60_000)
    parser.add_argument("--seconds", type=float, default=0.1, help="length of each generated clip")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        corpus, cache_file = Path(scratch) / "corpus", Path(scratch) / "input_hashes.json"
        corpus.mkdir()
        write_corpus(corpus, args.files, args.seconds)
        specs = [CorpusSpec("csv", str(corpus), {"name": "bench"})]
        entries = collect_inputs(specs, "four").entries
        listing = best_of(lambda: collect_inputs(specs, "four"), args.repeats)
        before = best_of(lambda: size_fingerprint(entries), args.repeats)

        def first_run() -> None:
            cache = DigestCache()
            input_fingerprint(entries, cache)
            cache.save(cache_file)

        def rerun() -> None:
            cache = DigestCache.load(cache_file)
            input_fingerprint(entries, cache)
            if cache.hashed:
                raise AssertionError(f"an unchanged re-run hashed {cache.hashed} files")

        first = best_of(first_run, args.repeats)
        after = best_of(rerun, args.repeats)
        megabytes = sum(e.path.stat().st_size for e in entries) / 1e6
    print(f"{len(entries)} input files, {megabytes:.0f} MB; best of {args.repeats}")
    print(f"  listing (collect_inputs), both:                 {listing:7.2f} s")
    print(f"  fingerprint before (sizes):                     {before:7.2f} s")
    print(f"  fingerprint after, first run (hash every file): {first:7.2f} s  ({megabytes / first:.0f} MB/s)")
    print(f"  fingerprint after, re-run (digest cache):       {after:7.2f} s")
    print(f"unchanged re-run, listing + fingerprint: before {listing + before:.2f} s, after {listing + after:.2f} s, "
          f"ratio after / before {(listing + after) / (listing + before):.2f}x")


if __name__ == "__main__":
    main()
