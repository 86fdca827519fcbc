"""The seeds' convolutional feature extractors as one configurable encoder (1-D or 2-D conv blocks).

Every seed CNN is a stack of conv -> norm -> activation -> pool -> dropout blocks over MFCC, log-mel or
frame-feature "images", differing in widths, norm (batch: seeds 000/001/004, group: seed 003),
activation (ReLU / SiLU / ELU) and in how the last map becomes a vector (global average pooling, or
flattening a fixed grid). This encoder is that stack; classifiers (``seed_cnns``) put heads on it.

Padding never reaches the embedding: the waveform is zeroed past each clip's length before the
front-end, the normalised features past the valid frames are set to 0, and pooling runs over valid
frames only. So in eval mode the output does not depend on what the padding held.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from lightning_modules.components.pooling import frame_mask, masked_mean
from lightning_modules.components.small_cnn import PROBE_SAMPLES, valid_frames

ACTIVATIONS = {"relu": nn.ReLU, "silu": nn.SiLU, "elu": nn.ELU, "leaky_relu": nn.LeakyReLU, "gelu": nn.GELU}
NORMS = ("batch", "group", "none")
POOLINGS = ("gap", "bins")


def build_activation(name: str) -> nn.Module:
    """The activation called ``name`` (relu, silu, elu, leaky_relu, gelu)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"activation={name!r}: expected one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def build_norm(kind: str, channels: int, dims: int) -> nn.Module:
    """batch norm, group norm (up to 32 groups that divide ``channels``) or nothing."""
    if kind == "batch":
        return nn.BatchNorm1d(channels) if dims == 1 else nn.BatchNorm2d(channels)
    if kind == "group":
        groups = max(g for g in range(1, 33) if channels % g == 0)
        return nn.GroupNorm(groups, channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"norm={kind!r}: expected one of {list(NORMS)}")


def per_block(value: float | Sequence[float], count: int, key: str) -> list[float]:
    """One value per block: a scalar repeats, a list must have ``count`` entries.

    >>> per_block(0.1, 2, "dropout"), per_block([0.0, 0.2], 2, "dropout")
    ([0.1, 0.1], [0.0, 0.2])
    """
    values = [float(value)] * count if isinstance(value, (int, float)) else [float(v) for v in value]
    if len(values) != count:
        raise ValueError(f"{key}={list(values)}: need one value per conv block ({count})")
    return values


def fill_invalid(x: Tensor, valid: Tensor, value: float) -> Tensor:
    """``x`` [B, ..., T] with the columns at or past ``valid[b]`` set to ``value``."""
    keep = frame_mask(valid, x.shape[-1]).view(x.shape[0], *([1] * (x.dim() - 2)), x.shape[-1])
    return x.masked_fill(~keep, value)


class ConvBlock(nn.Module):
    """conv (same padding) -> norm -> activation -> max pool (ceil, so short clips keep a frame) -> dropout.

    The valid columns are tracked through the pooling (``valid_after``): padded columns are left out of
    every max (filled with the lowest float first) and set to 0 afterwards, so the next conv sees zeros
    past a clip's end however much padding the batch had. Group norm's statistics do include the padded
    columns: for those networks only the padding's content, not its amount, is irrelevant.
    """

    def __init__(self, dims: int, cin: int, cout: int, kernel: int, norm: str, activation: str,
                 pool: Sequence[int], dropout: float) -> None:
        super().__init__()
        self.conv = (nn.Conv1d if dims == 1 else nn.Conv2d)(cin, cout, kernel, padding=kernel // 2)
        self.norm, self.activation = build_norm(norm, cout, dims), build_activation(activation)
        self.time_pool = pool[-1]
        pooled = any(p > 1 for p in pool)
        size = pool[-1] if dims == 1 else tuple(pool)
        self.pool = (nn.MaxPool1d if dims == 1 else nn.MaxPool2d)(size, ceil_mode=True) if pooled else None
        self.dropout = (nn.Dropout1d if dims == 1 else nn.Dropout2d)(dropout) if dropout > 0 else nn.Identity()

    def valid_after(self, valid: Tensor) -> Tensor:
        """Valid columns after this block's pooling (a pooled column is valid if it covers a valid one)."""
        return valid if self.pool is None else (valid + self.time_pool - 1) // self.time_pool

    def forward(self, x: Tensor, valid: Tensor) -> Tensor:
        x = self.activation(self.norm(self.conv(x)))
        if self.pool is not None:
            x = self.pool(fill_invalid(x, valid, torch.finfo(x.dtype).min))
        return fill_invalid(self.dropout(x), self.valid_after(valid), 0.0)


TAIL_SAMPLES = 4096  # zeros appended before the front-end: more than half of any n_fft a config uses


def valid_features(frontend: nn.Module, audio: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
    """``frontend`` features [B, ..., frames] of the valid samples only, and valid frames [B].

    The waveform is zeroed past each clip's length and zeros are appended before the STFT, so a frame
    near a clip's end sees zeros after it whether the batch padded the clip or the clip filled the
    tensor (where the STFT would reflect-pad); the extra frames are cut off again.
    """
    masked = audio * frame_mask(lengths, audio.shape[-1]).to(audio.dtype)
    frames = int(frontend.frame_lengths(torch.tensor([audio.shape[-1]]))[0])
    features = frontend(F.pad(masked, (0, TAIL_SAMPLES)))[..., :frames]
    return features, frontend.frame_lengths(lengths).clamp(1, frames)


class ConvEncoder(nn.Module):
    """waveform [B, T] -> front-end features -> conv blocks -> utterance vector [B, out_dim].

    ``dims``: 2 treats features [B, F, frames] as a one-channel image ([B, C, F, frames] keeps C, e.g.
    MFCC + deltas); 1 treats every feature row (C x F) as a channel and convolves over time only.
    ``pool``: per-block max-pool size, an int or [freq, time] (seed 001's CNN+MLP pools frequency only).
    ``pooling``: 'gap' (masked global average over valid frames and frequency, out_dim = last width) or
    'bins' (the valid frames average-pooled into ``time_bins`` columns, then flattened: the seeds'
    Flatten on fixed-size inputs, made independent of padding and of clip length).
    """

    def __init__(
        self,
        frontend: nn.Module,
        dims: int = 2,
        channels: Sequence[int] = (32, 64, 128, 256),
        kernel_size: int = 3,
        norm: str = "batch",
        activation: str = "relu",
        pool: int | Sequence[int] = 2,
        dropout: float | Sequence[float] = 0.0,
        pooling: str = "gap",
        time_bins: int = 8,
        spec_augment: nn.Module | None = None,
    ) -> None:
        super().__init__()
        if dims not in (1, 2):
            raise ValueError(f"dims={dims}: 1 (conv over time) or 2 (conv over frequency x time)")
        if pooling not in POOLINGS:
            raise ValueError(f"pooling={pooling!r}: expected one of {list(POOLINGS)}")
        self.frontend, self.spec_augment, self.dims = frontend, spec_augment, dims
        self.pooling, self.time_bins = pooling, time_bins
        pool = [pool, pool] if isinstance(pool, int) else list(pool)
        with torch.no_grad():
            probe = self._shape(self.frontend(torch.zeros(1, PROBE_SAMPLES)))
        widths = [probe.shape[1], *channels]
        drops = per_block(dropout, len(channels), "dropout")
        # A batch norm on the raw features scales dB / cepstral values for the first conv.
        self.input_norm = build_norm("batch", widths[0], dims)
        self.body = nn.ModuleList(ConvBlock(dims, a, b, kernel_size, norm, activation, pool, p)
                                  for a, b, p in zip(widths[:-1], widths[1:], drops))
        with torch.no_grad():
            self.eval()
            out = self.run_body(probe, torch.full((1,), probe.shape[-1]))[0]
            self.train()
        rows = out.shape[2] if dims == 2 else 1  # frequency rows left after pooling
        self.sequence_dim = widths[-1] * rows
        self.out_dim = widths[-1] if pooling == "gap" else self.sequence_dim * time_bins

    def _shape(self, features: Tensor) -> Tensor:
        """Front-end output as [B, C, F, frames] (dims 2) or [B, C*F, frames] (dims 1)."""
        if self.dims == 2:
            return features.unsqueeze(1) if features.dim() == 3 else features
        return features.flatten(1, 2) if features.dim() == 4 else features

    def features(self, audio: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Front-end features of the valid samples only, and their valid frame counts [B]."""
        if not hasattr(self.frontend, "frame_lengths"):
            audio = audio * frame_mask(lengths, audio.shape[-1]).to(audio.dtype)
            features = self.frontend(audio)
            return features, valid_frames(lengths, audio.shape[-1], features.shape[-1])
        return valid_features(self.frontend, audio, lengths)

    def body_input(self, features: Tensor, frame_lengths: Tensor) -> Tensor:
        """features -> the first block's input [B, C, (F,) frames]: normalised, zero past the valid frames.

        Also the target greedy autoencoder pretraining reconstructs with the first block
        (lightning_modules/autoencoder_pretraining.py).
        """
        x = self.input_norm(self._shape(features).float())
        keep = frame_mask(frame_lengths, x.shape[-1]).to(x.dtype)
        return x * (keep[:, None, None, :] if self.dims == 2 else keep[:, None, :])

    def feature_map(self, features: Tensor, frame_lengths: Tensor) -> tuple[Tensor, Tensor]:
        """features -> conv map [B, C, (F',) T'] and its valid columns [B]."""
        if self.spec_augment is not None and self.training:
            features = self.spec_augment(features, frame_lengths)
        return self.run_body(self.body_input(features, frame_lengths), frame_lengths)

    def run_body(self, x: Tensor, valid: Tensor) -> tuple[Tensor, Tensor]:
        """The conv blocks in turn, tracking each clip's valid columns: (map [B, C, (F',) T'], valid [B])."""
        for block in self.body:
            x, valid = block(x, valid), block.valid_after(valid)
        return x, valid.clamp(1, x.shape[-1])

    def sequence_features(self, features: Tensor, frame_lengths: Tensor) -> tuple[Tensor, Tensor]:
        """features -> a sequence [B, T', sequence_dim] (channels x frequency rows per column) + valid [B]."""
        x, valid = self.feature_map(features, frame_lengths)
        return x.flatten(1, -2).transpose(1, 2), valid

    def embed_features(self, features: Tensor, frame_lengths: Tensor) -> Tensor:
        """features [B, (C,) F, frames], valid frames [B] -> [B, out_dim]."""
        x, valid = self.feature_map(features, frame_lengths)
        if self.pooling == "gap":
            columns = x.mean(dim=2) if self.dims == 2 else x  # [B, C, T']
            return masked_mean(columns.transpose(1, 2), frame_mask(valid, x.shape[-1]))
        return torch.stack([F.adaptive_avg_pool1d(x[b, ..., : int(valid[b])].flatten(0, -2), self.time_bins)
                            for b in range(x.shape[0])]).flatten(1)

    def embed(self, audio: Tensor, lengths: Tensor) -> Tensor:
        """audio [B, T], lengths [B] valid samples -> [B, out_dim]."""
        return self.embed_features(*self.features(audio, lengths))
