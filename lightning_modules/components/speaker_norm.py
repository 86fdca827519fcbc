"""Per-speaker feature normalisation: each speaker's features shifted and scaled by that speaker's own statistics.

Why: on acted corpora much of what separates speakers is not emotion: one SAVEE speaker is
recorded 22 dB quieter than the others, with another microphone colour, and a CNN trained on the
other three calls every one of his clips neutral (UA at chance in every run). Per-utterance
normalisation removes the speaker *and* the emotion (anger is louder than sadness in the same
voice): it made SAVEE worse. Per-speaker normalisation removes what is constant over one voice and
keeps the differences between its utterances; it is what the classical baseline's
``speaker_norm`` does to its functionals (docs/results.md: SAVEE 32.9 -> 58.6).

The statistics are each feature row's mean and standard deviation over every valid frame of one
speaker's clips in one split, computed without labels (lightning_modules/speaker_statistics.py).
A recording with no speaker statistics (predict.py, serve.py, an exported model) is normalised by
the training population's statistics, kept here as buffers so they travel in the checkpoint.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

BandStats = tuple[Tensor, Tensor]  # (mean, std), each [B, *rows]: one row set per clip of the batch


class SpeakerNorm(nn.Module):
    """features [B, *rows, frames] -> (features - mean) / std per row, with per-clip or population statistics.

    ``rows`` is the feature shape without batch and time ((n_mels,) for log-mel, (channels, n_mfcc)
    for MFCC with deltas). ``min_std`` (in the features' units, dB for log-mel) keeps a row that is
    nearly constant for a speaker (a band under the silence floor) from being blown up.

    >>> norm = SpeakerNorm((2,)); x = torch.tensor([[[1.0, 3.0], [10.0, 10.0]]])
    >>> norm(x, (torch.tensor([[2.0, 10.0]]), torch.tensor([[1.0, 0.0]]))).tolist()
    [[[-1.0, 1.0], [0.0, 0.0]]]
    """

    def __init__(self, rows: Sequence[int], min_std: float = 1.0) -> None:
        super().__init__()
        self.rows, self.min_std = tuple(rows), float(min_std)
        # identity until fitting sets them from the training speakers (set_population)
        self.register_buffer("population_mean", torch.zeros(self.rows))
        self.register_buffer("population_std", torch.ones(self.rows))

    def set_population(self, mean: Tensor, std: Tensor) -> None:
        """The statistics of every training frame pooled: what a recording of an unknown speaker gets."""
        self.population_mean.copy_(mean.reshape(self.rows))
        self.population_std.copy_(std.reshape(self.rows))

    def forward(self, features: Tensor, stats: BandStats | None = None) -> Tensor:
        if stats is None:
            mean, std = self.population_mean.unsqueeze(0), self.population_std.unsqueeze(0)
        else:
            mean, std = stats
        mean, std = mean.to(features), std.to(features).clamp(min=self.min_std)
        return (features - mean.unsqueeze(-1)) / std.unsqueeze(-1)
