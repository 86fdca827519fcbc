"""Segment-wise emotion prediction on one recording: decode, window, batch, top-k.

``predict_file`` streams: it decodes, resamples, windows and scores block by block
(prediction/audio_stream.py, ``segments.stream_windows``), so its memory does not grow with the
recording's length, and it gives the same segments as ``predict_wave`` on the whole decoded file.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
import torch

from data_preparation.decode.audio_io import AudioHeader, AudioReadError, probe
from data_preparation.shards.shard_format import SAMPLE_RATE
from datamodules.pipeline_stages import pad_clip
from prediction.audio_stream import audio_blocks
from prediction.predictor import Predictor
from prediction.segments import SegmentSpec, length_groups, pad_batch, segment_bounds, stream_windows


class RecordingError(ValueError):
    """A recording that cannot be predicted (not audio, damaged, empty, or refused by a limit); the
    message names the file and the reason."""


@dataclass
class SegmentPrediction:
    index: int
    start: float  # seconds
    end: float  # seconds
    top: list[dict[str, Any]]  # [{"label", "probability"}], best first
    probabilities: dict[str, float]  # every class


@dataclass
class RecordingPrediction:
    path: str
    duration: float  # seconds, after decoding
    native_sample_rate: int
    native_channels: int
    segments: list[SegmentPrediction] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def open_recording(path: Path, max_duration: float | None = None) -> AudioHeader:
    """The header of ``path``, refused at once when it already states more than ``max_duration`` seconds."""
    try:
        header = probe(path)
    except (AudioReadError, OSError) as error:
        raise RecordingError(f"{path.name}: {error}") from None
    if max_duration is not None and header.length_known and header.duration > max_duration:
        raise RecordingError(f"{path.name}: {header.duration:.1f} s is longer than the limit of {max_duration:g} s")
    return header


def decoded_blocks(path: Path, header: AudioHeader, max_duration: float | None = None) -> Iterator[np.ndarray]:
    """16 kHz mono blocks of ``path``, the duration limit counted on decoded samples (a header may lie).

    Every failure, also one in the middle of the file, is a RecordingError naming the file.
    """
    try:
        for block in audio_blocks(path, header, max_duration):
            if not np.isfinite(block).all():
                raise RecordingError(f"{path.name}: audio contains NaN or infinite samples")
            yield block
    except (AudioReadError, OSError) as error:
        raise RecordingError(f"{path.name}: {error}") from None


def load_recording(path: str | Path, max_duration: float | None = None) -> tuple[np.ndarray, int, int]:
    """16 kHz mono float32 waveform of any file soundfile or ffmpeg reads, with its native rate and channels.

    ``max_duration`` (seconds) is checked on the header first and then on the decoded samples, which
    stops decoding at the limit: a file whose header understates its length cannot fill memory.
    Every failure is a RecordingError naming the file.
    """
    path = Path(path)
    header = open_recording(path, max_duration)
    blocks = list(decoded_blocks(path, header, max_duration))
    wave = np.concatenate(blocks) if blocks else np.zeros(0, np.float32)
    if wave.size == 0:
        raise RecordingError(f"{path.name}: no audio samples")
    return wave, header.sample_rate, header.channels


def top_k(probabilities: np.ndarray, class_names: list[str], k: int) -> list[dict[str, Any]]:
    """The ``k`` most probable classes, best first.

    >>> top_k(np.array([0.1, 0.7, 0.2]), ["a", "b", "c"], 2)
    [{'label': 'b', 'probability': 0.7}, {'label': 'c', 'probability': 0.2}]
    """
    order = np.argsort(-probabilities, kind="stable")[:k]
    return [{"label": class_names[i], "probability": round(float(probabilities[i]), 6)} for i in order]


def check_predictable(predictor: Predictor) -> None:
    """Prediction feeds waveforms at the preparation rate; refuse, in one line, a model that needs something else."""
    contract = predictor.input_contract
    if contract is not None and contract.features != "waveform":
        raise ValueError(f"the model was trained on precomputed {contract.features} shards ({contract.logmel}); "
                         "prediction on recordings needs a model trained on waveforms (data.features: waveform)")
    if predictor.sample_rate != SAMPLE_RATE:
        raise ValueError(f"model expects {predictor.sample_rate} Hz audio; prediction feeds {SAMPLE_RATE} Hz")


def window_batch(wave: np.ndarray, bounds: Sequence[tuple[int, int]], window: int,
                 padding: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Windows of one padded size, padded as the model's clips were in training (zero or repeat)."""
    return pad_windows([wave[start:end] for start, end in bounds], window, padding)


def pad_windows(windows: Sequence[np.ndarray], window: int, padding: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``window_batch`` of windows already cut out."""
    if padding == "zero":
        return pad_batch(windows, window)
    clips = [pad_clip(samples, window, padding) for samples in windows]
    audio, lengths = pad_batch([clip for clip, _ in clips], window)
    return audio, torch.tensor([length for _, length in clips], dtype=torch.long)


def predict_wave(
    predictor: Predictor, wave: np.ndarray, spec: SegmentSpec, batch_size: int = 16, k: int = 3
) -> list[SegmentPrediction]:
    """Top-``k`` emotions of every window of a waveform at the model's rate.

    Short windows are padded to the window length as the model's training clips were (its input
    contract: zero padding with true lengths, or repetition), and batches hold windows of one
    padded size only (prediction/segments.py explains why).
    """
    check_predictable(predictor)
    rate = predictor.sample_rate
    padding = predictor.input_contract.padding if predictor.input_contract is not None else "zero"
    bounds = segment_bounds(len(wave), rate, spec)
    names = predictor.class_names
    probabilities = np.zeros((len(bounds), len(names)))
    window = round(spec.length * rate)
    for indices in length_groups(bounds, batch_size, window):
        audio, lengths = window_batch(wave, [bounds[i] for i in indices], window, padding)
        logits = predictor.predict_logits(audio, lengths)
        probabilities[indices] = torch.softmax(logits.double(), dim=1).numpy()
    return [segment_prediction(index, start, end, rate, row, names, k)
            for index, ((start, end), row) in enumerate(zip(bounds, probabilities))]


def segment_prediction(index: int, start: int, end: int, rate: int, row: np.ndarray, names: list[str],
                       k: int) -> SegmentPrediction:
    """One window's record; ``start``/``end`` in samples at ``rate``, ``row`` its class probabilities."""
    return SegmentPrediction(
        index=index, start=round(start / rate, 4), end=round(end / rate, 4),
        top=top_k(row, names, k), probabilities={n: round(float(p), 6) for n, p in zip(names, row)},
    )


def predict_blocks(
    predictor: Predictor, blocks: Iterable[np.ndarray], spec: SegmentSpec, batch_size: int = 16, k: int = 3
) -> tuple[list[SegmentPrediction], int]:
    """``predict_wave`` on a recording that arrives in blocks at the model's rate; also returns its length.

    Windows are batched and padded as ``predict_wave`` does it (``batch_size`` at a time among windows
    of one padded size, in order), so every batch, and so every probability, is the same as there.
    """
    check_predictable(predictor)
    rate, names = predictor.sample_rate, predictor.class_names
    padding = predictor.input_contract.padding if predictor.input_contract is not None else "zero"
    window = round(spec.length * rate)
    pending: dict[int, list[tuple[int, int, int, np.ndarray]]] = {}  # padded size -> (index, start, end, samples)
    segments: dict[int, SegmentPrediction] = {}
    counted = _Counted(blocks)

    def flush(group: list[tuple[int, int, int, np.ndarray]]) -> None:
        audio, lengths = pad_windows([samples for *_, samples in group], window, padding)
        rows = torch.softmax(predictor.predict_logits(audio, lengths).double(), dim=1).numpy()
        for (index, start, end, _), row in zip(group, rows):
            segments[index] = segment_prediction(index, start, end, rate, row, names, k)
        group.clear()

    for index, (start, end, samples) in enumerate(stream_windows(counted, rate, spec)):
        group = pending.setdefault(max(end - start, window), [])
        group.append((index, start, end, samples.copy()))
        if len(group) == batch_size:
            flush(group)
    for group in pending.values():
        if group:
            flush(group)
    return [segments[i] for i in sorted(segments)], counted.samples


class _Counted:
    """Passes blocks through and counts their samples."""

    def __init__(self, blocks: Iterable[np.ndarray]) -> None:
        self.blocks, self.samples = blocks, 0

    def __iter__(self) -> Iterator[np.ndarray]:
        for block in self.blocks:
            self.samples += len(block)
            yield block


def predict_file(
    predictor: Predictor, path: str | Path, spec: SegmentSpec, batch_size: int = 16, k: int = 3,
    max_duration: float | None = None,
) -> RecordingPrediction:
    """Decode ``path`` block by block and predict all its windows; RecordingError for unusable files."""
    path = Path(path)
    header = open_recording(path, max_duration)
    segments, samples = predict_blocks(predictor, decoded_blocks(path, header, max_duration), spec, batch_size, k)
    if samples == 0:
        raise RecordingError(f"{path.name}: no audio samples")
    return RecordingPrediction(
        path=str(path), duration=round(samples / SAMPLE_RATE, 4), native_sample_rate=header.sample_rate,
        native_channels=header.channels, segments=segments,
    )
