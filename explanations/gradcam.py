"""Grad-CAM heatmaps over the log-mel / MFCC input of the CNN families (seed 004 §6.3.1).

The network's front-end runs first; Grad-CAM (the ``grad-cam`` package) then explains the part from
features to logits, at the last convolutional block, and resizes the map to the feature grid, so a
heatmap row is a mel band (or cepstral coefficient) and a column is a frame. For timm backbones the
image is the spectrogram flipped (low frequencies at the bottom row); the map is flipped back.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from lightning_modules.components.pooling import frame_mask


class FeaturesToLogits(nn.Module):
    """features [B, C, F, T] -> logits, with every frame valid: what Grad-CAM differentiates.

    Grad-CAM takes 4-D images; ``squeeze`` drops the channel axis again for front-ends that give [B, F, T].
    """

    def __init__(self, net: nn.Module, squeeze: bool) -> None:
        super().__init__()
        self.net, self.squeeze = net, squeeze

    def forward(self, features: Tensor) -> Tensor:
        features = features.squeeze(1) if self.squeeze else features
        frames = torch.full((features.shape[0],), features.shape[-1], dtype=torch.long, device=features.device)
        return self.net.forward_features(features, frames)


def target_layer(net: nn.Module) -> tuple[nn.Module, bool]:
    """The last convolutional block of ``net`` and whether its map is vertically flipped (timm images)."""
    from lightning_modules.components.conv_encoder import ConvEncoder
    from lightning_modules.components.resnet38 import ResNet38
    from lightning_modules.components.small_cnn import SmallCNN
    from lightning_modules.components.timm_image import TimmImageClassifier

    encoder = getattr(net, "encoder", None)
    if isinstance(encoder, ConvEncoder):
        if encoder.dims != 2:
            raise ValueError("Grad-CAM needs a 2-D conv map: this network convolves over time only (dims: 1)")
        return encoder.body[-1], False
    if isinstance(net, SmallCNN):
        return net.body[-1], False
    if isinstance(net, TimmImageClassifier):
        return net.backbone.get_submodule(net.backbone.feature_info[-1]["module"]), True
    if isinstance(net, ResNet38):
        # The last conv pair, as for the other families. Its map has n_mels / 32 rows (2 at PANNs' 64
        # bands), so the heatmap says when more than which band; no stage of a tiny ResNet-38 trained
        # on pure tones put its heat on the tone's band reliably (tests/test_explain.py).
        return net.head_convs, False
    raise ValueError("Grad-CAM supports SeedCNN / CNNBiLSTM with a 2-D conv encoder, SmallCNN, ResNet38 and "
                     f"timm networks, not {type(net).__name__}" + ("" if encoder is None else f" with a {type(encoder).__name__} encoder"))


def gradcam(net: nn.Module, audio: Tensor, lengths: Tensor, targets: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(features [B, F, T], heatmaps [B, F, T] in [0, 1]) for ``audio`` [B, T] at the net's rate.

    ``targets``: the class to explain per clip (None: each clip's predicted class).
    """
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    net = net.eval()
    layer, flipped = target_layer(net)
    frontend = net.encoder.frontend if hasattr(net, "encoder") else net.frontend
    with torch.no_grad():
        audio = audio * frame_mask(lengths, audio.shape[-1]).to(audio.dtype)
        features = frontend(audio).float()
    squeeze = features.dim() == 3
    wrapped = FeaturesToLogits(net, squeeze)
    features = features.unsqueeze(1) if squeeze else features
    chosen = None if targets is None else [ClassifierOutputTarget(int(t)) for t in targets]
    with GradCAM(model=wrapped, target_layers=[layer]) as cam:
        maps = cam(input_tensor=features.requires_grad_(True), targets=chosen)  # [B, F, T], resized
    maps = maps[:, ::-1, :] if flipped else maps
    shown = features.detach()[:, 0]  # MFCC + deltas: the static coefficients
    return shown.numpy(), np.ascontiguousarray(maps)
