"""Tiny deterministic stand-ins for trained models, for tests of evaluation, ensembles and prediction.

``BandEnergyModel`` scores each class by the log energy in that class's frequency band of
tests/shard_factory.py, so it "knows" the synthetic task without training: its accuracy is far
above chance, which lets tests check that reports and ensembles carry real signal.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from tests.shard_factory import class_band

SAMPLE_RATE = 16_000


class BandEnergyModel(nn.Module):
    """(audio [B, T], lengths [B]) -> [B, C] log band energies over the valid samples only."""

    def __init__(self, num_classes: int, noise: float = 0.0, seed: int = 0) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.noise = noise
        self.generator = torch.Generator().manual_seed(seed)

    def forward(self, audio: Tensor, lengths: Tensor) -> Tensor:
        mask = torch.arange(audio.shape[1])[None, :] < lengths[:, None]
        power = torch.fft.rfft(audio * mask).abs() ** 2
        freqs = torch.fft.rfftfreq(audio.shape[1], 1.0 / SAMPLE_RATE)
        bands = [class_band(c, self.num_classes) for c in range(self.num_classes)]
        energy = torch.stack([power[:, (freqs >= lo) & (freqs < hi)].sum(dim=1) for lo, hi in bands], dim=1)
        logits = torch.log(energy / lengths[:, None].clamp_min(1) + 1e-6)
        if self.noise:
            logits = logits + self.noise * torch.randn(logits.shape, generator=self.generator)
        return logits
