"""Batched, on-device training augmentation for waveforms and spectrograms.

A LightningModule calls these in ``on_after_batch_transfer`` while training, so augmentation
runs on the GPU for the whole batch at once instead of clip by clip in loader workers. Every draw
is per sample and comes from one ``torch.Generator`` (seeded by ``seed``; with ``seed=None`` the
global torch RNG, which ``seed_everything`` seeds), so a run is reproducible. Pass a different
seed per rank (e.g. ``seed + global_rank``) when ranks should augment differently. In eval mode
both modules return their input unchanged.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Literal, Sequence

import torch
import torchaudio
from torch import Tensor, nn

from lightning_modules.components.base import BatchAugmentation
from lightning_modules.components.pooling import frame_mask


class _Seeded(nn.Module):
    """One generator per device, created lazily, so the module moves with the model."""

    def __init__(self, seed: int | None) -> None:
        super().__init__()
        self.seed = seed
        self._generators: dict[str, torch.Generator] = {}

    def generator(self, device: torch.device) -> torch.Generator | None:
        if self.seed is None:
            return None
        key = str(device)
        if key not in self._generators:
            self._generators[key] = torch.Generator(device=device).manual_seed(self.seed)
        return self._generators[key]

    def __getstate__(self) -> dict:
        # Generators restart from the seed in a copy (deepcopy, pickling for spawned processes).
        return {**self.__dict__, "_generators": {}}

    def uniform(self, low: float, high: float, size: int, device: torch.device) -> Tensor:
        return low + (high - low) * torch.rand(size, device=device, generator=self.generator(device))

    def chosen(self, prob: float, size: int, device: torch.device) -> Tensor:
        """Bool [size]: which samples get an op applied with probability ``prob``."""
        return torch.rand(size, device=device, generator=self.generator(device)) < prob


class WaveformAugment(_Seeded, BatchAugmentation):
    """Random gain, additive noise at a random SNR, time shift and speed perturbation on [B, T].

    Args:
        gain_prob, gain_db: probability and (min, max) gain in dB.
        noise_prob, snr_db: probability and (min, max) SNR in dB of white Gaussian noise; the
            signal power is measured over the valid samples and noise is added there only.
        shift_prob, shift_max: probability and largest shift as a fraction of each clip's valid
            length, either direction; ``shift_mode="roll"`` rotates the valid part, ``"zero"``
            fills the vacated part with silence.
        speed_prob, speed_factors: probability and the discrete speed factors to choose from
            (Kaldi-style speed perturbation: resampling changes tempo and pitch together; 1.1 =
            10% faster and higher). Lengths are updated; the batch keeps its width T.
    """

    def __init__(
        self,
        gain_prob: float = 0.5,
        gain_db: Sequence[float] = (-6.0, 6.0),
        noise_prob: float = 0.5,
        snr_db: Sequence[float] = (10.0, 30.0),
        shift_prob: float = 0.5,
        shift_max: float = 0.2,
        shift_mode: Literal["roll", "zero"] = "roll",
        speed_prob: float = 0.3,
        speed_factors: Sequence[float] = (0.9, 1.1),
        seed: int | None = None,
    ) -> None:
        super().__init__(seed)
        for name, prob in (("gain_prob", gain_prob), ("noise_prob", noise_prob), ("shift_prob", shift_prob),
                           ("speed_prob", speed_prob)):
            if not 0.0 <= prob <= 1.0:
                raise ValueError(f"{name}={prob}: a probability must lie in [0, 1]")
        if not 0.0 <= shift_max < 1.0:
            raise ValueError(f"shift_max={shift_max}: a fraction of the clip in [0, 1)")
        if any(factor <= 0 for factor in speed_factors):
            raise ValueError(f"speed_factors={list(speed_factors)}: factors must be positive")
        self.gain_prob, self.gain_db = gain_prob, tuple(gain_db)
        self.noise_prob, self.snr_db = noise_prob, tuple(snr_db)
        self.shift_prob, self.shift_max, self.shift_mode = shift_prob, shift_max, shift_mode
        self.speed_prob, self.speed_factors = speed_prob, tuple(speed_factors)

    def forward(self, audio: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """float [B, T], int64 [B] -> augmented audio [B, T] and new lengths [B] (training mode only)."""
        if not self.training:
            return audio, lengths
        audio, lengths = self.speed(audio, lengths)
        audio = self.shift(audio, lengths)
        audio = self.gain(audio)
        return self.noise(audio, lengths), lengths

    def gain(self, audio: Tensor) -> Tensor:
        batch, device = audio.shape[0], audio.device
        db = self.uniform(*self.gain_db, batch, device) * self.chosen(self.gain_prob, batch, device)
        return audio * torch.pow(10.0, db / 20.0)[:, None]

    def noise(self, audio: Tensor, lengths: Tensor) -> Tensor:
        batch, device = audio.shape[0], audio.device
        chosen = self.chosen(self.noise_prob, batch, device)
        snr = self.uniform(*self.snr_db, batch, device)
        padding = ~frame_mask(lengths, audio.shape[1])
        signal = audio.masked_fill(padding, 0.0)
        power = torch.einsum("bt,bt->b", signal, signal) / lengths.clamp(min=1)
        scale = torch.sqrt(power / torch.pow(10.0, snr / 10.0)) * chosen
        noise = torch.randn(audio.shape, device=device, generator=self.generator(device), dtype=audio.dtype)
        # In place: on a CPU these ops are memory-bound, so each avoided temporary counts.
        return noise.mul_(scale[:, None].to(audio.dtype)).masked_fill_(padding, 0.0).add_(audio)

    def shift(self, audio: Tensor, lengths: Tensor) -> Tensor:
        """Shift each clip by up to shift_max of its valid length; padding stays where it was."""
        batch, size = audio.shape
        device = audio.device
        chosen = self.chosen(self.shift_prob, batch, device)
        offsets = (self.uniform(-self.shift_max, self.shift_max, batch, device) * lengths * chosen).int()
        extent = lengths.clamp(min=1).int()[:, None]
        # int32 index arithmetic (half the memory traffic of int64); gather needs int64 at the end.
        source = torch.arange(size, device=device, dtype=torch.int32)[None, :] - offsets[:, None]
        if self.shift_mode == "roll":
            shifted = audio.gather(1, torch.remainder(source, extent).long())
            vacated = None
        else:
            vacated = (source < 0) | (source >= extent)
            shifted = audio.gather(1, source.clamp(0, size - 1).long())
        padding = ~frame_mask(lengths, size)
        if vacated is not None:
            shifted = shifted.masked_fill_(vacated & ~padding, 0.0)
        return torch.where(padding, audio, shifted)

    def speed(self, audio: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Resample the clips that drew each factor as one group (a few resample calls per batch)."""
        if not self.speed_factors or self.speed_prob == 0.0:
            return audio, lengths
        batch, size = audio.shape
        device = audio.device
        chosen = self.chosen(self.speed_prob, batch, device)
        pick = torch.randint(len(self.speed_factors), (batch,), device=device, generator=self.generator(device))
        audio, lengths = audio.clone(), lengths.clone()
        for index, factor in enumerate(self.speed_factors):
            rows = torch.nonzero(chosen & (pick == index)).flatten()
            if rows.numel() == 0 or factor == 1.0:
                continue
            ratio = Fraction(factor).limit_denominator(100)
            # Played `factor` times faster: read as sampled at factor*sr, resample back to sr.
            resampled = torchaudio.functional.resample(audio[rows], ratio.numerator, ratio.denominator)
            width = min(size, resampled.shape[1])
            out = torch.zeros(rows.numel(), size, device=device, dtype=audio.dtype)
            out[:, :width] = resampled[:, :width]
            new_lengths = torch.ceil(lengths[rows] * ratio.denominator / ratio.numerator).long().clamp(1, size)
            audio[rows] = out * frame_mask(new_lengths, size)
            lengths[rows] = new_lengths
        return audio, lengths


class SpecAugment(_Seeded):
    """Time and frequency masking (Park et al., 2019) on [B, F, T] or [B, C, F, T], per sample.

    Each sample, with probability ``prob``, gets ``freq_masks`` bands of up to ``freq_width`` bins
    and ``time_masks`` spans of up to ``time_width`` frames (within its valid frames when lengths
    are given), filled with the sample's mean (``fill="mean"``, neutral for a log spectrogram) or 0.
    Masks are drawn for the whole batch at once; all channels of a sample share them.
    """

    def __init__(
        self,
        prob: float = 1.0,
        freq_masks: int = 2,
        freq_width: int = 8,
        time_masks: int = 2,
        time_width: int = 20,
        fill: Literal["mean", "zero"] = "mean",
        seed: int | None = None,
    ) -> None:
        super().__init__(seed)
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f"prob={prob}: a probability must lie in [0, 1]")
        if min(freq_masks, freq_width, time_masks, time_width) < 0:
            raise ValueError("SpecAugment mask counts and widths must be >= 0")
        self.prob, self.fill = prob, fill
        self.freq_masks, self.freq_width = freq_masks, freq_width
        self.time_masks, self.time_width = time_masks, time_width

    def forward(self, spec: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Masked copy of ``spec``; ``lengths`` (int64 [B], valid frames) keeps time masks off padding."""
        if not self.training:
            return spec
        batch, bins, frames = spec.shape[0], spec.shape[-2], spec.shape[-1]
        device = spec.device
        if lengths is None:
            lengths = torch.full((batch,), frames, device=device, dtype=torch.long)
        chosen = self.chosen(self.prob, batch, device)
        full_bins = torch.full((batch,), bins, device=device, dtype=torch.long)
        freq = self._spans(self.freq_masks, self.freq_width, full_bins, bins) & chosen[:, None]
        time = self._spans(self.time_masks, self.time_width, lengths, frames) & chosen[:, None]
        mask = freq[:, :, None] | time[:, None, :]  # [B, F, T]
        if spec.dim() == 4:
            mask = mask[:, None]
        if self.fill == "mean":
            value = spec.mean(dim=tuple(range(1, spec.dim())), keepdim=True)
        else:
            value = torch.zeros((), device=device, dtype=spec.dtype)
        return torch.where(mask, value, spec)

    def _spans(self, count: int, max_width: int, extent: Tensor, size: int) -> Tensor:
        """Bool [B, size]: union of ``count`` random spans of width in [0, max_width] within extent."""
        batch, device = extent.shape[0], extent.device
        covered = torch.zeros(batch, size, dtype=torch.bool, device=device)
        position = torch.arange(size, device=device)[None, :]
        for _ in range(count):
            width = (torch.rand(batch, device=device, generator=self.generator(device)) * (max_width + 1)).long()
            width = torch.minimum(width, extent)
            start = (torch.rand(batch, device=device, generator=self.generator(device)) * (extent - width + 1)).long()
            covered |= (position >= start[:, None]) & (position < (start + width)[:, None])
        return covered
