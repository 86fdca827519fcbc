"""Read any input audio file into a 16 kHz mono float32 waveform, or say why not.

soundfile (libsndfile) reads wav, flac, aiff, ogg and mp3 at any rate, bit depth and channel
count; containers it cannot open (MELD's mp4 clips, odd mp3s) go through an ffmpeg subprocess.
The duration is read from the header first, so a 40-minute recording is rejected as too long
without decoding it into memory; and since a header can lie or say nothing (a FLAC or WAV
written to a pipe has no frame count), ``read_audio`` also stops decoding at ``max_duration``.
"""
from __future__ import annotations

import io
import math
import shutil
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import soundfile as sf
import soxr

from data_preparation.shards.shard_format import SAMPLE_RATE


# libsndfile's SF_COUNT_MAX: the frame count of a stream whose header does not give its length.
UNKNOWN_FRAMES = 2**63 - 1
BLOCK_SECONDS = 1.0  # soundfile reads this much at a time, so a limit stops it within a second
WAV_STREAMED_SIZES = (0, 0xFFFFFFFF)  # data-chunk sizes of a WAV whose writer could not seek back


class AudioReadError(Exception):
    """The file cannot be turned into audio; the message is the manifest's reason ("category: detail")."""


class DurationLimitError(AudioReadError):
    """Decoding passed ``limit`` seconds and was stopped there; ``seconds`` is what was decoded by then."""

    def __init__(self, seconds: float, limit: float) -> None:
        super().__init__(f"too long: more than {limit:g} s (decoding stopped at {seconds:.2f} s)")
        self.seconds = seconds
        self.limit = limit


@dataclass(frozen=True)
class AudioHeader:
    """What the container says before any sample is decoded."""

    sample_rate: int
    channels: int
    duration: float  # seconds, as the header claims; math.inf when it does not say (written to a pipe)
    backend: str  # "soundfile" or "ffmpeg"
    declared_duration: float | None = None  # seconds a WAV/FLAC header declares, to tell a truncated file

    @property
    def length_known(self) -> bool:
        return math.isfinite(self.duration)


def probe(path: Path) -> AudioHeader:
    """Header of ``path``; raises AudioReadError with a reason when nothing can read it."""
    if path.stat().st_size == 0:
        raise AudioReadError("empty file: 0 bytes")
    try:
        info = sf.info(str(path))
        return _soundfile_header(path, info)
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
    except (KeyError, ValueError):
        detail = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "no audio stream"
        raise AudioReadError(f"unreadable: soundfile: {soundfile_error}; ffmpeg: {detail}") from None
    return AudioHeader(rate, channels, _ffprobe_duration(fields.get("duration")), "ffmpeg")


def _ffprobe_duration(value: str | None) -> float:
    """ffprobe's container duration in seconds; math.inf when the container does not give one.

    A WebM/Matroska or Ogg written to a pipe (a browser's MediaRecorder, a stream) has no duration
    in its header: ffprobe says ``duration=N/A``. Such a file is audio of unknown length, decoded
    with the duration limit counted on the samples, like a FLAC or WAV written to a pipe.

    >>> _ffprobe_duration("3.509000"), _ffprobe_duration("N/A"), _ffprobe_duration(None)
    (3.509, inf, inf)
    """
    try:
        duration = float(value) if value is not None else math.inf
    except ValueError:
        return math.inf
    return duration if math.isfinite(duration) and duration >= 0 else math.inf


def _soundfile_header(path: Path, info: Any) -> AudioHeader:
    """libsndfile's header, with "unknown length" as math.inf and the length a WAV/FLAC declares.

    libsndfile trims a WAV's frame count to the bytes present, so a truncated WAV looks whole to
    it: the declared length comes from the RIFF data chunk instead.
    """
    known = info.frames != UNKNOWN_FRAMES and not (info.format == "WAV" and info.frames == 0 and _wav_streamed(path))
    duration = info.frames / info.samplerate if known else math.inf
    declared = None
    if info.format == "WAV":
        frames = _wav_declared_frames(path)
        declared = None if frames is None else frames / info.samplerate
    elif info.format == "FLAC" and known:
        declared = duration
    return AudioHeader(info.samplerate, info.channels, duration, "soundfile", declared)


def _wav_data_chunk(path: Path) -> tuple[int, int, int] | None:
    """(data size, data offset, block align) of a plain RIFF/WAVE file, or None when it is not one."""
    with path.open("rb") as handle:
        head = handle.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        block_align = 0
        for _ in range(64):  # a WAV has a handful of chunks; never walk a garbage file for long
            chunk = handle.read(8)
            if len(chunk) < 8:
                return None
            name, size = chunk[:4], int.from_bytes(chunk[4:], "little")
            if name == b"data":
                return size, handle.tell(), block_align
            body = handle.read(min(size, 64)) if name == b"fmt " else b""
            if name == b"fmt " and len(body) >= 14:
                block_align = int.from_bytes(body[12:14], "little")
            handle.seek(size + (size & 1) - len(body), 1)
    return None


def _wav_declared_frames(path: Path) -> int | None:
    """Frames the WAV's data chunk declares; None for a streamed WAV (size 0 or 0xFFFFFFFF)."""
    chunk = _wav_data_chunk(path)
    if chunk is None or chunk[0] in WAV_STREAMED_SIZES or chunk[2] == 0:
        return None
    return chunk[0] // chunk[2]


def _wav_streamed(path: Path) -> bool:
    """A WAV whose data chunk says 0 bytes but is followed by data: its writer could not seek back."""
    chunk = _wav_data_chunk(path)
    return chunk is not None and chunk[0] == 0 and path.stat().st_size > chunk[1]


def read_audio(path: Path, header: AudioHeader, max_duration: float | None = None) -> np.ndarray:
    """Decode ``path`` to float32 mono at 16 kHz (channels averaged, soxr HQ resampling).

    ``max_duration`` (seconds) is enforced while decoding, whatever the header said: past it,
    decoding stops and DurationLimitError is raised, so a lying or silent header cannot make
    anyone decode an hour of audio to reject it. Preparation and prediction share this reader.
    """
    if header.backend == "soundfile":
        try:
            wave, rate = _soundfile_read(path, header, max_duration)
        except (sf.LibsndfileError, RuntimeError) as error:
            raise AudioReadError(f"unreadable: soundfile: {str(error).split(': ', 1)[-1]}") from None
        return to_mono_16k(wave, rate)
    return _ffmpeg_decode(path, max_duration)


def _soundfile_read(path: Path, header: AudioHeader, max_duration: float | None) -> tuple[np.ndarray, int]:
    """[frames, channels] float32 read block by block, stopped once past ``max_duration``."""
    # A streamed WAV's raw data is read into memory: no more of it than the limit needs.
    bytes_needed = -1
    if max_duration is not None:  # at most 8 bytes a sample (float64)
        bytes_needed = int((max_duration + 2 * BLOCK_SECONDS) * header.sample_rate) * 8 * header.channels
    with _open_soundfile(path, header, bytes_needed) as handle:
        rate = handle.samplerate
        block = max(1, int(rate * BLOCK_SECONDS))
        limit = None if max_duration is None else int(max_duration * rate)
        parts, frames = [], 0
        while True:
            part = handle.read(block, dtype="float32", always_2d=True)
            if not len(part):
                break
            parts.append(part)
            frames += len(part)
            if limit is not None and frames > limit:
                raise DurationLimitError(frames / rate, max_duration)
    wave = np.concatenate(parts) if parts else np.zeros((0, header.channels), np.float32)
    return wave, rate


@contextmanager
def _open_soundfile(path: Path, header: AudioHeader, max_bytes: int = -1) -> Iterator[sf.SoundFile]:
    """A handle that reads the file front to back, even when its header gives no length.

    soundfile seeks to its own position after every read; libsndfile's FLAC decoder cannot seek
    in a stream without a frame count ("Internal psf_fseek() failed"), so such a handle is marked
    unseekable, which makes soundfile skip that no-op seek. A streamed WAV (data size 0, which
    libsndfile reads as empty) is read as raw PCM from its data chunk on.
    """
    chunk = None if header.length_known else _wav_data_chunk(path)
    if chunk is not None and chunk[0] == 0:
        info = sf.info(str(path))
        with path.open("rb") as stream:
            stream.seek(chunk[1])
            data = io.BytesIO(stream.read(max_bytes))
        with sf.SoundFile(data, format="RAW", subtype=info.subtype, samplerate=info.samplerate,
                          channels=info.channels, endian="LITTLE") as handle:
            yield handle
        return
    with sf.SoundFile(str(path)) as handle:
        if not header.length_known:
            handle._info.seekable = 0  # see the docstring; soundfile has no public switch for it
        yield handle


def to_mono_16k(wave: np.ndarray, rate: int) -> np.ndarray:
    """[frames, channels] or [frames] float audio at ``rate`` -> [frames'] float32 at 16 kHz."""
    if wave.ndim == 2:
        wave = wave.mean(axis=1)
    wave = np.ascontiguousarray(wave, dtype=np.float32)
    if rate != SAMPLE_RATE and wave.size:
        wave = soxr.resample(wave, rate, SAMPLE_RATE, quality="HQ").astype(np.float32, copy=False)
    return wave


def _ffmpeg_decode(path: Path, max_duration: float | None = None) -> np.ndarray:
    """ffmpeg does the container, the mixdown and the resampling in one pass.

    With ``max_duration``, ffmpeg's ``-t`` stops the output a second past the limit, so a header
    that lies about the length cannot make it decode more than that.
    """
    limit = [] if max_duration is None else ["-t", f"{max_duration + BLOCK_SECONDS:.3f}"]
    command = [
        "ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:a:0", *limit,
        "-f", "f32le", "-acodec", "pcm_f32le", "-ac", "1", "-ar", str(SAMPLE_RATE), "-",
    ]
    result = subprocess.run(command, capture_output=True, timeout=600)
    if result.returncode != 0:
        detail = result.stderr.decode(errors="replace").strip().splitlines()
        raise AudioReadError(f"unreadable: ffmpeg: {detail[-1] if detail else 'exit ' + str(result.returncode)}")
    wave = np.frombuffer(result.stdout, dtype="<f4").astype(np.float32)
    if max_duration is not None and wave.size > max_duration * SAMPLE_RATE:
        raise DurationLimitError(wave.size / SAMPLE_RATE, max_duration)
    return wave
