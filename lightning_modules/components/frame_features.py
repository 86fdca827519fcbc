"""Frame-level librosa-style features on the batch's device: ZCR, chroma, MFCC and RMS energy rows.

Seed 003's 1-D CNN reads 27 such rows per 10 ms frame (ZCR 1 + chroma 12 + MFCC 13 + RMS 1, 512-sample
frames, 160-sample hop); seed 004's "MFCC with energy" is 40 MFCCs plus an RMS row (41 rows). Computing
them here, after the batch reaches the device, keeps one set of waveform shards for every model.

Frames are centred like the log-mel front-end (``T // hop + 1`` frames), so ``frame_lengths`` is shared.
RMS is in dB (20 log10), which puts it on the scale of the cepstral rows instead of 1e-3 linear values.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from data_preparation.input_contract import centred_frames
from data_preparation.shards.shard_format import SAMPLE_RATE
from lightning_modules.components.frontends import MFCC

PARTS = ("zcr", "chroma", "mfcc", "rms")


def frames_of(audio: Tensor, n_fft: int, hop_length: int) -> Tensor:
    """audio [B, T] -> centred, zero-padded frames [B, T // hop + 1, n_fft] (as ``torch.stft(center=True)``)."""
    padded = F.pad(audio, (n_fft // 2, n_fft // 2))
    return padded.unfold(-1, n_fft, hop_length)


def zero_crossing_rate(frames: Tensor) -> Tensor:
    """Share of sign changes per frame: frames [B, N, n_fft] -> [B, N].

    >>> zero_crossing_rate(torch.tensor([[[1.0, -1.0, 1.0, -1.0, 1.0]]])).tolist()
    [[1.0]]
    """
    signs = torch.signbit(frames)
    return (signs[..., 1:] != signs[..., :-1]).float().mean(dim=-1)


def rms_db(frames: Tensor) -> Tensor:
    """Root-mean-square energy per frame in dB (floor -100 dB): frames [B, N, n_fft] -> [B, N]."""
    return 20.0 * torch.log10(frames.pow(2).mean(dim=-1).sqrt().clamp_min(1e-5))


def chroma_filterbank(sample_rate: int, n_fft: int) -> Tensor:
    """librosa's chroma filter bank [12, n_fft // 2 + 1] (Gaussian bumps per pitch class, C first)."""
    import librosa

    return torch.from_numpy(librosa.filters.chroma(sr=sample_rate, n_fft=n_fft, n_chroma=12)).float()


class FrameFeatures(nn.Module):
    """waveform [B, T] -> feature rows [B, C, frames], rows in ``parts`` order.

    ``parts``: any of 'zcr' (1 row), 'chroma' (12), 'mfcc' (``n_mfcc``), 'rms' (1). The defaults are
    seed 003's 27 rows. Chroma is librosa's (power STFT through its chroma filter bank, each frame
    scaled by its maximum). ``sample_rate`` None: the data's rate, bound by ``bind_sample_rate``
    (the chroma filter bank and the MFCC's mel bank follow it).
    """

    def __init__(
        self,
        parts: Sequence[str] = PARTS,
        sample_rate: int | None = None,
        n_fft: int = 512,
        hop_length: int = 160,
        n_mfcc: int = 13,
        n_mels: int = 64,
    ) -> None:
        super().__init__()
        unknown = sorted(set(parts) - set(PARTS))
        if unknown or not parts:
            raise ValueError(f"parts={list(parts)}: choose from {list(PARTS)} (unknown: {unknown})")
        self.parts, self.n_fft, self.hop_length = tuple(parts), n_fft, hop_length
        self.explicit_rate, self.sample_rate = sample_rate is not None, sample_rate or SAMPLE_RATE
        self.mfcc = MFCC(n_mfcc=n_mfcc, deltas=0, sample_rate=sample_rate, n_fft=n_fft,
                         hop_length=hop_length, n_mels=n_mels) if "mfcc" in parts else None
        if "chroma" in parts:
            self.register_buffer("chroma", chroma_filterbank(self.sample_rate, n_fft), persistent=False)
            self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        self.channels = sum({"zcr": 1, "chroma": 12, "mfcc": n_mfcc, "rms": 1}[part] for part in parts)

    def use_sample_rate(self, sample_rate: int) -> None:
        """Take the data's rate (the MFCC's LogMel is bound on its own); an explicit, different rate is an error."""
        if self.explicit_rate and sample_rate != self.sample_rate:
            raise ValueError(f"FrameFeatures: sample_rate={self.sample_rate} is set in the network config, but the "
                             f"data is {sample_rate} Hz; leave frontend sample_rate unset to follow the data")
        if sample_rate != self.sample_rate and "chroma" in self.parts:
            self.chroma = chroma_filterbank(sample_rate, self.n_fft).to(self.chroma.device)
        self.sample_rate = sample_rate

    def _chroma(self, audio: Tensor) -> Tensor:
        spec = torch.stft(audio, self.n_fft, self.hop_length, window=self.window, center=True,
                          pad_mode="constant", return_complex=True).abs().pow(2)
        chroma = torch.einsum("cf,bft->bct", self.chroma, spec)
        return chroma / chroma.amax(dim=1, keepdim=True).clamp_min(1e-10)

    def forward(self, audio: Tensor) -> Tensor:
        audio = audio.float()
        with torch.autocast(device_type=audio.device.type, enabled=False):
            frames = frames_of(audio, self.n_fft, self.hop_length)
            rows = {
                "zcr": lambda: zero_crossing_rate(frames).unsqueeze(1),
                "rms": lambda: rms_db(frames).unsqueeze(1),
                "chroma": lambda: self._chroma(audio),
                "mfcc": lambda: self.mfcc(audio)[:, 0],
            }
            return torch.cat([rows[part]() for part in self.parts], dim=1)

    def frame_lengths(self, lengths: Tensor) -> Tensor:
        """Valid frames [B] for ``lengths`` valid samples [B] (a frame is valid if centred on one)."""
        return centred_frames(lengths, self.hop_length)
