"""The seeds' networks: padding never changes a clip's logits, configuration errors name the key."""
from __future__ import annotations

import pytest
import torch

from lightning_modules.components import create_network
from lightning_modules.components.conv_encoder import ConvEncoder
from lightning_modules.components.frame_features import FrameFeatures
from lightning_modules.components.frontends import LogMel
from lightning_modules.components.seed_cnns import FusionClassifier

SEED_NETWORKS = ["test_seed_cnn", "test_seed_cnn1d", "test_cnn_bilstm", "test_cnn_lstm", "test_lstm_only", "test_fusion_cnn",
                 "test_resnet38"]
GROUP_NORM = {"test_seed_cnn1d", "test_fusion_cnn"}  # statistics over padded columns: content-invariant only


@pytest.mark.parametrize("name", SEED_NETWORKS)
def test_what_lies_beyond_a_clips_length_does_not_change_its_logits(name):
    torch.manual_seed(0)
    net = create_network(name, 3).eval()
    audio = torch.randn(2, 12_000) * 0.1
    lengths = torch.tensor([12_000, 5_000])
    noisy = audio.clone()
    noisy[1, 5_000:] = torch.randn(7_000)  # loud noise where clip 1 is padding
    longer = torch.cat([audio, torch.randn(2, 4_000)], dim=1)  # the same clips padded further, with noise
    with torch.no_grad():
        clean, with_noise, padded_more = net(audio, lengths), net(noisy, lengths), net(longer, lengths)
    torch.testing.assert_close(with_noise, clean, atol=1e-4, rtol=1e-4)
    if name not in GROUP_NORM:
        torch.testing.assert_close(padded_more, clean, atol=1e-4, rtol=1e-4)


def test_frame_features_have_seed_003s_27_rows_and_the_log_mel_frame_count():
    features = FrameFeatures()(torch.randn(2, 16_000) * 0.1)
    assert features.shape == (2, 27, 16_000 // 160 + 1) and torch.isfinite(features).all()


@pytest.mark.parametrize("kwargs,match", [
    ({"dims": 3}, "dims=3"), ({"pooling": "flat"}, "pooling='flat'"), ({"norm": "layer"}, "norm='layer'"),
    ({"activation": "tanh"}, "activation='tanh'"), ({"dropout": [0.1]}, "one value per conv block"),
])
def test_encoder_settings_are_checked_naming_the_key(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ConvEncoder(LogMel(n_mels=16), channels=(4, 8), **kwargs)


def test_fusion_needs_two_branches_and_frame_features_known_parts():
    with pytest.raises(ValueError, match="at least two"):
        FusionClassifier(3, [ConvEncoder(LogMel(n_mels=16), channels=(4,))])
    with pytest.raises(ValueError, match="unknown: \\['pitch'\\]"):
        FrameFeatures(parts=["mfcc", "pitch"])
