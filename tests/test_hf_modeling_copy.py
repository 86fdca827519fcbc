"""export/hf_modeling.py is copied alone into exported folders, so it keeps its own copies of the
frame mask, the poolings and the waveform normalisation; these tests hold each copy to the
training network's version, so the two cannot drift apart."""
from __future__ import annotations

import pytest
import torch

from export import hf_modeling
from lightning_modules.components.pooling import build_pooling, frame_mask
from lightning_modules.components.speech_encoder import SpeechEncoderClassifier


def _lengths_and_frames():
    gen = torch.Generator().manual_seed(0)
    cases = [(torch.tensor([0]), 1), (torch.tensor([0, 1, 5, 7]), 5), (torch.tensor([3], dtype=torch.int32), 3),
             (torch.zeros(0, dtype=torch.long), 4), (torch.tensor([2, 9]), 0)]
    for frames in (1, 2, 7, 49, 160, 16_000):
        for batch in (1, 3, 8):
            cases.append((torch.randint(0, frames + 3, (batch,), generator=gen), frames))
    return cases


@pytest.mark.parametrize("lengths, frames", _lengths_and_frames())
def test_frame_mask_copy_matches(lengths, frames):
    copied, shared = hf_modeling._frame_mask(lengths, frames), frame_mask(lengths, frames)
    assert copied.dtype == shared.dtype == torch.bool and copied.shape == shared.shape == (len(lengths), frames)
    assert torch.equal(copied, shared)


@pytest.mark.parametrize("kind", ["mean", "attentive"])
def test_pooling_copy_matches(kind):
    torch.manual_seed(0)
    shared = build_pooling(kind, 6)
    copied = hf_modeling._Pooling(kind, 6, hidden=128)
    copied.load_state_dict(shared.state_dict())  # module names match, as the exported weights rely on
    x = torch.randn(4, 11, 6)
    mask = frame_mask(torch.tensor([11, 1, 6, 0]), 11)
    assert copied.out_dim == shared.out_dim
    torch.testing.assert_close(copied(x, mask), shared(x, mask), rtol=0, atol=0)


def test_normalisation_copy_matches():
    audio = torch.randn(3, 400) * torch.tensor([[1.0], [5.0], [0.01]])
    mask = frame_mask(torch.tensor([400, 120, 1]), 400)
    copied = hf_modeling.SERSpeechClassifier._normalize(None, audio, mask)
    shared = SpeechEncoderClassifier._normalize(None, audio, mask)
    torch.testing.assert_close(copied, shared, rtol=0, atol=0)
