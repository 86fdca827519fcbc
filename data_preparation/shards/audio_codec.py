"""Shard audio codecs: how a clip's 16-bit samples are stored in its tar member.

Chosen at preparation (``codec:``) and recorded in stats.json, so every reader decodes it without
being told:

- ``flac`` (member ``.flac``, the default): smallest on disk (lossless, about 55-65% of PCM for
  speech), slowest to decode (about 1 ms per 4 s clip on one core).
- ``wav`` (member ``.wav``): PCM16 behind a 44-byte RIFF header; decoding is a copy, about 20 times
  faster than FLAC; any audio tool opens a member.
- ``raw`` (member ``.s16``): bare little-endian int16 samples, no header: the fastest; the sample
  rate comes from stats.json and the audio is mono by the shard contract.

All three hold the same int16 samples (quantised once here, exactly as libsndfile quantises float
audio for FLAC, so FLAC shards are byte-identical to those written before codecs existed) and
decode to the same float32 values (int16 / 32768): a model scores identically whatever the codec.
"""
from __future__ import annotations

import io
import struct
import wave as wavefile

import numpy as np
import soundfile as sf

DEFAULT_CODEC = "flac"
CODECS = {"flac": "flac", "wav": "wav", "raw": "s16"}  # codec -> tar member extension
PCM_SCALE = 32768.0  # int16 full scale: float = int16 / 32768, as libsndfile reads PCM_16
_CHUNK = struct.Struct("<4sI")  # a RIFF chunk header: name, size (little-endian)
_WAV_FORMAT = struct.Struct("<HHLLHH")  # the fmt chunk's PCM fields: tag, channels, rate, bytes/s, block, bits


def check_codec(codec: str) -> str:
    """``codec`` if it is known; a ValueError naming the known ones otherwise."""
    if codec not in CODECS:
        raise ValueError(f"unknown shard audio codec {codec!r}; known: {', '.join(CODECS)}")
    return codec


def member_ext(codec: str) -> str:
    """The tar member extension of ``codec`` (WebDataset's sample dict key).

    >>> [member_ext(c) for c in CODECS]
    ['flac', 'wav', 's16']
    """
    return CODECS[check_codec(codec)]


def quantise(wave: np.ndarray) -> np.ndarray:
    """int16 samples of a float waveform in [-1, 1] (clipped): round(x * 32768), capped at 32767.

    >>> quantise(np.array([-1.5, -0.5, 0.0, 0.99999, 1.0], np.float32)).tolist()
    [-32768, -16384, 0, 32767, 32767]
    """
    scaled = np.rint(np.clip(np.asarray(wave, dtype=np.float32), -1.0, 1.0) * np.float32(PCM_SCALE))
    return np.clip(scaled, -32768, 32767).astype("<i2")


def encode_pcm16(pcm: np.ndarray, sample_rate: int, codec: str) -> bytes:
    """Bytes of a mono int16 clip in ``codec``; deterministic, so re-runs give identical shards."""
    pcm = np.ascontiguousarray(pcm, dtype="<i2")
    if check_codec(codec) == "raw":
        return pcm.tobytes()
    buffer = io.BytesIO()
    if codec == "wav":
        with wavefile.open(buffer, "wb") as writer:
            writer.setnchannels(1)
            writer.setsampwidth(2)
            writer.setframerate(sample_rate)
            writer.writeframes(pcm.tobytes())
    else:
        sf.write(buffer, pcm, sample_rate, format="FLAC", subtype="PCM_16")
    return buffer.getvalue()


def encode(wave: np.ndarray, sample_rate: int, codec: str = DEFAULT_CODEC) -> bytes:
    """Bytes of a mono float waveform in [-1, 1] in ``codec``."""
    return encode_pcm16(quantise(wave), sample_rate, codec)


def decode_pcm16(data: bytes, codec: str, sample_rate: int) -> tuple[np.ndarray, int]:
    """(int16 [T] mono samples, their rate) of one member; multi-channel audio is averaged.

    ``sample_rate`` is what stats.json says; a raw member, having no header, is taken to be at it.
    """
    if check_codec(codec) == "raw":
        if len(data) % 2:
            raise ValueError(f"raw int16 audio of {len(data)} bytes: not a whole number of samples")
        return np.frombuffer(data, dtype="<i2"), sample_rate
    if codec == "wav":
        return _read_wav(data)
    pcm, rate = sf.read(io.BytesIO(data), dtype="int16", always_2d=True)
    return _mono_int16(pcm), rate


def decode(data: bytes, codec: str, sample_rate: int) -> tuple[np.ndarray, int]:
    """(float32 [T] mono waveform in [-1, 1), its rate) of one member."""
    if codec == "flac":  # libsndfile converts to float while decoding: no int16 pass
        wave, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=False)
        return (wave.mean(axis=1, dtype=np.float32) if wave.ndim > 1 else wave), rate
    pcm, rate = decode_pcm16(data, codec, sample_rate)
    return to_float(pcm), rate


def to_float(pcm: np.ndarray) -> np.ndarray:
    """float32 = int16 / 32768 (exact: a power-of-two scale)."""
    out = pcm.astype(np.float32)  # cast, then scale in place: faster than multiply's buffered cast, same values
    out *= np.float32(1.0 / PCM_SCALE)
    return out


def _read_wav(data: bytes | memoryview) -> tuple[np.ndarray, int]:
    """(int16 [T] mono samples, rate) of a PCM16 WAV member; mono samples are a view of ``data``, no copy.

    The stdlib ``wave`` reader copied the samples out (``readframes``, and ``io.BytesIO`` copies a
    mapped member first, datamodules/tar_samples.py) and its Python chunk parser cost about as much
    as the copy, several times this header parse.
    """
    channels, width, rate, (start, size) = _wav_data(data)
    if width != 2:
        raise ValueError(f"WAV of {8 * width}-bit samples; shards hold 16-bit PCM")
    pcm = np.frombuffer(data, dtype="<i2", count=size // (2 * channels) * channels, offset=start)
    return (pcm if channels == 1 else _mono_int16(pcm.reshape(-1, channels))), rate


def _wav_data(data: bytes | memoryview) -> tuple[int, int, int, tuple[int, int]]:
    """(channels, bytes per sample, rate, (offset, size) of the sample bytes) of a RIFF/WAVE member.

    Read as Python 3.11's ``wave`` reads it, so the same members decode and the same ones fail:
    chunks bounded by the RIFF size and word-aligned, the last ``fmt `` before the first ``data``
    (PCM only), whole frames of the declared data size, cut short where the member ends."""
    riff, riff_size = _CHUNK.unpack_from(data) if len(data) >= 8 else (b"", 0)
    if riff != b"RIFF":
        raise _not_wav("file does not start with RIFF id")
    end = min(len(data), 8 + riff_size)
    if end < 12 or bytes(data[8:12]) != b"WAVE":
        raise _not_wav("not a WAVE file")
    position, fmt = 12, None
    while position + 8 <= end:
        name, size = _CHUNK.unpack_from(data, position)
        body = position + 8
        if name == b"fmt ":
            if min(body + size, end) - body < 16:
                raise _not_wav("EOF in the fmt chunk")
            tag, channels, rate, _, _, bits = _WAV_FORMAT.unpack_from(data, body)
            if tag != 1:
                raise _not_wav(f"unknown format: {tag!r}")
            if not (bits + 7) // 8:
                raise _not_wav("bad sample width")
            if not channels:
                raise _not_wav("bad # of channels")
            fmt = (channels, (bits + 7) // 8, rate)
        elif name == b"data":
            if fmt is None:
                raise _not_wav("data chunk before fmt chunk")
            frame = fmt[0] * fmt[1]
            return (*fmt, (body, min(size // frame * frame, min(body + size, end) - body)))
        position = body + size + (size & 1)
    raise _not_wav("fmt chunk and/or data chunk missing")


def _not_wav(reason: str) -> ValueError:
    return ValueError(f"not a PCM WAV: {reason}")


def _mono_int16(pcm: np.ndarray) -> np.ndarray:
    if pcm.shape[1] == 1:
        return pcm[:, 0]
    return np.rint(pcm.mean(axis=1)).astype("<i2")
