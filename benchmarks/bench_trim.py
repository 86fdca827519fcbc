"""Cost of ``trim:`` (silence removal) per clip, against what preparation already spends per clip.

One process, clips already decoded to 16 kHz in memory, so only CPU work is timed:

* trim: ``trim_clip`` (silence.py's frame levels plus the cut), what ``trim:`` adds to decoding;
* baseline 1: ``check_activity``, the silence filter every clip already goes through;
* baseline 2: ``librosa.effects.trim(top_db=20)``, the call seed 000 most likely made.

Also prints how much the trim cuts from the corpus (seconds and share), and how much librosa's would. Run on the demo corpus:
``python -m benchmarks.bench_trim --corpus data/demo_corpus [--top-db 20 --limit 0]``
"""
from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path
from typing import Callable

import librosa
import numpy as np

from data_preparation.decode.audio_io import probe, read_audio
from data_preparation.decode.decode import AudioFilter, check_activity
from data_preparation.shards.shard_format import SAMPLE_RATE
from data_preparation.quality.trim import TrimSpec, trim_clip


def load_clips(corpus: Path, limit: int) -> list[np.ndarray]:
    """Every clip listed in the corpus's metadata.csv (the csv reader's layout), decoded to 16 kHz."""
    with (corpus / "metadata.csv").open(newline="") as handle:
        paths = [corpus / row["path"] for row in csv.DictReader(handle)]
    paths = paths[:limit] if limit else paths
    return [read_audio(path, probe(path)) for path in paths]


def per_clip_ms(function: Callable[[np.ndarray], object], clips: list[np.ndarray], repeats: int) -> float:
    """Best of ``repeats`` passes over all clips, in milliseconds per clip (the best pass is the least disturbed)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for clip in clips:
            function(clip)
        best = min(best, time.perf_counter() - start)
    return 1000 * best / len(clips)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=Path("data/demo_corpus"))
    parser.add_argument("--top-db", type=float, default=20.0)
    parser.add_argument("--limit", type=int, default=0, help="first N clips only (0: all)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    clips = load_clips(args.corpus, args.limit)
    spec, limits = TrimSpec(top_db=args.top_db), AudioFilter()
    results = [trim_clip(clip, spec) for clip in clips]
    total = sum(clip.size for clip in clips) / SAMPLE_RATE
    cut = sum(result.trimmed for result in results)
    kept_by_librosa = sum(librosa.effects.trim(clip, top_db=args.top_db)[0].size for clip in clips) / SAMPLE_RATE
    trim_ms = per_clip_ms(lambda clip: trim_clip(clip, spec), clips, args.repeats)
    filter_ms = per_clip_ms(lambda clip: check_activity(clip, limits), clips, args.repeats)
    librosa_ms = per_clip_ms(lambda clip: librosa.effects.trim(clip, top_db=args.top_db), clips, args.repeats)
    print(f"{len(clips)} clips, {total:.1f} s of audio (mean {total / len(clips):.2f} s)")
    print(f"trim (top_db {args.top_db:g}): cuts {cut:.1f} s ({cut / total:.1%}) from "
          f"{sum(r.trimmed > 0 for r in results)} clips; {sum(r.reason is not None for r in results)} too short; "
          f"librosa.effects.trim would cut {total - kept_by_librosa:.1f} s ({1 - kept_by_librosa / total:.1%})")
    print(f"trim_clip:                  {trim_ms:.3f} ms per clip")
    print(f"silence filter (baseline):  {filter_ms:.3f} ms per clip   trim / filter = {trim_ms / filter_ms:.2f}")
    print(f"librosa.effects.trim:       {librosa_ms:.3f} ms per clip   trim / librosa = {trim_ms / librosa_ms:.2f}")


if __name__ == "__main__":
    main()
