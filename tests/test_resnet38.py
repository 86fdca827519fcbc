"""Seed 003's ResNet-38: PANNs' layer plan (38 weight layers, timm's BasicBlocks) and its checked settings."""
from __future__ import annotations

import pytest
import torch
from timm.models.resnet import BasicBlock
from torch import nn

from lightning_modules.components import create_network
from lightning_modules.components.frontends import LogMel
from lightning_modules.components.resnet38 import ResNet38


def weight_layers(net: nn.Module) -> int:
    """Convs wider than 1x1 plus linear layers: how ResNet-34/38 are counted (1x1 shortcuts left out)."""
    return sum(1 for m in net.modules()
               if (isinstance(m, nn.Conv2d) and m.kernel_size != (1, 1)) or isinstance(m, nn.Linear))


def test_resnet38_has_38_weight_layers_from_timms_basic_blocks():
    net = create_network("test_resnet38", 4)
    assert weight_layers(net) == 38
    assert [len(stage) for stage in net.stages] == [3, 4, 6, 3]
    assert all(isinstance(block, BasicBlock) for stage in net.stages for block in stage)
    assert net(torch.randn(2, 16_000) * 0.1, torch.tensor([16_000, 7_000])).shape == (2, 4)
    full = create_network("resnet38", 7)  # PANNs' widths: 72.7M parameters with 7 classes
    assert weight_layers(full) == 38 and full.frontend.n_mels == 64


def test_clips_shorter_than_the_total_stride_still_give_logits():
    net = create_network("test_resnet38", 3).eval()
    with torch.no_grad():
        logits = net(torch.randn(2, 3_000) * 0.1, torch.tensor([3_000, 400]))  # 10 and 2 frames: < 32
    assert logits.shape == (2, 3) and logits.isfinite().all()


def randomise_norms(net: nn.Module) -> None:
    """Give every batch norm the shift and scale of a trained one (fresh ones map 0 to 0 and hide leaks)."""
    for module in net.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            for tensor in (module.weight, module.bias, module.running_mean):
                tensor.data.normal_()
            module.running_var.data.uniform_(0.5, 2.0)


def test_what_lies_beyond_a_clips_length_does_not_change_its_logits_with_trained_norms():
    torch.manual_seed(0)
    net = create_network("test_resnet38", 3)
    randomise_norms(net)
    net.eval()
    audio = torch.randn(2, 12_000) * 0.1
    lengths = torch.tensor([12_000, 5_000])
    noisy = audio.clone()
    noisy[1, 5_000:] = torch.randn(7_000)  # loud noise where clip 1 is padding
    longer = torch.cat([noisy, torch.randn(2, 9_000)], dim=1)  # and padded further (another multiple of 32)
    with torch.no_grad():
        clean, padded = net(audio, lengths), net(longer, lengths)
        alone = net(audio[1:, :5_000], lengths[1:])  # clip 1 with no padding at all
    torch.testing.assert_close(padded, clean, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(alone, clean[1:], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("kwargs,match", [
    ({"layers": (3, 4, 6)}, "one width per stage"),
    ({"layers": (3, 4, 6), "widths": (8, 8, 8)}, "4 stages"),
    ({"frontend": LogMel(n_mels=16)}, "n_mels=16"),
])
def test_settings_are_checked_naming_the_key(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ResNet38(3, **{"frontend": LogMel(n_mels=32), "widths": (4, 4, 4, 4), **kwargs})
