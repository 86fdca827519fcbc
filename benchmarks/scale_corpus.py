"""Generated corpora of any size for the scale benchmark: short clips in a realistic mix, with faults.

benchmarks/realistic_corpus.py models a three-corpus merge at the native rates and lengths of
RAVDESS/TESS/SAVEE (3-5 s at up to 48 kHz: ~300 KB a clip, 30 GB at 100,000 clips). A scale run
needs the same mix of what makes preparation work (several corpora, formats and rates, speakers
that grow with the corpus, duplicates, unreadable and silent files) in clips short enough that
100,000 fit a laptop's disk: 0.5-2 s, mostly 16 kHz. Four corpora, each in the generic ``csv``
reader's layout with one folder per speaker (as corpora ship; never 100,000 files in one folder):

- ``read_like``: 16 kHz 16-bit WAV (55%), ``studio_like``: 44.1 kHz FLAC (20%),
  ``phone_like``: 8 kHz WAV (15%), ``web_like``: 22.05 kHz Ogg Vorbis (10%);
- about 1% exact copies of another clip under a new name (same label: "duplicate"), 0.2% copies
  under another label ("label conflict"), and 0.6% faults: empty files, garbage bytes, digital
  silence.

Clips are cut from utterances synthesised by the demo corpus (data_preparation/demo_corpus.py), six
clips per utterance pair at random offsets, each with its own gain and room-noise floor, so every
clip's content differs (no accidental duplicates) at a sixth of the synthesis cost.
"""
from __future__ import annotations

import csv
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from benchmarks.realistic_corpus import CorpusShape
from data_preparation import demo_corpus
from data_preparation.config import CorpusSpec
from data_preparation.parallel import ordered_map

SCALE_SHAPES = (
    CorpusShape("read_like", 16_000, (0.5, 2.0), 0.55),
    CorpusShape("studio_like", 44_100, (0.5, 2.0), 0.20),
    CorpusShape("phone_like", 8_000, (0.5, 2.0), 0.15),
    CorpusShape("web_like", 22_050, (0.5, 2.0), 0.10),
)
FORMATS = {"read_like": ("wav", "PCM_16"), "studio_like": ("flac", "PCM_16"), "phone_like": ("wav", "PCM_16"),
           "web_like": ("ogg", "VORBIS")}
CLIPS_PER_SPEAKER = 100  # speakers grow with the corpus: the split and fold planners see real speaker counts
CLIPS_PER_UTTERANCE = 6
DUPLICATE_SHARE, CONFLICT_SHARE, FAULT_SHARE = 0.01, 0.002, 0.006


@dataclass(frozen=True)
class BatchJob:
    """One (corpus, speaker, emotion) batch of clips cut from the same synthesised utterances."""

    root: Path
    shape: CorpusShape
    speaker: demo_corpus.Speaker
    emotion: str
    relatives: tuple[str, ...]
    seed: tuple[int, ...]


def synth_batch(job: BatchJob) -> None:
    """Worker: write each clip of the batch at the corpus's rate and format."""
    rng = np.random.default_rng(job.seed)
    extension, subtype = FORMATS[job.shape.name]
    source = np.zeros(0, np.float32)
    for relative in job.relatives:
        seconds = rng.uniform(*job.shape.seconds)
        length = int(seconds * demo_corpus.RATE)
        while source.size < length * 2:
            source = np.concatenate([source, demo_corpus.synthesize(job.speaker, job.emotion, rng)])
        start = int(rng.integers(0, source.size - length))
        wave = source[start:start + length] * 10 ** (rng.uniform(-6, 3) / 20)
        wave = soxr.resample(wave.astype(np.float32), demo_corpus.RATE, job.shape.rate, quality="HQ")
        wave = wave + rng.normal(0, 10 ** (rng.uniform(-65, -50) / 20), wave.size)
        path = job.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, np.clip(wave, -1, 1).astype(np.float32), job.shape.rate, subtype=subtype, format=extension.upper())
        if rng.random() < 0.5:  # drop used audio: the next clip comes from fresh speech
            source = source[start + length:]


def generate(out: Path, clips: int, seed: int = 0, workers: int = 1) -> list[CorpusSpec]:
    """Write about ``clips`` files under ``out`` (four corpora, ``metadata.csv`` each); their corpus specs.

    Kept when already complete (metadata.csv is written last), so a benchmark re-run reuses it.
    """
    specs, jobs, tables = [], [], {}
    for index, shape in enumerate(SCALE_SHAPES):
        root = out / shape.name
        specs.append(CorpusSpec("csv", str(root), {"name": shape.name}))
        if (root / "metadata.csv").is_file():
            continue
        count = max(8, round(clips * shape.share))
        speakers = demo_corpus.make_speakers(max(4, count // CLIPS_PER_SPEAKER), seed + index)
        rows, batches = [], {}
        extension = FORMATS[shape.name][0]
        for n in range(count):
            speaker = speakers[n % len(speakers)]
            emotion = demo_corpus.CLASSES[n // len(speakers) % len(demo_corpus.CLASSES)]
            relative = f"audio/{speaker.name}/{shape.name}_{n:06d}_{emotion}.{extension}"
            rows.append([relative, emotion, speaker.name])
            batch = batches.setdefault((speaker.name, emotion, n // (len(speakers) * 4 * CLIPS_PER_UTTERANCE)), [])
            batch.append((speaker, relative))
        for number, ((_, emotion, _), members) in enumerate(batches.items()):
            jobs.append(BatchJob(root, shape, members[0][0], emotion, tuple(r for _, r in members), (seed, index, number)))
        tables[root] = rows
    for _ in ordered_map(synth_batch, jobs, workers, "scale corpus", progress=False):
        pass
    for index, (root, rows) in enumerate(tables.items()):
        rows += _faults(root, rows, np.random.default_rng([seed, 99, index]))
        with (root / "metadata.csv").open("w", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(["path", "label", "speaker"])
            writer.writerows(rows)
    return specs


def _faults(root: Path, rows: list[list[str]], rng: np.random.Generator) -> list[list[str]]:
    """Extra listed files: copies (same or other label) and broken files, as merged corpora hold them."""
    extra = []
    picks = rng.permutation(len(rows))
    duplicates = max(1, round(len(rows) * DUPLICATE_SHARE))
    conflicts = max(1, round(len(rows) * CONFLICT_SHARE))
    faults = max(3, round(len(rows) * FAULT_SHARE))
    for number, pick in enumerate(picks[:duplicates + conflicts]):
        relative, label, speaker = rows[pick]
        copy = relative.replace(".", f"_copy{number}.", 1)
        shutil.copyfile(root / relative, root / copy)
        if number >= duplicates:
            label = next(c for c in demo_corpus.CLASSES if c != label)
        extra.append([copy, label, speaker])
    for number, pick in enumerate(picks[duplicates + conflicts:duplicates + conflicts + faults]):
        relative, label, speaker = rows[pick]
        bad = str(Path(relative).with_name(f"fault{number}.wav"))
        kind = number % 3
        if kind == 0:
            (root / bad).write_bytes(b"")
        elif kind == 1:
            (root / bad).write_bytes(rng.bytes(2048))
        else:
            sf.write(root / bad, np.zeros(16_000, np.int16), 16_000, subtype="PCM_16")
        extra.append([bad, label, speaker])
    return extra
