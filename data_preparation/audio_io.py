"""Read any input audio file into a 16 kHz mono float32 waveform, or say why not.

soundfile (libsndfile) reads wav, flac, aiff, ogg and mp3 at any rate, bit depth and channel
count; containers it cannot open (MELD's mp4 clips, odd mp3s) go through an ffmpeg subprocess.
The duration is read from the header first, so a 40-minute recording is rejected as too long
without decoding it into memory.
"""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from data_preparation.shard_format import SAMPLE_RATE


class AudioReadError(Exception):
    """The file cannot be turned into audio; the message is the manifest's reason."""


@dataclass(frozen=True)
class AudioHeader:
    """What the container says before any sample is decoded."""

    sample_rate: int
    channels: int
    duration: float  # seconds, as the header claims
    backend: str  # "soundfile" or "ffmpeg"


def probe(path: Path) -> AudioHeader:
    """Header of ``path``; raises AudioReadError with a reason when nothing can read it."""
    if path.stat().st_size == 0:
        raise AudioReadError("empty file (0 bytes)")
    try:
        info = sf.info(str(path))
        return AudioHeader(info.samplerate, info.channels, info.frames / info.samplerate, "soundfile")
    except (sf.LibsndfileError, RuntimeError) as error:
        soundfile_error = str(error).split(": ", 1)[-1]
    if shutil.which("ffprobe") is None:
        raise AudioReadError(f"unreadable: soundfile: {soundfile_error} (ffmpeg not installed to try further)")
    return _ffprobe(path, soundfile_error)


def _ffprobe(path: Path, soundfile_error: str) -> AudioHeader:
    command = [
        "ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
        "stream=sample_rate,channels:format=duration", "-of", "default=noprint_wrappers=1", str(path),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    fields = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    try:
        rate, channels = int(fields["sample_rate"]), int(fields["channels"])
        duration = float(fields["duration"])
    except (KeyError, ValueError):
        detail = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "no audio stream"
        raise AudioReadError(f"unreadable: soundfile: {soundfile_error}; ffmpeg: {detail}") from None
    return AudioHeader(rate, channels, duration, "ffmpeg")


def read_audio(path: Path, header: AudioHeader) -> np.ndarray:
    """Decode ``path`` to float32 mono at 16 kHz (channels averaged, soxr HQ resampling)."""
    if header.backend == "soundfile":
        try:
            wave, rate = sf.read(str(path), dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as error:
            raise AudioReadError(f"unreadable: soundfile: {str(error).split(': ', 1)[-1]}") from None
        return to_mono_16k(wave, rate)
    return _ffmpeg_decode(path)


def to_mono_16k(wave: np.ndarray, rate: int) -> np.ndarray:
    """[frames, channels] or [frames] float audio at ``rate`` -> [frames'] float32 at 16 kHz."""
    if wave.ndim == 2:
        wave = wave.mean(axis=1)
    wave = np.ascontiguousarray(wave, dtype=np.float32)
    if rate != SAMPLE_RATE and wave.size:
        wave = soxr.resample(wave, rate, SAMPLE_RATE, quality="HQ").astype(np.float32, copy=False)
    return wave


def _ffmpeg_decode(path: Path) -> np.ndarray:
    """ffmpeg does the container, the mixdown and the resampling in one pass."""
    command = [
        "ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:a:0",
        "-f", "f32le", "-acodec", "pcm_f32le", "-ac", "1", "-ar", str(SAMPLE_RATE), "-",
    ]
    result = subprocess.run(command, capture_output=True, timeout=600)
    if result.returncode != 0:
        detail = result.stderr.decode(errors="replace").strip().splitlines()
        raise AudioReadError(f"unreadable: ffmpeg: {detail[-1] if detail else 'exit ' + str(result.returncode)}")
    return np.frombuffer(result.stdout, dtype="<f4").astype(np.float32)
