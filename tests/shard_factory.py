"""Tiny prepared datasets in the exact on-disk format of data_preparation/shards/shard_format.py.

Tests of every stage after preparation (streaming, training, evaluation, SLURM) build one
of these in ``tmp_path`` instead of running the real preparation. The signal is learnable:
class ``c`` is a sum of two tones drawn from its own frequency band plus noise, with a
random length, so a model that learns anything beats chance by a wide margin.

>>> import tempfile, pathlib
>>> info = make_dataset(pathlib.Path(tempfile.mkdtemp()), num_classes=2, per_class={"train": 2, "val": 1, "test": 1})
>>> info.classes, info.splits["train"].num_samples
(['class0', 'class1'], 4)
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import webdataset as wds

from data_preparation.shards.audio_codec import member_ext
from data_preparation.shards.shard_format import (
    LOGMEL_EXT,
    META_EXT,
    SAMPLE_RATE,
    STATS_FILE,
    DatasetInfo,
    SampleMeta,
    SplitInfo,
    decode_audio,
    encode_audio,
    shard_name,
)

DEFAULT_PER_CLASS = {"train": 8, "val": 4, "test": 4}
CORPORA = ("synth_a", "synth_b")
LOGMEL = {"n_mels": 32, "n_fft": 400, "hop_length": 160, "win_length": 400}
BAND_LOW, BAND_HIGH = 200.0, 3200.0  # Hz; class bands split this range evenly


def class_band(label_id: int, num_classes: int) -> tuple[float, float]:
    """The frequency band (Hz) whose tones make up class ``label_id``."""
    width = (BAND_HIGH - BAND_LOW) / num_classes
    return BAND_LOW + label_id * width, BAND_LOW + (label_id + 0.8) * width


def synth_clip(label_id: int, num_classes: int, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """float32 mono clip at 16 kHz: two tones from the class band, an envelope, and noise."""
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    low, high = class_band(label_id, num_classes)
    wave = sum(np.sin(2 * np.pi * rng.uniform(low, high) * t + rng.uniform(0, 2 * np.pi)) for _ in range(2))
    envelope = 0.5 + 0.5 * np.abs(np.sin(np.pi * rng.uniform(0.5, 3.0) * t))
    wave = 0.25 * envelope * wave + rng.normal(0.0, 0.05, n)
    return wave.astype(np.float32)


def logmel_of(wave: np.ndarray) -> np.ndarray:
    """float16 [n_mels, frames] log-mel (dB) of a clip, as a preparation step would precompute it."""
    import torch
    import torchaudio

    transform = torchaudio.transforms.MelSpectrogram(
        sample_rate=SAMPLE_RATE, n_fft=LOGMEL["n_fft"], hop_length=LOGMEL["hop_length"],
        win_length=LOGMEL["win_length"], n_mels=LOGMEL["n_mels"],
    )
    mel = transform(torch.from_numpy(wave))
    return torchaudio.functional.amplitude_to_DB(mel, 10.0, 1e-10, 0.0, top_db=80.0).numpy().astype(np.float16)


def _write_split(
    root: Path, split: str, metas: list[SampleMeta], waves: list[np.ndarray], shards: int, folder: str, logmel: bool,
    codec: str = "flac",
) -> list[str]:
    """Write ``metas`` round-robin into ``shards`` tars; returns their paths relative to root."""
    names = [shard_name(split, index, folder) for index in range(shards)]
    (root / folder).mkdir(parents=True, exist_ok=True)
    writers = [wds.TarWriter(str(root / name)) for name in names]
    try:
        for index, (meta, wave) in enumerate(zip(metas, waves)):
            payload = {LOGMEL_EXT: logmel_of(wave)} if logmel else {member_ext(codec): encode_audio(wave, codec=codec)}
            writers[index % shards].write({"__key__": meta.key, META_EXT: meta.to_json(), **payload})
    finally:
        for writer in writers:
            writer.close()
    return names


def _split_info(names: list[str], metas: list[SampleMeta]) -> SplitInfo:
    durations = [meta.duration for meta in metas]
    per_class: dict[str, int] = {}
    per_corpus: dict[str, int] = {}
    for meta in metas:
        per_class[meta.label] = per_class.get(meta.label, 0) + 1
        per_corpus[meta.corpus] = per_corpus.get(meta.corpus, 0) + 1
    duration = {"total": float(sum(durations)), "mean": float(np.mean(durations)),
                "min": float(min(durations)), "max": float(max(durations))}
    return SplitInfo(shards=names, num_samples=len(metas), per_class=per_class, per_corpus=per_corpus,
                     duration=duration)


def make_dataset(
    root: Path,
    num_classes: int = 4,
    per_class: dict[str, int] | None = None,
    shards_per_split: int | dict[str, int] = 2,
    seconds: tuple[float, float] = (1.0, 3.0),
    seed: int = 0,
    logmel: bool = False,
    codec: str = "flac",
) -> DatasetInfo:
    """Write a learnable synthetic dataset under ``root`` and return its stats.json content.

    ``per_class``: samples per class for each split (keys are split names, e.g. train/val/test/train_aug).
    ``shards_per_split``: one count for all splits or a count per split; samples go round-robin.
    ``seconds``: (min, max) clip length, drawn uniformly per clip. With ``logmel``, log-mel shards
    of the same samples are written to ``logmel/`` as well. ``codec``: the waveform shards' audio
    codec (data_preparation/shards/audio_codec.py). Keys are unique across splits.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    per_class = dict(DEFAULT_PER_CLASS if per_class is None else per_class)
    classes = [f"class{c}" for c in range(num_classes)]
    rng = np.random.default_rng(seed)
    splits: dict[str, SplitInfo] = {}
    logmel_splits: dict[str, SplitInfo] = {}
    for split, count in per_class.items():
        shards = shards_per_split if isinstance(shards_per_split, int) else shards_per_split[split]
        metas, waves = [], []
        for index in range(count * num_classes):
            label_id = index % num_classes
            wave = synth_clip(label_id, num_classes, rng.uniform(*seconds), rng)
            corpus = CORPORA[index % len(CORPORA)]
            key = f"{split}_{corpus}_{index:06d}"
            metas.append(SampleMeta(
                key=key, label=classes[label_id], label_id=label_id, corpus=corpus,
                speaker=f"spk{index % 5}", native_label=classes[label_id], source=f"{corpus}/{key}.wav",
                duration=len(wave) / SAMPLE_RATE, augmentation="synthetic_noise" if split == "train_aug" else None,
            ))
            waves.append(wave)
        splits[split] = _split_info(_write_split(root, split, metas, waves, shards, "shards", False, codec), metas)
        if logmel:
            logmel_splits[split] = _split_info(_write_split(root, split, metas, waves, shards, "logmel", True), metas)
    train_counts = [splits["train"].per_class.get(name, 0) for name in classes] if "train" in splits else []
    total = sum(train_counts)
    weights = [total / (num_classes * count) if count else 0.0 for count in train_counts] or [1.0] * num_classes
    logmel_info = None
    if logmel:
        frames = int(seconds[1] * SAMPLE_RATE) // LOGMEL["hop_length"] + 1
        logmel_info = {**LOGMEL, "frames": frames, "splits": logmel_splits}
    info = DatasetInfo(classes=classes, class_weights=weights, splits=splits, taxonomy="synthetic",
                       logmel=logmel_info, codec=codec, extra={"generator": "tests/shard_factory.py", "seed": seed})
    (root / STATS_FILE).write_text(info.to_json())
    return info


def read_keys(root: Path, split: str) -> list[str]:
    """Every sample key of a split, read back from its tars (ground truth for exactly-once checks)."""
    import json

    info = DatasetInfo.from_dict(json.loads((Path(root) / STATS_FILE).read_text()))
    keys = []
    for name in info.splits[split].shards:
        for sample in wds.DataPipeline(wds.SimpleShardList(str(Path(root) / name)), wds.tarfile_to_samples()):
            decode_audio(sample[info.audio_ext], info.codec)  # the audio must decode, or the fixture is wrong
            keys.append(sample["__key__"])
    return keys
