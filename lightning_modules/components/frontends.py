"""Feature front-ends computed on the batch's device: log-mel, MFCC (+deltas), spectrogram images.

Computing features on the GPU after augmentation keeps loader workers cheap and lets one set of
waveform shards feed speech encoders and spectrogram models alike. Front-ends run in float32
even under autocast: an STFT in bf16 loses the low-energy detail that emotion cues live in.
Decibels are clamped ``top_db`` below each clip's own peak (torchaudio clamps below the batch
peak for 3-D input), so a clip's features do not depend on what else is in its batch.

The sample rate comes from the data, not from a config literal: a front-end left at
``sample_rate: null`` takes the rate of the model's input contract when EmotionClassifier calls
``bind_sample_rate`` (the preparation default until then); one set explicitly must agree with it.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
import torchaudio
from torch import Tensor, nn
from torch.nn import functional as F

from data_preparation.input_contract import centred_frames
from data_preparation.shards.shard_format import SAMPLE_RATE

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _float32(x: Tensor) -> tuple[Tensor, Any]:
    """``x`` as float32 plus an autocast-off context for its device."""
    return x.float(), torch.autocast(device_type=x.device.type, enabled=False)


class LogMel(nn.Module):
    """waveform [B, T] -> log-mel in dB [B, n_mels, frames] (centred frames: T // hop + 1).

    Defaults: 25 ms windows and 10 ms hops at 16 kHz, 64 mel bands, an 80 dB floor below each
    clip's peak. ``frame_lengths`` maps valid sample counts to valid frame counts.
    ``sample_rate`` None: the model's data rate, bound by ``bind_sample_rate``.
    """

    def __init__(
        self,
        sample_rate: int | None = None,
        n_fft: int = 400,
        win_length: int | None = None,
        hop_length: int = 160,
        n_mels: int = 64,
        f_min: float = 0.0,
        f_max: float | None = None,
        top_db: float | None = 80.0,
    ) -> None:
        super().__init__()
        self.hop_length, self.n_mels, self.top_db = hop_length, n_mels, top_db
        self.explicit_rate = sample_rate is not None
        self._mel_args = {"n_fft": n_fft, "win_length": win_length, "hop_length": hop_length, "n_mels": n_mels,
                          "f_min": f_min, "f_max": f_max, "power": 2.0}
        self._build(sample_rate or SAMPLE_RATE)

    def _build(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self.mel = torchaudio.transforms.MelSpectrogram(sample_rate=sample_rate, **self._mel_args)

    def use_sample_rate(self, sample_rate: int) -> None:
        """Take the data's rate (the mel filterbank depends on it); an explicit, different rate is an error."""
        if self.explicit_rate and sample_rate != self.sample_rate:
            raise ValueError(f"LogMel: sample_rate={self.sample_rate} is set in the network config, but the data is "
                             f"{sample_rate} Hz; leave frontend sample_rate unset to follow the data")
        if sample_rate != self.sample_rate:
            self._build(sample_rate)

    def forward(self, audio: Tensor) -> Tensor:
        audio, no_autocast = _float32(audio)
        with no_autocast:
            power = self.mel(audio)  # [B, n_mels, frames]
            db = 10.0 * torch.log10(power.clamp(min=1e-10))
            if self.top_db is not None:
                peak = db.amax(dim=(-2, -1), keepdim=True)
                db = torch.maximum(db, peak - self.top_db)
        return db

    def frame_lengths(self, lengths: Tensor) -> Tensor:
        """Valid frames [B] for ``lengths`` valid samples [B] (a frame is valid if centred on one)."""
        return centred_frames(lengths, self.hop_length)


class MFCC(nn.Module):
    """waveform [B, T] -> MFCC [B, 1 + deltas, n_mfcc, frames]: coefficients, then deltas stacked as channels.

    ``deltas``: 0 (static only), 1 (+ delta) or 2 (+ delta-delta), as seeds 000/004 stacked them.
    The cepstrum is the orthonormal DCT-II of this module's log-mel (same per-clip dB floor).
    """

    def __init__(self, n_mfcc: int = 40, deltas: int = 2, delta_win: int = 5, **logmel: Any) -> None:
        super().__init__()
        if deltas not in (0, 1, 2):
            raise ValueError(f"deltas={deltas}: 0, 1 or 2")
        self.logmel = LogMel(**logmel)
        if n_mfcc > self.logmel.n_mels:
            raise ValueError(f"n_mfcc={n_mfcc} exceeds n_mels={self.logmel.n_mels}")
        self.deltas, self.delta_win = deltas, delta_win
        self.register_buffer("dct", torchaudio.functional.create_dct(n_mfcc, self.logmel.n_mels, "ortho"), persistent=False)

    def forward(self, audio: Tensor) -> Tensor:
        db = self.logmel(audio)
        with torch.autocast(device_type=db.device.type, enabled=False):
            coefficients = torch.einsum("bmt,mc->bct", db, self.dct.float())
            channels = [coefficients]
            for _ in range(self.deltas):
                channels.append(torchaudio.functional.compute_deltas(channels[-1], win_length=self.delta_win))
        return torch.stack(channels, dim=1)

    def frame_lengths(self, lengths: Tensor) -> Tensor:
        return self.logmel.frame_lengths(lengths)


def bind_sample_rate(network: nn.Module, sample_rate: int) -> None:
    """Give every part of ``network`` that depends on the audio rate (``use_sample_rate``) the data's rate."""
    for module in network.modules():
        if hasattr(module, "use_sample_rate"):
            module.use_sample_rate(sample_rate)


class SpectrogramImage(nn.Module):
    """log-mel [B, n_mels, frames] -> image [B, 3, H, W] for an ImageNet-style backbone.

    Per clip: min-max scaled to [0, 1] (a spectrogram rendered as a grey image, as the seeds'
    PNGs were), low frequencies at the bottom row, resized bilinearly to the backbone's input
    size, copied to 3 channels, then normalised with the backbone's mean/std. ``pretrained_cfg``
    (a timm model's ``pretrained_cfg``) supplies input size, mean and std unless given explicitly.
    """

    def __init__(
        self,
        size: int | Sequence[int] | None = None,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        pretrained_cfg: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        config = pretrained_cfg or {}
        size = size if size is not None else tuple(config.get("input_size", (3, 224, 224))[-2:])
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        mean = mean if mean is not None else config.get("mean", IMAGENET_MEAN)
        std = std if std is not None else config.get("std", IMAGENET_STD)
        if len(mean) != 3 or len(std) != 3:
            raise ValueError(f"mean {mean} / std {std}: need 3 channel values")
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def forward(self, spec: Tensor) -> Tensor:
        spec, no_autocast = _float32(spec)
        with no_autocast:
            low = spec.amin(dim=(-2, -1), keepdim=True)
            high = spec.amax(dim=(-2, -1), keepdim=True)
            scaled = (spec - low) / (high - low).clamp(min=1e-6)
            image = F.interpolate(scaled.flip(-2)[:, None], size=self.size, mode="bilinear", align_corners=False)
            return (image.expand(-1, 3, -1, -1) - self.mean) / self.std
