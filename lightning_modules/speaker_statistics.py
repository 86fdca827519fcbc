"""Each speaker's feature statistics over one split: the pass that per-speaker normalisation needs.

A speaker is ``corpus/speaker`` as the shards' metadata names it (batches carry both fields). The
pass reads every clip of the split once, in the evaluation loader's order and crop, through the
network's front-end only, with no augmentation. Labels never enter the statistics; they are only
counted per speaker (:meth:`SpeakerStatistics.single_class_speakers`) so that training can warn when
most speakers show one class. Under DDP each rank reads its share and the
sums are merged over ranks, so every rank normalises with the same statistics.

Why by hand: torchmetrics' running statistics aggregate over a whole stream, not per group keyed by
a string, and Lightning has no "pass over the data before the stage" hook beyond the stage hooks
this is called from.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from lightning_modules.components.pooling import frame_mask


def speakers_of(batch: dict[str, Any]) -> list[str]:
    """``corpus/speaker`` of every clip of a batch (a speaker id is only unique within its corpus)."""
    return [f"{corpus}/{speaker}" for corpus, speaker in zip(batch["corpus"], batch["speaker"])]


@dataclass
class RowSums:
    """Frame count, sum and sum of squares of every feature row (float64: a speaker has millions of frames)."""

    frames: float = 0.0
    total: Tensor | None = None
    squares: Tensor | None = None

    def add(self, frames: float, total: Tensor, squares: Tensor) -> None:
        self.frames += frames
        self.total = total if self.total is None else self.total + total
        self.squares = squares if self.squares is None else self.squares + squares

    def mean_std(self) -> tuple[Tensor, Tensor]:
        mean = self.total / self.frames
        variance = (self.squares / self.frames - mean ** 2).clamp(min=0.0)
        return mean.float(), variance.sqrt().float()


@dataclass
class SpeakerStatistics:
    """Per-speaker sums of one split's features; :meth:`add` per batch, :meth:`merged_over_ranks` once."""

    sums: dict[str, RowSums] = field(default_factory=dict)
    classes: dict[str, set[int]] = field(default_factory=dict)  # the label ids seen per speaker (when given)

    def add(self, features: Tensor, frames: Tensor, speakers: Sequence[str], labels: Sequence[int] | None = None) -> None:
        """features [B, *rows, T] with frames [B] valid frames each, speakers [B], their label ids if known."""
        mask = frame_mask(frames.clamp(1, features.shape[-1]), features.shape[-1]).to(features.device)
        mask = mask.view(mask.shape[0], *([1] * (features.dim() - 2)), mask.shape[1]).double()
        values = features.double()
        total, squares = (values * mask).sum(-1).cpu(), (values ** 2 * mask).sum(-1).cpu()
        counts = frames.clamp(1, features.shape[-1]).tolist()
        for row, speaker in enumerate(speakers):
            self.sums.setdefault(speaker, RowSums()).add(float(counts[row]), total[row], squares[row])
            if labels is not None:
                self.classes.setdefault(speaker, set()).add(int(labels[row]))

    def merged_over_ranks(self) -> "SpeakerStatistics":
        """The sums of every rank (a no-op without an initialised process group)."""
        if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
            return self
        gathered: list[Any] = [None] * torch.distributed.get_world_size()
        plain = {speaker: (s.frames, s.total.tolist(), s.squares.tolist(), sorted(self.classes.get(speaker, ())))
                 for speaker, s in self.sums.items()}
        torch.distributed.all_gather_object(gathered, plain)
        merged = SpeakerStatistics()
        for rank_sums in gathered:
            for speaker, (frames, total, squares, classes) in rank_sums.items():
                merged.sums.setdefault(speaker, RowSums()).add(
                    frames, torch.tensor(total, dtype=torch.float64), torch.tensor(squares, dtype=torch.float64))
                if classes:
                    merged.classes.setdefault(speaker, set()).update(classes)
        return merged

    def update(self, other: "SpeakerStatistics") -> None:
        """Add another split's sums (a speaker in two training splits pools both)."""
        for speaker, s in other.sums.items():
            self.sums.setdefault(speaker, RowSums()).add(s.frames, s.total, s.squares)
        for speaker, classes in other.classes.items():
            self.classes.setdefault(speaker, set()).update(classes)

    def single_class_speakers(self) -> list[str]:
        """Speakers whose clips all carry one label: normalising by their statistics removes that emotion too."""
        return sorted(speaker for speaker, classes in self.classes.items() if len(classes) == 1)

    def pooled(self) -> tuple[Tensor, Tensor]:
        """Mean and std of every frame of every speaker: the population an unknown speaker is normalised by."""
        everyone = RowSums()
        for s in self.sums.values():
            everyone.add(s.frames, s.total, s.squares)
        if everyone.total is None:
            raise ValueError("speaker statistics: the split held no clip")
        return everyone.mean_std()

    def table(self) -> dict[str, tuple[Tensor, Tensor]]:
        return {speaker: s.mean_std() for speaker, s in self.sums.items()}


def collect(batches: Iterable[dict[str, Any]], features_of: Any) -> SpeakerStatistics:
    """Statistics of every batch: ``features_of(batch) -> (features, frames)`` is the network's front-end."""
    statistics = SpeakerStatistics()
    with torch.no_grad():
        for batch in batches:
            features, frames = features_of(batch)
            labels = batch["label"].tolist() if "label" in batch else None
            statistics.add(features, frames, speakers_of(batch), labels)
    return statistics.merged_over_ranks()


def batch_stats(table: dict[str, tuple[Tensor, Tensor]], speakers: Sequence[str], population: tuple[Tensor, Tensor],
                device: torch.device) -> tuple[Tensor, Tensor]:
    """(mean, std) [B, *rows] for a batch's speakers; a speaker the table lacks gets the population's."""
    fallback = (population[0].detach().cpu(), population[1].detach().cpu())
    rows = [table.get(speaker, fallback) for speaker in speakers]
    return (torch.stack([mean for mean, _ in rows]).to(device), torch.stack([std for _, std in rows]).to(device))
