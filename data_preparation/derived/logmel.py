"""Precomputed log-mel images for image backbones (seed 000 §6.2: repetitive padding won).

Each clip is tiled (repeated) to a fixed duration rather than zero-padded, then turned into a
[n_mels, frames] dB image with torchaudio, stored as float16 npy.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data_preparation.config import LogmelSpec
from data_preparation.input_contract import centred_frames
from data_preparation.shards.shard_format import SAMPLE_RATE, decode_audio


@dataclass(frozen=True)
class LogmelSettings:
    """LogmelSpec with its defaults resolved against the duration filter."""

    n_mels: int
    n_fft: int
    hop_length: int
    duration: float  # seconds every clip is tiled/cropped to
    top_db: float

    @property
    def frames(self) -> int:
        return centred_frames(int(round(self.duration * SAMPLE_RATE)), self.hop_length)

    @classmethod
    def resolve(cls, spec: LogmelSpec, max_duration: float) -> "LogmelSettings":
        duration = spec.duration if spec.duration is not None else max_duration
        hop = spec.hop_length or max(1, int(SAMPLE_RATE * duration / spec.n_mels))
        return cls(spec.n_mels, spec.n_fft, hop, float(duration), spec.top_db)


@dataclass(frozen=True)
class LogmelTask:
    index: int
    spool_path: Path  # FLAC bytes of the clip (decode stage or augmented copy)
    settings: LogmelSettings


def repeat_pad(wave: np.ndarray, length: int) -> np.ndarray:
    """Tile ``wave`` until it is ``length`` samples long, then crop.

    >>> repeat_pad(np.array([1.0, 2.0]), 5).tolist()
    [1.0, 2.0, 1.0, 2.0, 1.0]
    """
    if wave.size == 0:
        return np.zeros(length, dtype=np.float32)
    repeats = -(-length // wave.size)
    return np.tile(wave, repeats)[:length]


def logmel_image(wave: np.ndarray, settings: LogmelSettings) -> np.ndarray:
    """float16 [n_mels, frames] log-mel (dB, top_db floor) of a 16 kHz clip, repetitively padded."""
    import torch
    import torchaudio

    length = int(round(settings.duration * SAMPLE_RATE))
    signal = torch.from_numpy(np.ascontiguousarray(repeat_pad(wave, length), dtype=np.float32))
    mel = torchaudio.transforms.MelSpectrogram(
        sample_rate=SAMPLE_RATE, n_fft=settings.n_fft, hop_length=settings.hop_length, n_mels=settings.n_mels
    )(signal)
    db = torchaudio.transforms.AmplitudeToDB(stype="power", top_db=settings.top_db)(mel)
    return db.numpy().astype(np.float16)


def logmel_npy(task: LogmelTask) -> bytes:
    """Worker: npy bytes of the clip's log-mel image."""
    import torch

    torch.set_num_threads(1)
    wave, _ = decode_audio(task.spool_path.read_bytes())
    buffer = io.BytesIO()
    np.save(buffer, logmel_image(wave, task.settings), allow_pickle=False)
    return buffer.getvalue()
