"""PANNs' ResNet-38 on log-mel, its residual stages built by timm (seed 003's "ResNet-38", table 2).

Seed 003 trains a "ResNet-38" beside ResNet-101 (its §4.4, table 2) without describing it. The audio
network of that name is PANNs' ResNet38 (Kong et al. 2020, "PANNs: Large-Scale Pretrained Audio Neural
Networks for Audio Pattern Recognition"): a batch norm per mel band; a stem of two 3x3 convs (64
channels) and 2x2 average pooling; ResNet-34's four stages of BasicBlocks [3, 4, 6, 3] at 64/128/256/512
channels; 2x2 average pooling; two 3x3 convs to 2048 channels; mean over frequency, max + mean over
time; a 2048-unit hidden layer and the classifier. 2 + 2 x 16 + 2 convs + 2 linear layers = 38 (the 1x1
shortcut convs are not counted, as in ResNet-34's name).

Why not ``timm.create_model``: timm registers no ``resnet38``, and its ``ResNet`` class fixes what is
around the stages: the stem is one 7x7 conv (or three 3x3 convs) with max pooling, and the head is a
global pool with one linear layer; a one-band 'image' of dB values also wants PANNs' per-band norm. So
the middle comes from timm (``make_blocks`` with timm's ``BasicBlock``) and the stem and head are here.

Padding never reaches a clip's logits (eval mode): the time axis is zero-filled past each clip's valid
frames and padded to a multiple of the network's total stride (32), and every batch norm output (timm's
``norm_layer`` is ``MaskedBatchNorm2d``) is set to 0 past the valid columns of its resolution, so each
conv sees zeros there whatever the batch held; the time pooling runs over valid columns only. In
training, batch statistics do include the zeroed columns (as group norm does in ``conv_encoder``).
"""
from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import torch
from timm.models.resnet import BasicBlock, make_blocks
from torch import Tensor, nn
from torch.nn import functional as F

from lightning_modules.components.base import EmotionNetwork
from lightning_modules.components.conv_encoder import fill_invalid, valid_features
from lightning_modules.components.pooling import frame_mask, masked_max, masked_mean
from lightning_modules.components.registry import register_network

STRIDES = 5  # time halvings: stem pool, stages 2-4, pool before the head (total stride 32)


class ValidColumns:
    """Each clip's valid time columns at every resolution of the current forward pass.

    The map is ``width`` columns wide at the input and halves at each stride; a column at a coarser
    resolution is valid when the input column at its centre is (``ceil(valid / 2**level)``).
    """

    def __init__(self) -> None:
        self._by_width: dict[int, Tensor] = {}

    def update(self, valid: Tensor, width: int) -> None:
        """Record ``valid`` [B] columns of a ``width``-column input (a multiple of 2**STRIDES)."""
        self._by_width = {width >> level: torch.div(valid + (1 << level) - 1, 1 << level, rounding_mode="floor")
                          for level in range(STRIDES + 1)}

    def __call__(self, width: int) -> Tensor:
        return self._by_width[width]


class MaskedBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose output is 0 past each clip's valid columns (read from a shared ``ValidColumns``)."""

    def __init__(self, num_features: int, columns: ValidColumns, **kwargs: object) -> None:
        super().__init__(num_features, **kwargs)
        self.columns = columns

    def forward(self, x: Tensor) -> Tensor:
        return fill_invalid(super().forward(x), self.columns(x.shape[-1]), 0.0)


def conv_pair(cin: int, cout: int, norm: partial) -> nn.Sequential:
    """PANNs' ConvBlock without its pooling: (3x3 conv -> masked batch norm -> ReLU) twice."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), norm(cout), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1, bias=False), norm(cout), nn.ReLU(inplace=True))


@register_network("resnet38")
class ResNet38(EmotionNetwork):
    """waveform [B, T] -> log-mel [B, n_mels, frames] -> ResNet-38 -> logits [B, num_classes].

    ``frontend``: a ``LogMel`` (at least 32 bands: the mel axis is halved five times, as time is);
    None: PANNs' 64 bands with the LogMel defaults.

    ``layers``/``widths``: BasicBlocks and channels per stage (PANNs: [3, 4, 6, 3], [64, 128, 256, 512]);
    ``stem_width``/``head_width``: the two conv pairs around them (64, 2048); ``hidden``: the dense
    layer (2048); ``dropout``: after each pooling (0.2); ``head_dropout``: around the dense layer (0.5).
    """

    def __init__(self, num_classes: int, frontend: nn.Module | None = None, layers: Sequence[int] = (3, 4, 6, 3),
                 widths: Sequence[int] = (64, 128, 256, 512), stem_width: int = 64, head_width: int = 2048,
                 hidden: int = 2048, dropout: float = 0.2, head_dropout: float = 0.5,
                 spec_augment: nn.Module | None = None) -> None:
        super().__init__()
        from lightning_modules.components.frontends import LogMel

        frontend = frontend if frontend is not None else LogMel(n_mels=64)
        if len(layers) != len(widths):
            raise ValueError(f"layers={list(layers)}, widths={list(widths)}: need one width per stage")
        if len(layers) != STRIDES - 1:
            raise ValueError(f"layers={list(layers)}: ResNet-38 has {STRIDES - 1} stages (stride 32 in time)")
        if frontend.n_mels < 1 << STRIDES:
            raise ValueError(f"frontend n_mels={frontend.n_mels}: ResNet-38 halves the mel axis {STRIDES} times, "
                             f"so it needs at least {1 << STRIDES} bands")
        self.frontend, self.spec_augment = frontend, spec_augment
        self.columns = ValidColumns()
        norm = partial(MaskedBatchNorm2d, columns=self.columns)
        self.band_norm = nn.BatchNorm1d(frontend.n_mels)  # PANNs' bn0: one norm per mel band
        self.stem = conv_pair(1, stem_width, norm)
        stages, _ = make_blocks((BasicBlock,) * len(layers), tuple(widths), tuple(layers), stem_width,
                                norm_layer=norm, act_layer=nn.ReLU)
        self.stages = nn.Sequential(*(stage for _, stage in stages))
        self.head_convs = conv_pair(widths[-1], head_width, norm)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Sequential(nn.Dropout(head_dropout), nn.Linear(head_width, hidden), nn.ReLU(inplace=True),
                                  nn.Dropout(head_dropout), nn.Linear(hidden, num_classes))
        self._init_weights()

    def _init_weights(self) -> None:
        """timm's ResNet init: Kaiming convs, and the last norm of each residual branch at 0."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            if isinstance(module, BasicBlock):
                module.zero_init_last()

    def encoder_parameters(self) -> list[nn.Parameter]:
        """Everything but the dense head (nothing is pretrained; grouped so encoder_lr applies)."""
        head = set(id(p) for p in self.head.parameters())
        return [p for p in self.parameters() if id(p) not in head]

    def forward(self, audio: Tensor, lengths: Tensor) -> Tensor:
        """audio [B, T], lengths [B] valid samples -> logits [B, num_classes]."""
        return self.forward_features(*valid_features(self.frontend, audio, lengths))

    def forward_features(self, features: Tensor, frame_lengths: Tensor) -> Tensor:
        """log-mel [B, n_mels, frames], valid frames [B] -> logits [B, num_classes]."""
        if self.spec_augment is not None and self.training:
            features = self.spec_augment(features, frame_lengths)
        valid = frame_lengths.clamp(1, features.shape[-1])
        x = fill_invalid(self.band_norm(features.float()), valid, 0.0)
        x = F.pad(x, (0, -x.shape[-1] % (1 << STRIDES))).unsqueeze(1)  # [B, 1, n_mels, T32]
        self.columns.update(valid, x.shape[-1])
        x = self.dropout(self._pool(self.stem(x)))
        x = self.dropout(self._pool(self.stages(x)))
        x = self.dropout(self.head_convs(x)).mean(dim=2).transpose(1, 2)  # [B, T/32, head_width]
        mask = frame_mask(self.columns(x.shape[1]), x.shape[1])
        return self.head(masked_max(x, mask) + masked_mean(x, mask))

    def _pool(self, x: Tensor) -> Tensor:
        """2x2 average pooling, then 0 again past the valid columns (a column half valid keeps its mean)."""
        x = F.avg_pool2d(x, 2)
        return fill_invalid(x, self.columns(x.shape[-1]), 0.0)


@register_network("test_resnet38")
def test_resnet38(num_classes: int, **kwargs: object) -> ResNet38:
    """ResNet-38's 38 layers at widths 4-16 on 32 mel bands, for fast tests."""
    from lightning_modules.components.frontends import LogMel

    kwargs = {"widths": (4, 8, 8, 16), "stem_width": 4, "head_width": 16, "hidden": 16, **kwargs}
    return ResNet38(num_classes, LogMel(n_mels=32, hop_length=320), **kwargs)
