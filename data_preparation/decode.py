"""Decode every input file exactly once, check it, and spool the 16 kHz FLAC bytes to disk.

Workers return only small results (duration, content hash, reason); the audio itself goes to a
spool folder, so memory stays flat however many files there are, and later stages (shards,
augmentation, log-mel) copy or re-read our own FLAC instead of decoding the inputs again.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data_preparation.audio_io import AudioReadError, probe, read_audio
from data_preparation.shard_format import SAMPLE_RATE, encode_audio


# Headers of compressed files (mp3) only estimate the length; near the limit the decoded length decides.
HEADER_SLACK = 1.0  # seconds


@dataclass(frozen=True)
class AudioFilter:
    """Which decoded clips are kept (seed 000 kept 1-4 s)."""

    min_duration: float = 1.0  # seconds
    max_duration: float = 4.0  # seconds
    silence_threshold_db: float = -60.0  # clips whose RMS level (dBFS) is below this are silent


@dataclass(frozen=True)
class DecodeTask:
    index: int
    path: Path
    spool_path: Path
    audio_filter: AudioFilter


@dataclass(frozen=True)
class DecodeResult:
    index: int
    duration: float | None  # seconds after resampling (header duration when rejected from the header)
    digest: str | None  # sha256 of the stored 16-bit samples: equal digests are exact duplicates
    reason: str | None  # why the file is set aside; None when kept
    native_rate: int | None = None
    native_channels: int | None = None


def decode_file(task: DecodeTask) -> DecodeResult:
    """Worker: decode, check and spool one file; any failure becomes a reason, never a crash."""
    try:
        return _decode_checked(task)
    except AudioReadError as error:
        return DecodeResult(task.index, None, None, str(error))
    except Exception as error:  # noqa: BLE001 - one odd file must not stop a 60,000-file run
        return DecodeResult(task.index, None, None, f"unreadable: {type(error).__name__}: {error}")


def _decode_checked(task: DecodeTask) -> DecodeResult:
    header = probe(task.path)
    limits = task.audio_filter
    native = {"native_rate": header.sample_rate, "native_channels": header.channels}
    if header.duration > limits.max_duration + HEADER_SLACK:
        # Decided from the header alone: a 40-minute file is never decoded into memory.
        reason = f"too long: {header.duration:.2f} s > {limits.max_duration:g} s (from header)"
        return DecodeResult(task.index, header.duration, None, reason, **native)
    wave = read_audio(task.path, header)
    duration = wave.size / SAMPLE_RATE
    reason = check_wave(wave, limits)
    if reason is not None:
        return DecodeResult(task.index, duration, None, reason, **native)
    data = encode_audio(wave)
    task.spool_path.write_bytes(data)
    return DecodeResult(task.index, duration, content_digest(wave), None, **native)


def check_wave(wave: np.ndarray, limits: AudioFilter) -> str | None:
    """The reason a decoded 16 kHz clip is set aside, or None when it is kept.

    >>> check_wave(np.zeros(16000, np.float32), AudioFilter())
    'silent: RMS below -60 dBFS'
    """
    if wave.size == 0:
        return "empty: no audio samples"
    if not np.isfinite(wave).all():
        return f"non-finite samples: {int((~np.isfinite(wave)).sum())} NaN/Inf values"
    duration = wave.size / SAMPLE_RATE
    if duration < limits.min_duration:
        return f"too short: {duration:.2f} s < {limits.min_duration:g} s"
    if duration > limits.max_duration:
        return f"too long: {duration:.2f} s > {limits.max_duration:g} s"
    rms = float(np.sqrt(np.mean(np.square(wave, dtype=np.float64))))
    if rms <= 10 ** (limits.silence_threshold_db / 20):
        return f"silent: RMS below {limits.silence_threshold_db:g} dBFS"
    return None


def content_digest(wave: np.ndarray) -> str:
    """sha256 of the samples exactly as stored (clipped, 16-bit), so duplicates match whatever the source format."""
    pcm = np.round(np.clip(wave, -1.0, 1.0) * 32767).astype("<i2")
    return hashlib.sha256(pcm.tobytes()).hexdigest()
