"""An STFT power spectrogram written as a strided convolution, so it exports to ONNX.

torchaudio's ``Spectrogram`` calls ``torch.stft`` with complex output, which the TorchScript ONNX
exporter cannot express. The same numbers come out of a 1-D convolution whose kernels are the
windowed cosine and sine DFT bases: frame t, bin k is sum_n x[t*hop + n] w[n] e^{-2 pi i k n / n_fft}.
``replace_spectrograms`` swaps every torchaudio Spectrogram inside a model for this module
(same window, padding, centring and power), leaving the rest of the network untouched.
"""
from __future__ import annotations

import math

import torch
import torchaudio
from torch import Tensor, nn
from torch.nn import functional as F


class DftSpectrogram(nn.Module):
    """waveform [..., T] -> power spectrogram [..., n_fft // 2 + 1, frames], like torchaudio's Spectrogram."""

    def __init__(self, source: torchaudio.transforms.Spectrogram) -> None:
        super().__init__()
        if source.power is None:
            raise ValueError("a complex spectrogram (power=None) has no real-valued ONNX equivalent here")
        if source.normalized not in (False, True, "window"):
            raise ValueError(f"Spectrogram normalized={source.normalized!r} is not supported for export")
        if not source.onesided:
            raise ValueError("a two-sided Spectrogram is not supported for export")
        self.n_fft, self.hop, self.pad, self.power = source.n_fft, source.hop_length, source.pad, source.power
        self.center, self.pad_mode = source.center, source.pad_mode
        window = source.window.detach().double()
        left = (self.n_fft - window.numel()) // 2
        window = F.pad(window, (left, self.n_fft - window.numel() - left))
        n = torch.arange(self.n_fft, dtype=torch.float64)
        k = torch.arange(self.n_fft // 2 + 1, dtype=torch.float64)[:, None]
        angle = 2 * math.pi * k * n / self.n_fft
        scale = 1.0 / source.window.double().pow(2).sum().sqrt() if source.normalized else 1.0
        kernels = torch.cat([torch.cos(angle), -torch.sin(angle)]) * window * scale
        self.register_buffer("kernels", kernels.float()[:, None, :], persistent=False)

    def forward(self, waveform: Tensor) -> Tensor:
        shape = waveform.shape
        x = waveform.reshape(-1, 1, shape[-1])
        if self.pad > 0:
            x = F.pad(x, (self.pad, self.pad))
        if self.center:
            x = F.pad(x, (self.n_fft // 2, self.n_fft // 2), mode=self.pad_mode)
        spectrum = F.conv1d(x, self.kernels, stride=self.hop)  # [N, 2 * bins, frames]
        real, imag = spectrum.chunk(2, dim=1)
        power = real * real + imag * imag
        if self.power != 2.0:
            power = power.clamp_min(0).pow(self.power / 2.0)
        return power.reshape(*shape[:-1], power.shape[-2], power.shape[-1])


def replace_spectrograms(module: nn.Module) -> int:
    """Swap every torchaudio Spectrogram under ``module`` (in place) for a DftSpectrogram; returns how many."""
    count = 0
    for name, child in list(module.named_children()):
        if isinstance(child, torchaudio.transforms.Spectrogram):
            setattr(module, name, DftSpectrogram(child).to(child.window.device))
            count += 1
        else:
            count += replace_spectrograms(child)
    return count
