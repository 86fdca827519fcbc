"""Segment-wise emotion prediction on one recording: decode, window, batch, top-k."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from data_preparation.audio_io import AudioReadError, probe, read_audio
from data_preparation.shard_format import SAMPLE_RATE
from datamodules.pipeline_stages import pad_clip
from prediction.predictor import Predictor
from prediction.segments import SegmentSpec, length_groups, pad_batch, segment_bounds


class RecordingError(ValueError):
    """A recording that cannot be predicted; the message names the file and the reason."""


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


def load_recording(path: str | Path, max_duration: float | None = None) -> tuple[np.ndarray, int, int]:
    """16 kHz mono float32 waveform of any file soundfile or ffmpeg reads, with its native rate and channels.

    ``max_duration`` (seconds) is checked on the header before decoding, so an hour-long upload is
    refused without filling memory. Every failure is a RecordingError naming the file.
    """
    path = Path(path)
    try:
        header = probe(path)
        if max_duration is not None and header.duration > max_duration:
            raise RecordingError(f"{path.name}: {header.duration:.1f} s is longer than the limit of {max_duration:g} s")
        wave = read_audio(path, header)
    except (AudioReadError, OSError) as error:
        raise RecordingError(f"{path.name}: {error}") from None
    if wave.size == 0:
        raise RecordingError(f"{path.name}: no audio samples")
    if not np.isfinite(wave).all():
        raise RecordingError(f"{path.name}: audio contains NaN or infinite samples")
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
    if padding == "zero":
        return pad_batch([wave[start:end] for start, end in bounds], window)
    clips = [pad_clip(wave[start:end], window, padding) for start, end in bounds]
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
    segments: list[SegmentPrediction] = []
    for index, ((start, end), row) in enumerate(zip(bounds, probabilities)):
        segments.append(SegmentPrediction(
            index=index, start=round(start / rate, 4), end=round(end / rate, 4),
            top=top_k(row, names, k), probabilities={n: round(float(p), 6) for n, p in zip(names, row)},
        ))
    return segments


def predict_file(
    predictor: Predictor, path: str | Path, spec: SegmentSpec, batch_size: int = 16, k: int = 3,
    max_duration: float | None = None,
) -> RecordingPrediction:
    """Decode ``path`` and predict all its windows; raises RecordingError for unusable files."""
    wave, rate, channels = load_recording(path, max_duration)
    return RecordingPrediction(
        path=str(path), duration=round(len(wave) / SAMPLE_RATE, 4), native_sample_rate=rate,
        native_channels=channels, segments=predict_wave(predictor, wave, spec, batch_size, k),
    )
