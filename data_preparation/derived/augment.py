"""Offline augmented copies of the training split (seed 000 §6.2.4) with audiomentations.

Each copy draws its factor from the configured range with a generator seeded by (seed, sample
index, technique, copy), so the output does not depend on worker count or order. The transform
is then built with min == max and p = 1, which makes audiomentations' own draws from Python's
``random`` module trivial; AddGaussianNoise still draws the noise from ``np.random``, so that one
call runs under a temporarily seeded, then restored, global state.
"""
from __future__ import annotations

import contextlib
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
from audiomentations import AddGaussianNoise, PitchShift, TimeStretch

from data_preparation.config import AugmentationSpec
from data_preparation.resume import write_atomic
from data_preparation.shards.shard_format import SAMPLE_RATE, decode_audio, encode_audio

TECHNIQUES = ("gaussian_noise", "time_stretch", "pitch_shift")
# Named rather than left to audiomentations' default: the default is not part of its API contract
# (librosa's phase vocoder was the only method before signalsmith), and a library upgrade must not
# silently change the bytes of train_aug shards that re-runs promise to reproduce.
STRETCH_METHOD = "signalsmith_stretch"


@dataclass(frozen=True)
class AugmentTask:
    """One augmented copy to make: which spooled clip, which technique, which copy number."""

    index: int  # position in the training split's writing order
    spool_path: Path  # the clip's 16 kHz FLAC from the decode stage
    out_path: Path  # where the augmented copy's FLAC goes
    technique: str
    copy: int
    low: float
    high: float
    seed: int
    leave_length_unchanged: bool = False


@dataclass(frozen=True)
class AugmentResult:
    index: int
    technique: str
    copy: int
    factor: float
    duration: float  # seconds; time stretch changes it


def plan(spec: AugmentationSpec) -> list[tuple[str, int, float, float, bool]]:
    """(technique, copy, low, high, leave_length_unchanged) for every copy the config asks for."""
    bounds = {"gaussian_noise": ("min_amplitude", "max_amplitude"), "time_stretch": ("min_rate", "max_rate"),
              "pitch_shift": ("min_semitones", "max_semitones")}
    jobs = []
    for technique in TECHNIQUES:
        settings = getattr(spec, technique)
        if settings is None:
            continue
        low, high = (float(getattr(settings, name)) for name in bounds[technique])
        keep = bool(getattr(settings, "leave_length_unchanged", False))
        jobs.extend((technique, copy, low, high, keep) for copy in range(settings.copies))
    return jobs


def augment_clip(task: AugmentTask) -> AugmentResult:
    """Worker: decode the spooled FLAC, apply one technique with a per-sample factor, spool the result."""
    wave, _ = decode_audio(task.spool_path.read_bytes())
    tag = zlib.crc32(f"{task.technique}/{task.copy}".encode())
    rng = np.random.default_rng([task.seed, task.index, tag])
    factor = float(rng.uniform(task.low, task.high))
    transform = _transform(task.technique, factor, task.leave_length_unchanged)
    with _seeded_numpy_global(int(rng.integers(2**32))):
        augmented = transform(samples=wave, sample_rate=SAMPLE_RATE)
    peak = float(np.max(np.abs(augmented))) if augmented.size else 0.0
    if peak > 1.0:  # noise or resampling overshoot: scale down rather than clip
        augmented = augmented / peak
    write_atomic(task.out_path, encode_audio(augmented))
    return AugmentResult(task.index, task.technique, task.copy, factor, augmented.size / SAMPLE_RATE)


def _transform(technique: str, factor: float, leave_length_unchanged: bool):
    if technique == "gaussian_noise":
        return AddGaussianNoise(min_amplitude=factor, max_amplitude=factor, p=1.0)
    if technique == "time_stretch":
        return TimeStretch(min_rate=factor, max_rate=factor, leave_length_unchanged=leave_length_unchanged,
                           method=STRETCH_METHOD, p=1.0)
    if technique == "pitch_shift":
        return PitchShift(min_semitones=factor, max_semitones=factor, method=STRETCH_METHOD, p=1.0)
    raise ValueError(f"unknown augmentation technique {technique!r}; known: {', '.join(TECHNIQUES)}")


@contextlib.contextmanager
def _seeded_numpy_global(seed: int) -> Iterator[None]:
    """np.random seeded for one library call, then put back: no lasting global seeding."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)
