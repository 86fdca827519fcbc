"""A small 2-D CNN from scratch on log-mel or MFCC features: the demo model.

The seeds' own CNNs (001-004) are stacks of conv / batch-norm / activation / pooling blocks on
MFCC or log-mel "images"; this is that family, sized to train on a CPU in minutes. It pools
over valid time frames only, so padding to a fixed clip length does not dilute short clips.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from lightning_modules.components.base import EmotionNetwork
from lightning_modules.components.pooling import frame_mask, masked_max, masked_mean
from lightning_modules.components.registry import register_network
from lightning_modules.components.speaker_norm import BandStats, SpeakerNorm


PROBE_SAMPLES = 8192  # a probe clip for shape inference, longer than any n_fft a config uses


def valid_frames(lengths: Tensor, samples: int, frames: int) -> Tensor:
    """Frames [B] of a front-end output that cover the ``lengths`` valid samples of ``samples``.

    Front-ends map T samples to F frames at a fixed hop, so the valid share carries over;
    rounding up keeps the frame that holds the last valid sample.

    >>> valid_frames(torch.tensor([8000, 16000]), 16000, 101).tolist()
    [51, 101]
    """
    return ((lengths * frames + samples - 1) // samples).clamp(1, frames)


def conv_block(in_channels: int, out_channels: int, dropout: float) -> nn.Sequential:
    """conv 3x3 -> batch norm -> SiLU (seed 003's activation) -> 2x2 max pool -> dropout."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False), nn.BatchNorm2d(out_channels),
        nn.SiLU(), nn.MaxPool2d(2, ceil_mode=True), nn.Dropout2d(dropout),
    )


def default_frontend() -> nn.Module:
    """The log-mel front-end with its default settings (the data's rate, 64 mel bands)."""
    from lightning_modules.components.frontends import LogMel

    return LogMel()


@register_network("small_cnn")
class SmallCNN(EmotionNetwork):
    """waveform [B, T] -> front-end [B, (C,) F, frames] -> conv blocks -> per-frame projection of
    channels x frequency -> masked mean+max over valid frames -> logits.

    ``frontend``: any module mapping a waveform batch to features (LogMel, MFCC with deltas);
    features may also be given precomputed to :meth:`forward_features`. ``spec_augment`` is
    applied to the features in training mode only. ``speaker_norm`` normalises every feature row
    by the clip's speaker's statistics before the body (components/speaker_norm.py); EmotionClassifier
    computes them per split and passes them as ``band_stats``, and without them the training
    population's stored statistics apply.
    """

    def __init__(
        self,
        num_classes: int,
        frontend: nn.Module | None = None,
        spec_augment: nn.Module | None = None,
        channels: Sequence[int] = (16, 32, 64),
        hidden: int = 128,
        dropout: float = 0.1,
        speaker_norm: bool = False,
    ) -> None:
        super().__init__()
        self.frontend = frontend if frontend is not None else default_frontend()
        self.spec_augment = spec_augment
        with torch.no_grad():
            # any length works: only the probe's channels and frequency rows are read
            raw_probe = self.frontend(torch.zeros(1, PROBE_SAMPLES))
            probe = self._as_image(raw_probe)
        self.speaker_norm = SpeakerNorm(raw_probe.shape[1:-1]) if speaker_norm else None
        widths = [probe.shape[1], *channels]
        # Log-mel in dB sits around -50 with a spread of tens: a batch norm on the input scales it
        # for the first conv while keeping the loudness differences between clips (anger vs sad).
        self.body = nn.Sequential(nn.BatchNorm2d(widths[0]),
                                  *(conv_block(a, b, dropout) for a, b in zip(widths[:-1], widths[1:])))
        with torch.no_grad():
            bands = self.body.eval()(probe).shape[2]  # frequency rows left after pooling
        self.body.train()
        # Channels x frequency rows become one frame vector: averaging over frequency would throw
        # away *where* in the spectrum a pattern sits, which is what tells pitch and formants apart.
        self.project = nn.Sequential(nn.Linear(widths[-1] * bands, hidden), nn.SiLU())
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * hidden, num_classes))

    @staticmethod
    def _as_image(features: Tensor) -> Tensor:
        """[B, F, frames] -> [B, 1, F, frames]; [B, C, F, frames] stays."""
        return features.unsqueeze(1) if features.dim() == 3 else features

    def encoder_parameters(self) -> list[nn.Parameter]:
        """The convolutional body (no pretrained part; grouped so encoder_lr still applies)."""
        return list(self.body.parameters())

    def features_of(self, audio: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """The front-end's features [B, (C,) F, frames] of audio [B, T] and their valid frames [B]."""
        features = self.frontend(audio)
        if hasattr(self.frontend, "frame_lengths"):
            frames = self.frontend.frame_lengths(lengths).clamp(1, features.shape[-1])
        else:
            frames = valid_frames(lengths, audio.shape[-1], features.shape[-1])
        return features, frames

    def forward(self, audio: Tensor, lengths: Tensor, band_stats: BandStats | None = None) -> Tensor:
        """audio [B, T] at the data's rate, lengths [B] valid samples -> logits [B, num_classes]."""
        return self.forward_features(*self.features_of(audio, lengths), band_stats=band_stats)

    def forward_features(self, features: Tensor, frame_lengths: Tensor, band_stats: BandStats | None = None) -> Tensor:
        """features [B, (C,) F, frames], frame_lengths [B] valid frames -> logits [B, num_classes]."""
        if self.speaker_norm is not None:
            features = self.speaker_norm(features, band_stats)
        if self.spec_augment is not None and self.training:
            features = self.spec_augment(features, frame_lengths)
        x = self.body(self._as_image(features))  # [B, C, F', frames']
        x = self.project(x.flatten(1, 2).transpose(1, 2))  # [B, frames', hidden]
        mask = frame_mask(valid_frames(frame_lengths, features.shape[-1], x.shape[1]), x.shape[1])
        return self.head(torch.cat([masked_mean(x, mask), masked_max(x, mask)], dim=-1))


@register_network("test_small_cnn")
def test_small_cnn(num_classes: int, **kwargs: object) -> SmallCNN:
    """A few-thousand-parameter SmallCNN for fast tests (32 mel bands, two narrow blocks)."""
    from lightning_modules.components.frontends import LogMel

    kwargs = {"frontend": LogMel(n_mels=32), "channels": (8, 16), **kwargs}
    return SmallCNN(num_classes, **kwargs)
