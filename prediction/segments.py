"""Cut a long recording into fixed-length windows and batch them with their true lengths.

Windows start every ``hop`` seconds and last ``length`` seconds. What the last full window does not
cover is handled by ``final``:

- ``pad`` (default): one more, shorter window from the next start to the end of the file, zero-padded
  to ``length`` and passed with its true length, so length-aware pooling ignores the zeros.

Every window shorter than ``length`` (the tail, or a recording shorter than one window) is padded
to ``length``, and batches only hold windows of one padded size (``length_groups``). So a window's
prediction never depends on which other windows share its batch, which matters for networks whose
convolutions see padding near the edge (models trained on clips padded to a fixed length do).
- ``merge``: the remainder is appended to the last window, which becomes longer than ``length``.
- ``drop``: the remainder is ignored.

A recording shorter than one window is always one window of its own length, whatever ``final``.
Remainders shorter than ``min_final`` seconds are merged into the previous window under ``pad`` as
well: a 0.1 s tail says nothing about emotion and would only add a noisy row.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

import numpy as np
import torch

FINAL_POLICIES = ("pad", "merge", "drop")


@dataclass(frozen=True)
class SegmentSpec:
    """Windowing of a recording, in seconds."""

    length: float = 5.0
    hop: float = 5.0
    final: str = "pad"
    min_final: float = 0.5

    def __post_init__(self) -> None:
        if self.length <= 0 or self.hop <= 0:
            raise ValueError(f"segment length and hop must be positive, got length={self.length}, hop={self.hop}")
        if self.final not in FINAL_POLICIES:
            raise ValueError(f"final segment policy {self.final!r} is not one of {', '.join(FINAL_POLICIES)}")
        if self.min_final < 0:
            raise ValueError(f"min_final must be >= 0, got {self.min_final}")


def segment_bounds(num_samples: int, sample_rate: int, spec: SegmentSpec) -> list[tuple[int, int]]:
    """[start, end) sample indices of every window of a recording ``num_samples`` long.

    >>> segment_bounds(12, 1, SegmentSpec(length=5, hop=5))
    [(0, 5), (5, 10), (10, 12)]
    >>> segment_bounds(12, 1, SegmentSpec(length=5, hop=5, final="merge"))
    [(0, 5), (5, 12)]
    >>> segment_bounds(3, 1, SegmentSpec(length=5, hop=5, final="drop"))
    [(0, 3)]
    """
    if num_samples <= 0:
        return []
    length = max(1, round(spec.length * sample_rate))
    hop = max(1, round(spec.hop * sample_rate))
    if num_samples <= length:
        return [(0, num_samples)]
    bounds = [(start, start + length) for start in range(0, num_samples - length + 1, hop)]
    covered = bounds[-1][1]
    if covered >= num_samples or spec.final == "drop":
        return bounds
    next_start = bounds[-1][0] + hop
    tail = num_samples - max(next_start, covered)
    if spec.final == "merge" or tail < spec.min_final * sample_rate:
        bounds[-1] = (bounds[-1][0], num_samples)
    else:
        bounds.append((next_start, num_samples))
    return bounds


def pad_batch(
    waves: Sequence[np.ndarray | torch.Tensor], min_samples: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-padded float32 [B, max(T_max, min_samples)] batch and the true lengths [B] (int64).

    >>> audio, lengths = pad_batch([np.ones(3), np.ones(1)])
    >>> audio.tolist(), lengths.tolist()
    ([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]], [3, 1])
    >>> pad_batch([np.ones(2)], min_samples=4)[0].tolist()
    [[1.0, 1.0, 0.0, 0.0]]
    """
    lengths = torch.tensor([len(wave) for wave in waves], dtype=torch.long)
    width = max(int(lengths.max()) if len(waves) else 0, min_samples)
    audio = torch.zeros(len(waves), width, dtype=torch.float32)
    for row, wave in enumerate(waves):
        audio[row, : len(wave)] = torch.as_tensor(np.asarray(wave), dtype=torch.float32)
    return audio, lengths


def length_groups(bounds: Sequence[tuple[int, int]], batch_size: int, min_samples: int = 0) -> list[list[int]]:
    """Indices of ``bounds`` in batches of at most ``batch_size`` windows of one padded size, in order.

    A window's padded size is max(its length, ``min_samples``).

    >>> length_groups([(0, 5), (5, 10), (10, 12)], 8)
    [[0, 1], [2]]
    >>> length_groups([(0, 5), (5, 10), (10, 12)], 8, min_samples=5)
    [[0, 1, 2]]
    """
    by_size: dict[int, list[int]] = {}
    for index, (start, end) in enumerate(bounds):
        by_size.setdefault(max(end - start, min_samples), []).append(index)
    return [list(chunk) for group in by_size.values() for chunk in batched(group, batch_size)]


def batched(items: Sequence, batch_size: int) -> Iterator[Sequence]:
    """Consecutive slices of at most ``batch_size`` items."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    for start in range(0, len(items), batch_size):
        yield items[start : start + batch_size]


def stream_windows(
    blocks: Iterable[np.ndarray], sample_rate: int, spec: SegmentSpec
) -> Iterator[tuple[int, int, np.ndarray]]:
    """``(start, end, samples)`` of every window of a recording that arrives in blocks, in order.

    The windows are exactly ``segment_bounds(total, ...)`` of the whole recording, but only about one
    window plus one hop plus one block is held at a time. A full window is yielded once the next one
    is known to be full too: only the last full window can still change (``merge``, ``min_final``),
    and which windows come last is decided when the blocks run out.

    >>> blocks = [np.arange(4.0), np.arange(4.0, 12.0)]
    >>> [(s, e) for s, e, _ in stream_windows(blocks, 1, SegmentSpec(length=5, hop=5, final="merge"))]
    [(0, 5), (5, 12)]
    >>> [w.tolist() for _, _, w in stream_windows([np.arange(7.0)], 1, SegmentSpec(length=5, hop=5))]
    [[0.0, 1.0, 2.0, 3.0, 4.0], [5.0, 6.0]]
    """
    length = max(1, round(spec.length * sample_rate))
    hop = max(1, round(spec.hop * sample_rate))
    buffer, offset, next_start, total = np.zeros(0, np.float32), 0, 0, 0
    for block in blocks:
        buffer = np.concatenate([buffer, block])
        total += len(block)
        while next_start + hop + length <= total:  # this window is full and is not the last full one
            yield next_start, next_start + length, buffer[next_start - offset: next_start - offset + length]
            next_start += hop
        drop = min(next_start - offset, len(buffer))  # samples no later window needs (hop may exceed length)
        buffer, offset = buffer[drop:], offset + drop
    for start, end in segment_bounds(total, sample_rate, spec):
        if start >= next_start:
            yield start, end, buffer[start - offset: end - offset]
