"""Pooling over the valid frames of padded sequences (SpeechBrain ``nnet/pooling.py`` idea).

Padding must never leak into an utterance embedding, or a 1 s clip padded to 4 s would look
like mostly silence. Every pooling here takes a boolean mask of valid frames.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn


def frame_mask(lengths: Tensor, frames: int) -> Tensor:
    """Boolean [B, frames] mask, True on the first ``lengths[b]`` frames of row b.

    >>> frame_mask(torch.tensor([1, 3]), 3).tolist()
    [[True, False, False], [True, True, True]]
    """
    return torch.arange(frames, device=lengths.device)[None, :] < lengths[:, None]


def masked_mean(x: Tensor, mask: Tensor) -> Tensor:
    """Mean of x [B, T, D] over the frames where mask [B, T] is True -> [B, D].

    >>> masked_mean(torch.tensor([[[1.0], [3.0], [100.0]]]), torch.tensor([[True, True, False]])).tolist()
    [[2.0]]
    """
    weights = mask.to(x.dtype).unsqueeze(-1)
    return (x * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)


def masked_max(x: Tensor, mask: Tensor) -> Tensor:
    """Max of x [B, T, D] over valid frames -> [B, D]."""
    return x.masked_fill(~mask.unsqueeze(-1), torch.finfo(x.dtype).min).amax(dim=1)


class MeanPooling(nn.Module):
    """Average of the valid frames: x [B, T, D], mask [B, T] -> [B, D]."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.out_dim = dim

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        return masked_mean(x, mask)


class AttentiveStatisticsPooling(nn.Module):
    """Attention-weighted mean and standard deviation of the valid frames -> [B, 2D].

    The attention scores come from a small MLP over each frame; padded frames get zero weight,
    so the statistics describe speech only (ECAPA-TDNN's pooling, without the global context).
    """

    def __init__(self, dim: int, hidden: int = 128) -> None:
        super().__init__()
        self.attention = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh(), nn.Linear(hidden, 1))
        self.out_dim = 2 * dim

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        scores = self.attention(x).squeeze(-1).float().masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=1).nan_to_num(0.0).to(x.dtype).unsqueeze(-1)
        mean = (weights * x).sum(dim=1)
        variance = (weights * (x - mean.unsqueeze(1)).pow(2)).sum(dim=1)
        return torch.cat([mean, variance.clamp_min(1e-8).sqrt()], dim=-1)


POOLINGS = {"mean": MeanPooling, "attentive": AttentiveStatisticsPooling}


def build_pooling(name: str, dim: int) -> nn.Module:
    """The pooling called ``name`` ('mean' or 'attentive') over ``dim``-dimensional frames."""
    if name not in POOLINGS:
        raise ValueError(f"pooling={name!r}: expected one of {sorted(POOLINGS)}")
    return POOLINGS[name](dim)
