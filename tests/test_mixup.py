"""Mixup of training batches (model.mixup, lightning_modules/mixup.py): what is mixed, when, and the loss."""
from __future__ import annotations

import pytest
import torch

from lightning_modules.classifier import EmotionClassifier
from lightning_modules.components.frontends import LogMel
from lightning_modules.components.losses import build_loss
from lightning_modules.components.small_cnn import SmallCNN
from lightning_modules.mixup import Mix, draw_mix, mix_signals, mixed_loss


class StubTrainer:
    """The two attributes on_after_batch_transfer reads from Lightning's Trainer."""

    def __init__(self, training: bool) -> None:
        self.training = training
        self.datamodule = None


def model(mixup: float) -> EmotionClassifier:
    return EmotionClassifier(lambda n: SmallCNN(n, frontend=LogMel(n_mels=16), channels=(4,)),
                             class_names=["a", "b", "c"], loss="ce", mixup=mixup)


def batch() -> dict:
    audio = torch.randn(4, 800)
    return {"audio": audio, "lengths": torch.tensor([800, 400, 600, 200]), "label": torch.tensor([0, 1, 2, 1])}


def test_each_row_is_mostly_itself_blended_with_its_partner_over_the_longer_valid_length() -> None:
    torch.manual_seed(0)
    weights = [draw_mix(4, 0.4, torch.device("cpu")).weight for _ in range(200)]
    assert min(weights) >= 0.5 and max(weights) <= 1.0 and max(weights) - min(weights) > 0.2
    original = batch()
    mix = Mix(torch.tensor([1, 0, 3, 2]), 0.7)
    mixed, lengths = mix_signals(original["audio"], original["lengths"], mix)
    torch.testing.assert_close(mixed[2], 0.7 * original["audio"][2] + 0.3 * original["audio"][3])
    assert lengths.tolist() == [800, 800, 600, 600]
    with pytest.raises(ValueError, match="model.mixup=-1"):
        model(-1.0)


def test_the_loss_is_the_same_blend_of_both_labels_losses_with_class_weights_kept() -> None:
    criterion = build_loss("weighted_ce", [1.0, 2.0, 0.5], label_smoothing=0.1, focal_gamma=2.0)
    logits, labels = torch.randn(4, 3), torch.tensor([0, 1, 2, 1])
    mix = Mix(torch.tensor([3, 2, 1, 0]), 0.8)
    expected = 0.8 * criterion(logits, labels) + 0.2 * criterion(logits, torch.tensor([1, 2, 1, 0]))
    torch.testing.assert_close(mixed_loss(criterion, logits, labels, mix), expected)


def test_only_training_batches_are_mixed_and_only_when_asked() -> None:
    torch.manual_seed(1)
    mixing, plain = model(0.4), model(0.0)
    for classifier, training, mixed in ((mixing, True, True), (mixing, False, False), (plain, True, False)):
        classifier._trainer = StubTrainer(training)  # the attribute Lightning sets
        original = batch()
        result = classifier.on_after_batch_transfer({**original}, 0)
        assert ("mix" in result) == mixed
        assert torch.equal(result["audio"], original["audio"]) != mixed
    assert set(result) == {"audio", "lengths", "label"}
