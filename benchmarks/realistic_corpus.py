"""A generated merge of three corpora at their real native rates and lengths, for input benchmarks.

What a loader's cost depends on is the rate and length of the files and how well they compress, not
what the speakers say: ``ravdess_like`` is 48 kHz 16-bit WAV of 3-5 s, ``tess_like`` 24,414 Hz of
1-2.5 s, ``savee_like`` 44.1 kHz of 2-5 s, mixed 30/55/15 as RAVDESS, TESS and SAVEE are in seed
000's merge. The audio is the demo corpus's source-filter speech (pauses, harmonics, formants,
consonant noise), concatenated to the drawn length, resampled to the native rate, with a broadband
room-noise floor at that rate so FLAC compresses it no better than real recordings. Each corpus is
written in the generic ``csv`` reader's layout, so prepare_data.py reads them as it reads any data.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from data_preparation import demo_corpus
from data_preparation.config import CorpusSpec
from data_preparation.parallel import ordered_map


@dataclass(frozen=True)
class CorpusShape:
    name: str
    rate: int  # Hz, as the real corpus is distributed
    seconds: tuple[float, float]  # clip length range
    share: float  # of the merged clips


SHAPES = (
    CorpusShape("ravdess_like", 48_000, (3.0, 5.0), 0.30),
    CorpusShape("tess_like", 24_414, (1.0, 2.5), 0.55),
    CorpusShape("savee_like", 44_100, (2.0, 5.0), 0.15),
)


@dataclass(frozen=True)
class ClipJob:
    path: Path
    shape: CorpusShape
    speaker: demo_corpus.Speaker
    emotion: str
    seed: tuple[int, ...]


def synth_clip(job: ClipJob) -> None:
    """Worker: one clip of the drawn length at the corpus's native rate, 16-bit WAV."""
    rng = np.random.default_rng(job.seed)
    seconds = rng.uniform(*job.shape.seconds)
    parts, total = [], 0
    while total < seconds * demo_corpus.RATE:
        parts.append(demo_corpus.synthesize(job.speaker, job.emotion, rng))
        total += parts[-1].size
    wave = np.concatenate(parts)[: int(seconds * demo_corpus.RATE)].astype(np.float32)
    wave = soxr.resample(wave, demo_corpus.RATE, job.shape.rate, quality="HQ")
    wave = wave + rng.normal(0, 10 ** (-60 / 20), wave.size)  # the native-rate noise floor of a real room
    job.path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(job.path, np.clip(wave, -1, 1).astype(np.float32), job.shape.rate, subtype="PCM_16")


def generate(out: Path, clips: int, seed: int = 0, workers: int = 1) -> list[CorpusSpec]:
    """Write ``clips`` files split over the three corpora under ``out``; their corpus specs for prepare().

    Kept when already complete (metadata.csv is written last), so a benchmark re-run reuses it.
    """
    specs, jobs, tables = [], [], {}
    for index, shape in enumerate(SHAPES):
        root = out / shape.name
        specs.append(CorpusSpec("csv", str(root), {"name": shape.name}))
        if (root / "metadata.csv").is_file():
            continue
        speakers = demo_corpus.make_speakers(6, seed + index)
        rows = []
        for n in range(max(4, round(clips * shape.share))):
            speaker, emotion = speakers[n % len(speakers)], demo_corpus.CLASSES[n // len(speakers) % 4]
            relative = f"audio/{speaker.name}/{shape.name}_{n:05d}_{emotion}.wav"
            jobs.append(ClipJob(root / relative, shape, speaker, emotion, (seed, index, n)))
            rows.append((relative, emotion, speaker.name))
        tables[root] = rows
    for _ in ordered_map(synth_clip, jobs, workers, "realistic corpus", progress=False):
        pass
    for root, rows in tables.items():
        with (root / "metadata.csv").open("w", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(["path", "label", "speaker"])
            writer.writerows(rows)
    return specs
