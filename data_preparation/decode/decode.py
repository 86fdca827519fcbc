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

from data_preparation.decode.audio_io import AudioHeader, AudioReadError, DurationLimitError, probe, read_audio
from data_preparation.quality.reasons import Reason
from data_preparation.resume import write_atomic
from data_preparation.shards.shard_format import SAMPLE_RATE, encode_audio
from data_preparation.quality.silence import DIGITAL_SILENCE_DB, as_stored, measure_activity
from data_preparation.quality.trim import TrimSpec, trim_clip


# Headers of compressed files (mp3) only estimate the length; near the limit the decoded length decides.
HEADER_SLACK = 1.0  # seconds
# A WAV whose samples end this much before its header says is truncated (resampling rounds by < 1 sample).
TRUNCATION_TOLERANCE = 0.002  # seconds


@dataclass(frozen=True)
class AudioFilter:
    """Which decoded clips are kept (seed 000 kept 1-4 s); data_preparation/quality/silence.py explains the silence test."""

    min_duration: float = 1.0  # seconds
    max_duration: float = 4.0  # seconds
    # Loud frames (after removing DC) below this level (dBFS): digital silence. An absolute loudness
    # floor, so by default only the 24-bit rounding noise: quiet speech is speech, whatever its
    # sample format (silence.py).
    silence_threshold_db: float = DIGITAL_SILENCE_DB
    min_contrast_db: float = 6.0  # loud frames less than this above the clip's own noise floor: stationary
    noise_flatness_db: float = -8.0  # a stationary clip whose spectrum is flatter than this is noise only
    keep_truncated: bool = False  # keep a WAV whose data ends before its header says (flagged in the manifest)


@dataclass(frozen=True)
class DecodeTask:
    """One file to decode. The pipeline gives its paths as strings: it holds a task per clip while
    decoding, and a Path costs three times its string (a list of its parts). A Path also interns
    each part, so a worker forked from a process holding those Paths writes to (the reference
    counts of) the interned strings it finds there, copying their pages."""

    index: int
    path: Path | str
    spool_path: Path | str
    audio_filter: AudioFilter
    trim: TrimSpec | None = None  # cut leading/trailing silence before spooling (None: the clip as decoded)


@dataclass(frozen=True)
class DecodeResult:
    index: int
    duration: float | None  # seconds after resampling; None when nothing was decoded
    digest: str | None  # sha256 of the stored 16-bit samples: equal digests are exact duplicates
    reason: Reason | None  # why the file is set aside; None when kept
    native_rate: int | None = None
    native_channels: int | None = None
    header_duration: float | None = None  # seconds the header declares; None when it does not say
    truncated: bool = False  # the data ends before the header says
    trimmed: float = 0.0  # seconds of leading/trailing silence cut (``duration`` is what is left)


def decode_file(task: DecodeTask) -> DecodeResult:
    """Worker: decode, check and spool one file; any failure becomes a reason, never a crash."""
    try:
        return _decode_checked(task)
    except AudioReadError as error:
        return DecodeResult(task.index, None, None, Reason.from_text(str(error)))
    except Exception as error:  # noqa: BLE001 - one odd file must not stop a 60,000-file run
        return DecodeResult(task.index, None, None, Reason("unreadable", None, f"{type(error).__name__}: {error}"))


def _decode_checked(task: DecodeTask) -> DecodeResult:
    path = Path(task.path)
    header = probe(path)
    limits = task.audio_filter
    claimed = header.declared_duration if header.declared_duration is not None else (
        header.duration if header.length_known else None)
    base = {"native_rate": header.sample_rate, "native_channels": header.channels, "header_duration": claimed}
    if header.length_known and header.duration > limits.max_duration + HEADER_SLACK:
        # Decided from the header alone: a 40-minute file is never decoded into memory.
        reason = Reason("too long", round(header.duration, 3), f"> {limits.max_duration:g} s (from header)")
        return DecodeResult(task.index, None, None, reason, **base)
    try:
        # The header may lie or say nothing (written to a pipe): the limit holds while decoding too.
        wave = read_audio(path, header, max_duration=limits.max_duration + HEADER_SLACK)
    except DurationLimitError as error:
        detail = f"> {limits.max_duration:g} s (decoding stopped at {error.seconds:.2f} s{_header_note(header)})"
        return DecodeResult(task.index, None, None, Reason("too long", round(error.seconds, 3), detail), **base)
    duration = wave.size / SAMPLE_RATE
    truncated = header.declared_duration is not None and duration < header.declared_duration - TRUNCATION_TOLERANCE
    reason = check_wave(wave, limits)
    if reason is None and truncated and not limits.keep_truncated:
        reason = Reason("truncated", round(duration, 3),
                        f"data holds {duration:.3f} s, header says {header.declared_duration:.3f} s (filter.keep_truncated)")
    if reason is not None:
        return DecodeResult(task.index, duration, None, reason, truncated=truncated, **base)
    trimmed = 0.0
    if task.trim is not None:  # after the filters: the seed kept 1-4 s clips, then removed their silence
        cut = trim_clip(wave, task.trim)
        wave, trimmed, duration = cut.wave, cut.trimmed, cut.wave.size / SAMPLE_RATE
        if cut.reason is not None:
            return DecodeResult(task.index, duration, None, cut.reason, truncated=truncated, trimmed=trimmed, **base)
    write_atomic(Path(task.spool_path), encode_audio(wave))  # a kill mid-write leaves no torn clip for a resume
    return DecodeResult(task.index, duration, content_digest(wave), None, truncated=truncated, trimmed=trimmed, **base)


def _header_note(header: AudioHeader) -> str:
    return f"; header says {header.duration:.2f} s" if header.length_known else "; the header gives no length"


def check_wave(wave: np.ndarray, limits: AudioFilter) -> Reason | None:
    """The reason a decoded 16 kHz clip is set aside, or None when it is kept.

    >>> str(check_wave(np.zeros(16000, np.float32), AudioFilter()))
    'silent: constant signal (value 0 throughout)'
    """
    if wave.size == 0:
        return Reason("empty", None, "no audio samples")
    if not np.isfinite(wave).all():
        count = int((~np.isfinite(wave)).sum())
        return Reason("non-finite samples", count, f"{count} NaN/Inf values")
    duration = wave.size / SAMPLE_RATE
    if duration < limits.min_duration:
        return Reason("too short", round(duration, 3), f"< {limits.min_duration:g} s")
    if duration > limits.max_duration:
        return Reason("too long", round(duration, 3), f"> {limits.max_duration:g} s")
    return check_activity(wave, limits)


def check_activity(wave: np.ndarray, limits: AudioFilter) -> Reason | None:
    """Silent (constant, or stored loud frames under the digital-silence floor) or noise only (no louder
    than its own floor and spectrally flat); else None. Judged on the clip as the shards store it
    (16-bit), so one take gets one verdict whatever its sample format; silence.py explains why."""
    raw = np.asarray(wave)
    if raw.size and raw.min() == raw.max():
        return Reason("silent", None, f"constant signal (value {float(raw[0]):.3g} throughout)")
    activity = measure_activity(as_stored(raw))
    if activity.loud_db < limits.silence_threshold_db:
        return Reason("silent", activity.loud_db, f"loud frames at {activity.loud_db:.1f} dBFS < "
                      f"{limits.silence_threshold_db:g} dBFS, stored as 16-bit samples")
    if activity.contrast_db < limits.min_contrast_db and activity.flatness_db > limits.noise_flatness_db:
        return Reason("noise only", activity.contrast_db,
                      f"loud frames {activity.contrast_db:.1f} dB above the clip's noise floor "
                      f"(< {limits.min_contrast_db:g} dB), flat spectrum "
                      f"({activity.flatness_db:.1f} dB > {limits.noise_flatness_db:g} dB)")
    return None


def content_digest(wave: np.ndarray) -> str:
    """sha256 of the samples exactly as stored (clipped, 16-bit), so duplicates match whatever the source format."""
    pcm = np.round(np.clip(wave, -1.0, 1.0) * 32767).astype("<i2")
    return hashlib.sha256(pcm.tobytes()).hexdigest()
