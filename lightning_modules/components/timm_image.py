"""Spectrogram-image classifier over any timm backbone (EfficientNet-B0..B7, ResNet, VGG, MobileNet...).

Seed 000's best image model: EfficientNet-B5 on repetitively padded log-mel spectrograms at the
backbone's input size, ImageNet normalisation, the last five blocks unfrozen. The waveform is
turned into that image on the device: log-mel front-end -> SpecAugment (training) -> image.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import timm
from timm.models import group_modules
from torch import Tensor, nn

from lightning_modules.components.base import EmotionNetwork
from lightning_modules.components.registry import register_network
from lightning_modules.hub_weights import HubWeights, require_weights, timm_weights

NETWORK = "lightning_modules.components.timm_image.TimmImageClassifier"


def unfreeze_last_groups(model: nn.Module, count: int | None) -> None:
    """Train only the classifier and the last ``count`` coarse groups of a timm model (None: all).

    Coarse groups are timm's own ordering (stem, each stage, the final conv), so "last five" on an
    EfficientNet means stages 4-7 plus the head conv, like unfreezing torchvision's last five features.
    """
    if count is None:
        return
    groups = group_modules(model, model.group_matcher(coarse=True))
    order = sorted(groups)
    if not 0 <= count <= len(order):
        raise ValueError(f"trainable_blocks={count}: the backbone has {len(order)} blocks")
    model.requires_grad_(False)
    names = set(name for group in order[len(order) - count:] for name in groups[group])
    for name, module in model.named_modules():
        if name in names:
            module.requires_grad_(True)
    model.get_classifier().requires_grad_(True)


@register_network("timm_image", source="timm")
class TimmImageClassifier(EmotionNetwork):
    """waveform [B, T] -> log-mel -> 3-channel normalised image -> timm backbone -> logits.

    ``image_size``: side of the square input (None: the backbone's pretrained input size).
    ``trainable_blocks``: unfreeze only the last N blocks plus the classifier (None: all).
    """

    def __init__(
        self,
        num_classes: int,
        model_name: str = "efficientnet_b5",
        pretrained: bool = True,
        trainable_blocks: int | None = None,
        image_size: int | None = None,
        frontend: nn.Module | None = None,
        spec_augment: nn.Module | None = None,
        drop_rate: float = 0.2,
    ) -> None:
        super().__init__()
        from lightning_modules.components.frontends import LogMel, SpectrogramImage

        require_weights(timm_weights({"model_name": model_name, "pretrained": pretrained}, NETWORK,
                                     "model.net.init_args"))  # one line, not timm's hub retries
        self.backbone = timm.create_model(model_name, pretrained=pretrained, num_classes=num_classes,
                                          drop_rate=drop_rate)
        size = image_size or self.backbone.pretrained_cfg["input_size"][-1]
        self.frontend = frontend if frontend is not None else LogMel()
        self.spec_augment = spec_augment
        self.to_image = SpectrogramImage(size=size, pretrained_cfg=self.backbone.pretrained_cfg)
        unfreeze_last_groups(self.backbone, trainable_blocks)

    @classmethod
    def hub_weights(cls, args: Mapping[str, Any], key: str) -> list[HubWeights]:
        """The hub files ``cls(**args)`` reads (lightning_modules/hub_weights.py)."""
        return timm_weights(args, NETWORK, key)

    def checkpoint_init_args(self) -> dict[str, object]:
        """Init args that rebuild this network without downloading ImageNet weights (the checkpoint has them)."""
        return {"pretrained": False}

    def encoder_parameters(self) -> list[nn.Parameter]:
        """Backbone parameters except the classifier (trained at the encoder learning rate)."""
        head = set(id(p) for p in self.backbone.get_classifier().parameters())
        return [p for p in self.backbone.parameters() if id(p) not in head]

    def forward(self, audio: Tensor, lengths: Tensor) -> Tensor:
        """audio [B, T] at 16 kHz, lengths [B] valid samples -> logits [B, num_classes]."""
        features = self.frontend(audio)
        return self.forward_features(features, self.frontend.frame_lengths(lengths).clamp(1, features.shape[-1]))

    def forward_features(self, features: Tensor, frame_lengths: Tensor) -> Tensor:
        """log-mel [B, n_mels, frames] -> logits; the image spans the whole (padded) clip.

        Repetitive padding (the seed's choice for images) fills the clip with speech, so the
        image keeps every frame; ``frame_lengths`` is accepted for a uniform interface.
        """
        if self.spec_augment is not None and self.training:
            features = self.spec_augment(features, frame_lengths)
        return self.backbone(self.to_image(features))


@register_network("test_timm_image")
def test_timm_image(num_classes: int, **kwargs: object) -> TimmImageClassifier:
    """timm's tiny ``test_efficientnet`` at 32x32, random weights: the image path in seconds."""
    kwargs = {"model_name": "test_efficientnet", "pretrained": False, "image_size": 32, **kwargs}
    return TimmImageClassifier(num_classes, **kwargs)
