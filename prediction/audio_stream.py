"""Decode a recording block by block into 16 kHz mono float32, counting decoded audio against a limit.

Why blocks: prediction on a two-hour recording should not hold two hours of audio (and its
resampled copy) in memory. Why count while decoding: the duration in a container header is a claim,
not a fact (a WebM whose header says 1 s can decode to an hour), so a limit is enforced on the
samples that actually come out, and decoding stops one block past the limit at the latest.

soundfile reads files whose header states their length; everything else (containers libsndfile
cannot open, and FLAC/WAV written to a pipe, whose header leaves the length unknown) streams
through an ffmpeg subprocess. The blocks concatenate to exactly what the whole-file decode in
data_preparation/decode/audio_io.py gives: the channel mean is per frame and soxr's streaming resampler
returns the same samples as its one-shot call.
"""
from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf
import soxr

from data_preparation.decode.audio_io import AudioHeader, AudioReadError, DurationLimitError
from data_preparation.shards.shard_format import SAMPLE_RATE

BLOCK_SECONDS = 20.0


def audio_blocks(
    path: Path, header: AudioHeader, max_seconds: float | None = None, block_seconds: float | None = None,
) -> Iterator[np.ndarray]:
    """16 kHz mono float32 blocks of ``path`` (``block_seconds``, default BLOCK_SECONDS, of native audio each);
    DurationLimitError once more than ``max_seconds`` decodes."""
    block_seconds = block_seconds or BLOCK_SECONDS
    if header.backend == "soundfile" and header.length_known:
        native = _soundfile_blocks(path, header.sample_rate, max_seconds, block_seconds)
        yield from _mono_16k(native, header.sample_rate)
    else:
        yield from _ffmpeg_blocks(path, max_seconds, block_seconds)


def _soundfile_blocks(path: Path, rate: int, max_seconds: float | None, block_seconds: float) -> Iterator[np.ndarray]:
    """[frames, channels] float32 blocks at the native rate, at most ``max_seconds`` plus one frame."""
    limit = None if max_seconds is None else int(np.ceil(max_seconds * rate))
    block, total = max(1, int(block_seconds * rate)), 0
    try:
        with sf.SoundFile(str(path)) as source:
            while True:
                want = block if limit is None else min(block, limit + 1 - total)
                data = source.read(want, dtype="float32", always_2d=True)
                if not len(data):
                    return
                total += len(data)
                if limit is not None and total > limit:
                    raise DurationLimitError(total / rate, max_seconds)
                yield data
    except (sf.LibsndfileError, RuntimeError) as error:
        raise AudioReadError(f"unreadable: soundfile: {str(error).split(': ', 1)[-1]}") from None


def _mono_16k(blocks: Iterator[np.ndarray], rate: int) -> Iterator[np.ndarray]:
    """Channel mean and soxr HQ resampling to 16 kHz, one block at a time (same samples as one-shot)."""
    stream = soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ") if rate != SAMPLE_RATE else None
    for data in blocks:
        mono = np.ascontiguousarray(data.mean(axis=1), dtype=np.float32)
        out = stream.resample_chunk(mono, last=False) if stream is not None else mono
        if out.size:
            yield out.astype(np.float32, copy=False)
    if stream is not None:
        tail = stream.resample_chunk(np.zeros(0, np.float32), last=True)
        if tail.size:
            yield tail.astype(np.float32, copy=False)


def _ffmpeg_blocks(path: Path, max_seconds: float | None, block_seconds: float) -> Iterator[np.ndarray]:
    """ffmpeg's 16 kHz mono float32 output, read from its pipe; the process is killed at the limit."""
    command = [
        "ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:a:0",
        "-f", "f32le", "-acodec", "pcm_f32le", "-ac", "1", "-ar", str(SAMPLE_RATE), "-",
    ]
    limit = None if max_seconds is None else int(np.ceil(max_seconds * SAMPLE_RATE))
    chunk, total, carry = 4 * max(1, int(block_seconds * SAMPLE_RATE)), 0, b""
    with tempfile.TemporaryFile() as errors:
        try:
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors)
        except FileNotFoundError:
            raise AudioReadError("unreadable: soundfile cannot read it and ffmpeg is not installed") from None
        try:
            while data := process.stdout.read(chunk if limit is None else min(chunk, 4 * (limit + 1 - total))):
                data, carry = carry + data, b""
                if len(data) % 4:
                    data, carry = data[: len(data) - len(data) % 4], data[len(data) - len(data) % 4:]
                total += len(data) // 4
                if limit is not None and total > limit:
                    raise DurationLimitError(total / SAMPLE_RATE, max_seconds)
                yield np.frombuffer(data, dtype="<f4").astype(np.float32)
            if process.wait(timeout=60) != 0:
                errors.seek(0)
                detail = errors.read().decode(errors="replace").strip().splitlines()
                raise AudioReadError(f"unreadable: ffmpeg: {detail[-1] if detail else 'exit ' + str(process.returncode)}")
        finally:
            if process.poll() is None:
                process.kill()
            process.stdout.close()
            process.wait()
