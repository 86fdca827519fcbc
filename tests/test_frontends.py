"""LogMel, MFCC and SpectrogramImage: shapes, agreement with torchaudio per clip, batch independence."""
from __future__ import annotations

import math

import pytest
import timm
import torch
import torchaudio

from lightning_modules.components.frontends import IMAGENET_MEAN, IMAGENET_STD, MFCC, LogMel, SpectrogramImage

RATE = 16_000


def clips() -> torch.Tensor:
    t = torch.arange(RATE) / RATE
    quiet = 0.01 * torch.sin(2 * math.pi * 300 * t)
    loud = 0.9 * torch.sin(2 * math.pi * 2000 * t)
    return torch.stack([quiet, loud])


def test_logmel_matches_torchaudio_per_clip_and_ignores_batchmates() -> None:
    audio = clips()
    frontend = LogMel(n_mels=40)
    features = frontend(audio)
    assert features.shape == (2, 40, RATE // 160 + 1) and features.dtype == torch.float32
    reference = torchaudio.transforms.MelSpectrogram(RATE, n_fft=400, hop_length=160, n_mels=40)
    to_db = torchaudio.transforms.AmplitudeToDB("power", top_db=80.0)
    for row, clip in zip(features, audio):
        assert torch.allclose(row, to_db(reference(clip[None]))[0], atol=1e-3)
    alone = frontend(audio[:1])
    assert torch.allclose(alone[0], features[0], atol=1e-4), "a loud batchmate changed the quiet clip's floor"


def test_logmel_frame_lengths_and_autocast() -> None:
    frontend = LogMel()
    assert frontend.frame_lengths(torch.tensor([16000, 8000, 159])).tolist() == [101, 51, 1]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert frontend(clips()).dtype == torch.float32


def test_tone_lands_in_its_mel_band() -> None:
    features = LogMel(n_mels=64)(clips())
    peaks = features.mean(-1).argmax(-1)
    assert peaks[0] < peaks[1]  # 300 Hz below 2 kHz


@pytest.mark.parametrize("deltas", [0, 2])
def test_mfcc_channels_are_coefficients_then_deltas(deltas: int) -> None:
    audio = clips()
    mfcc = MFCC(n_mfcc=20, deltas=deltas, n_mels=40)(audio)
    assert mfcc.shape == (2, 1 + deltas, 20, RATE // 160 + 1)
    reference = torchaudio.transforms.MFCC(RATE, n_mfcc=20, melkwargs={"n_fft": 400, "hop_length": 160, "n_mels": 40})
    assert torch.allclose(mfcc[1, 0], reference(audio[1:2])[0], atol=1e-2)
    if deltas:
        assert torch.allclose(mfcc[:, 1], torchaudio.functional.compute_deltas(mfcc[:, 0]), atol=1e-5)
        assert torch.allclose(mfcc[:, 2], torchaudio.functional.compute_deltas(mfcc[:, 1]), atol=1e-5)
    with pytest.raises(ValueError, match="deltas=3"):
        MFCC(deltas=3)


def test_spectrogram_image_uses_the_timm_config_and_feeds_the_backbone() -> None:
    backbone = timm.create_model("mobilenetv3_small_050", pretrained=False, num_classes=4)
    to_image = SpectrogramImage(pretrained_cfg=backbone.pretrained_cfg)
    spec = LogMel()(clips())
    image = to_image(spec)
    height, width = backbone.pretrained_cfg["input_size"][-2:]
    assert image.shape == (2, 3, height, width)
    pixels = image * torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) + torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    assert torch.allclose(pixels[:, 0], pixels[:, 1], atol=1e-5) and torch.allclose(pixels[:, 0], pixels[:, 2], atol=1e-5)
    assert pixels.amin(dim=(1, 2, 3)).max() < 0.05 and pixels.amax(dim=(1, 2, 3)).min() > 0.95
    assert backbone.eval()(image).shape == (2, 4)


def test_spectrogram_image_explicit_size_and_statistics() -> None:
    to_image = SpectrogramImage(size=(32, 48), mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    image = to_image(torch.randn(3, 40, 101))
    assert image.shape == (3, 3, 32, 48) and image.min() >= -1.0 - 1e-5 and image.max() <= 1.0 + 1e-5
    with pytest.raises(ValueError, match="3 channel values"):
        SpectrogramImage(mean=(0.5,), std=(0.5,))
