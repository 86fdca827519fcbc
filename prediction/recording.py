"""Segment-wise emotion prediction on one recording: decode, window, batch, top-k."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from data_preparation.audio_io import AudioReadError, probe, read_audio
from data_preparation.shard_format import SAMPLE_RATE
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


def predict_wave(
    predictor: Predictor, wave: np.ndarray, spec: SegmentSpec, batch_size: int = 16, k: int = 3
) -> list[SegmentPrediction]:
    """Top-``k`` emotions of every window of a 16 kHz waveform.

    Short windows are zero-padded to the window length with their true lengths, and batches hold
    windows of one padded size only (prediction/segments.py explains why).
    """
    if predictor.sample_rate != SAMPLE_RATE:
        raise ValueError(f"model expects {predictor.sample_rate} Hz audio; prediction feeds {SAMPLE_RATE} Hz")
    bounds = segment_bounds(len(wave), SAMPLE_RATE, spec)
    names = predictor.class_names
    probabilities = np.zeros((len(bounds), len(names)))
    window = round(spec.length * SAMPLE_RATE)
    for indices in length_groups(bounds, batch_size, window):
        audio, lengths = pad_batch([wave[bounds[i][0]:bounds[i][1]] for i in indices], window)
        logits = predictor.predict_logits(audio, lengths)
        probabilities[indices] = torch.softmax(logits.double(), dim=1).numpy()
    segments: list[SegmentPrediction] = []
    for index, ((start, end), row) in enumerate(zip(bounds, probabilities)):
        segments.append(SegmentPrediction(
            index=index, start=round(start / SAMPLE_RATE, 4), end=round(end / SAMPLE_RATE, 4),
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
