"""Windowed evaluation (``data.eval_seconds``): long clips scored over training-length windows.

The scratch recipe evaluates each clip as the mean probability over its 3 s windows instead of its
centre 3 s (docs/results.md: EMOVO). These tests pin what that means: a clip that fits one window
scores exactly as before, a longer one is the mean over windows cut at half-window hops with the
last ending on the clip's end, the padding of a row never enters a score, the datamodule hands
evaluation rows of ``eval_seconds`` and training rows of ``clip_seconds``, and the contract
carries it to evaluate.py (tests/test_input_contract.py checks evaluate.py reproduces train.py).
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from data_preparation.input_contract import InputContract, InputOverrides
from datamodules import ClipShape, shard_data_module
from lightning_modules import EmotionClassifier
from lightning_modules.components.small_cnn import SmallCNN
from lightning_modules.window_scores import window_mean_logits
from tests.shard_factory import make_dataset

WINDOW = 1600  # 0.1 s at 16 kHz


class MaskedMean(nn.Module):
    """Logits from the mean and energy of the valid samples only: sensitive to every sample and to ``lengths``."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(2, 3)
        torch.manual_seed(0)
        nn.init.normal_(self.head.weight)

    def forward(self, audio: Tensor, lengths: Tensor, band_stats: tuple[Tensor, Tensor] | None = None) -> Tensor:
        mask = torch.arange(audio.shape[-1])[None] < lengths[:, None]
        count = lengths[:, None].float()
        mean = (audio * mask).sum(-1, keepdim=True) / count
        energy = (audio.square() * mask).sum(-1, keepdim=True) / count
        features = torch.cat([mean, energy], -1)
        return self.head(features if band_stats is None else features * band_stats[0])


def call(network: nn.Module):
    return lambda audio, lengths, stats: network(audio, lengths, stats)


def test_a_clip_that_fits_one_window_scores_as_the_network_on_it_whatever_the_row_padding() -> None:
    network, audio = MaskedMean(), torch.randn(2, 5 * WINDOW)
    lengths = torch.tensor([WINDOW, 700])
    audio[0, WINDOW:] = 0
    audio[1, 700:] = 0
    scored = window_mean_logits(call(network), audio, lengths, WINDOW)
    direct = network(audio[:, :WINDOW], lengths).log_softmax(-1)
    assert torch.allclose(scored, direct, atol=1e-5)
    assert torch.equal(window_mean_logits(call(network), audio[:, :WINDOW], lengths, WINDOW),
                       network(audio[:, :WINDOW], lengths))  # a training-length row: the network itself


def test_a_long_clip_is_the_mean_probability_over_half_hop_windows_ending_on_its_end() -> None:
    network = MaskedMean()
    length = 3 * WINDOW + 300  # windows at 0, 800, ..., 3200 and one ending on sample 5100
    audio = torch.zeros(2, 4 * WINDOW)
    audio[0, :length] = torch.randn(length)
    audio[1, :WINDOW // 2] = torch.randn(WINDOW // 2)
    lengths = torch.tensor([length, WINDOW // 2])
    starts = [0, 800, 1600, 2400, 3200, length - WINDOW]
    windows = torch.stack([audio[0, s:s + WINDOW] for s in starts])
    expected = network(windows, torch.full((6,), WINDOW)).softmax(-1).mean(0).log()
    scored = window_mean_logits(call(network), audio, lengths, WINDOW)
    assert torch.allclose(scored[0], expected, atol=1e-5)
    assert torch.allclose(scored[1], network(audio[1:, :WINDOW], lengths[1:]).log_softmax(-1)[0], atol=1e-5)
    # the row's zero tail beyond the clip changes nothing: the same clip in a longer row scores the same
    longer = torch.cat([audio, torch.zeros(2, 3 * WINDOW)], -1)
    assert torch.allclose(window_mean_logits(call(network), longer, lengths, WINDOW), scored, atol=1e-6)


def test_each_window_gets_its_own_clips_speaker_statistics() -> None:
    network, audio = MaskedMean(), torch.randn(2, 3 * WINDOW)
    lengths = torch.tensor([3 * WINDOW, 2 * WINDOW])
    stats = (torch.tensor([[1.0, 1.0], [-2.0, 3.0]]), torch.ones(2, 2))
    together = window_mean_logits(call(network), audio, lengths, WINDOW, stats)
    for row in range(2):
        alone = window_mean_logits(call(network), audio[row:row + 1], lengths[row:row + 1], WINDOW,
                                   tuple(part[row:row + 1] for part in stats))
        assert torch.allclose(together[row], alone[0], atol=1e-5)


def classifier(eval_seconds: float | None) -> EmotionClassifier:
    contract = InputContract(16_000, 0.5, "zero", "center", class_names=("a", "b", "c"), eval_seconds=eval_seconds)
    torch.manual_seed(0)
    return EmotionClassifier(lambda n: SmallCNN(n, channels=(4, 8), hidden=8), ["a", "b", "c"],
                             loss="ce", input_contract=contract.to_dict())


def test_the_classifier_windows_long_rows_only_out_of_training_and_only_when_its_contract_says_so() -> None:
    windowed, plain = classifier(1.5), classifier(None)
    plain.load_state_dict(windowed.state_dict())
    audio, lengths = torch.randn(3, 24_000), torch.tensor([24_000, 12_000, 5_000])
    windowed.eval(), plain.eval()
    with torch.no_grad():
        expected = window_mean_logits(windowed._net_logits, audio, lengths, 8_000)
        assert torch.allclose(windowed(audio, lengths), expected)
        assert not torch.allclose(plain(audio, lengths), expected)  # no eval_seconds: the whole row, pooled at once
        assert torch.equal(windowed(audio[:, :8_000], lengths.clamp(max=8_000)),
                           plain(audio[:, :8_000], lengths.clamp(max=8_000)))  # a training-length row: unchanged
    windowed.train()
    assert windowed(audio, lengths).shape == (3, 3) and windowed.eval_window == 8_000


def test_the_contract_carries_eval_seconds_and_old_contracts_read_as_before() -> None:
    contract = InputContract(16_000, 3.0, "zero", "center", eval_seconds=15.0)
    assert InputContract.from_dict(contract.to_dict()) == contract
    assert "eval_seconds" not in InputContract(16_000, 3.0, "zero", "center").to_dict()  # older readers unaffected
    plan = InputOverrides().plan(contract, 16_000)
    assert (plan.crop_size, plan.pad_size) == (240_000, 240_000)  # evaluate.py's rows: what train.py's test used
    assert "3 s windows of up to 15 s" in contract.describe()
    with pytest.raises(ValueError, match="eval_seconds=2.0 needs waveform features and a length above clip_seconds=3.0"):
        InputContract(16_000, 3.0, "zero", "center", eval_seconds=2.0)


def test_data_eval_seconds_must_exceed_the_clip_and_needs_waveforms() -> None:
    with pytest.raises(ValueError, match=r"data.eval_seconds=1.0: must exceed data.clip_seconds=2.0"):
        ClipShape(clip_seconds=2.0, eval_seconds=1.0)
    with pytest.raises(ValueError, match="data.eval_seconds=4.0: windowed evaluation needs data.features=waveform"):
        ClipShape(clip_seconds=2.0, eval_seconds=4.0, features="logmel")


def test_evaluation_rows_are_eval_seconds_long_and_training_rows_clip_seconds(tmp_path: Path) -> None:
    make_dataset(tmp_path, per_class={"train": 2, "val": 2, "test": 2}, shards_per_split=1, seconds=(0.3, 1.2))
    dm = shard_data_module(str(tmp_path), batch_size=4, num_workers=0, clip_seconds=0.5, eval_seconds=1.0,
                           pin_memory=False)
    assert dm.contract.eval_seconds == 1.0 and dm.input_contract["eval_seconds"] == 1.0
    train, test = next(iter(dm.train_dataloader())), next(iter(dm.test_dataloader()))
    assert train["audio"].shape[1] == 8_000 and test["audio"].shape[1] == 16_000
    assert int(test["lengths"].max()) > 8_000  # clips longer than the training crop arrive whole
