"""Which moments of a clip a speech encoder's decision rests on: integrated gradients over the waveform.

Why integrated gradients (captum) and not attention rollout: rollout multiplies per-layer attention
maps, which transformers' SDPA kernels do not return, WavLM's gated relative position bias alters,
and which ignore the convolutional feature encoder, the pooling and the head. Integrated gradients
attribute the class logit itself to the input samples (from a silent baseline; the attributions sum
to the logit difference), the same way for Wav2Vec2, WavLM and HuBERT. Summing |attribution| over
20 ms windows gives a time curve.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn


class AudioToLogits(nn.Module):
    """audio [B, T] -> logits with fixed valid lengths (captum varies only the audio)."""

    def __init__(self, net: nn.Module, lengths: Tensor) -> None:
        super().__init__()
        self.net, self.lengths = net, lengths

    def forward(self, audio: Tensor) -> Tensor:
        return self.net(audio, self.lengths.expand(audio.shape[0]))


def time_attribution(net: nn.Module, audio: Tensor, length: int, target: int | None = None,
                     sample_rate: int = 16_000, window_s: float = 0.02, steps: int = 32) -> tuple[np.ndarray, int]:
    """(|attribution| per ``window_s`` window of the valid samples, normalised to sum 1; the class explained).

    ``audio``: [T] one clip; ``target``: class to explain (None: the predicted one).
    """
    from captum.attr import IntegratedGradients

    net = net.eval()
    clip = audio[None, :].float()
    lengths = torch.tensor([length])
    model = AudioToLogits(net, lengths)
    if target is None:
        with torch.no_grad():
            target = int(model(clip).argmax(-1))
    attributions = IntegratedGradients(model).attribute(clip, baselines=torch.zeros_like(clip), target=target,
                                                        n_steps=steps, internal_batch_size=8)
    window = max(1, int(window_s * sample_rate))
    magnitude = attributions[0, :length].abs().detach().numpy()
    curve = np.add.reduceat(magnitude, np.arange(0, length, window))
    return curve / max(curve.sum(), 1e-12), target
