"""Networks, losses, schedules and the LightningModule, without a Trainer (fast)."""
from __future__ import annotations

import math

import pytest
import torch

from lightning_modules import EmotionClassifier
from lightning_modules.components import create_network, list_networks
from lightning_modules.components.losses import FocalLoss, build_loss
from lightning_modules.components.pooling import AttentiveStatisticsPooling, frame_mask
from lightning_modules.components.speech_encoder import SpeechEncoderClassifier
from lightning_modules.components.timm_image import TimmImageClassifier
from lightning_modules.optim import param_groups, warmup_cosine
from tests.tiny_models import FAMILIES, save_tiny_encoder

NUM_CLASSES = 3


@pytest.fixture(scope="module")
def tiny_encoders(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("encoders")
    return {family: str(save_tiny_encoder(family, folder)) for family in FAMILIES}


def batch(lengths: list[int], width: int = 8000) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return torch.randn(len(lengths), width, generator=generator) * 0.1, torch.tensor(lengths)


@pytest.mark.parametrize("name", list_networks("test_"))
def test_registered_test_networks_give_logits(name):
    net = create_network(name, NUM_CLASSES)
    audio, lengths = batch([8000, 4000])
    assert net(audio, lengths).shape == (2, NUM_CLASSES)


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("pooling,weighted", [("mean", False), ("attentive", True)])
def test_speech_encoder_ignores_padding(tiny_encoders, family, pooling, weighted):
    """Changing what lies beyond a clip's length must not change its logits."""
    net = create_network(f"hf:{tiny_encoders[family]}", NUM_CLASSES, pooling=pooling, weighted_layers=weighted).eval()
    audio, lengths = batch([8000, 3000])
    noisy = audio.clone()
    noisy[1, 3000:] = torch.randn(5000)
    with torch.no_grad():
        clean_logits, noisy_logits = net(audio, lengths), net(noisy, lengths)
    assert torch.allclose(clean_logits[1], noisy_logits[1], atol=1e-4)
    assert torch.allclose(clean_logits[0], noisy_logits[0], atol=1e-5)


def test_speech_encoder_freezing(tiny_encoders):
    net = SpeechEncoderClassifier(NUM_CLASSES, tiny_encoders["wavlm"], trainable_layers=1)
    trainable = {name for name, p in net.named_parameters() if p.requires_grad}
    assert any(name.startswith("encoder.encoder.layers.1.") for name in trainable)
    assert not any(name.startswith(("encoder.encoder.layers.0.", "encoder.feature_extractor.")) for name in trainable)
    assert any(name.startswith("head.") for name in trainable)
    with pytest.raises(ValueError, match="trainable_layers=5"):
        SpeechEncoderClassifier(NUM_CLASSES, tiny_encoders["wavlm"], trainable_layers=5)


def test_speech_encoder_offline_by_name_fails_clearly(tmp_path, monkeypatch):
    """Offline mode never downloads: an uncached hub name is one error naming the model, the cache it looked
    in and the fix (evaluate/predict/export of a checkpoint without its encoder config end here too)."""
    from lightning_modules.hub_weights import MissingWeightsError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(MissingWeightsError, match=f"wavlm-base-plus.*cache {tmp_path} .*fetch_weights.py"):
        SpeechEncoderClassifier(NUM_CLASSES, "microsoft/wavlm-base-plus", cache_dir=str(tmp_path))


def test_timm_unfreezes_only_last_blocks():
    net = TimmImageClassifier(NUM_CLASSES, "test_efficientnet", pretrained=False, image_size=32, trainable_blocks=2)
    def owners(trainable: bool) -> set[str]:
        return {".".join(name.split(".")[:2]) if name.startswith("blocks.") else name.split(".")[0]
                for name, p in net.backbone.named_parameters() if p.requires_grad == trainable}

    last_block = f"blocks.{len(net.backbone.blocks) - 1}"
    assert {"classifier", "conv_head", last_block} <= owners(True)
    assert {"conv_stem", "blocks.0"} <= owners(False)
    assert net(*batch([8000, 4000])).shape == (2, NUM_CLASSES)
    with pytest.raises(ValueError, match="trainable_blocks=99"):
        TimmImageClassifier(NUM_CLASSES, "test_efficientnet", pretrained=False, trainable_blocks=99)


def test_unknown_network_names_are_errors():
    with pytest.raises(ValueError, match="unknown network 'nope'"):
        create_network("nope", NUM_CLASSES)
    with pytest.raises(ValueError, match="unknown source prefix 'tf'"):
        create_network("tf:resnet", NUM_CLASSES)


def test_attentive_pooling_masks_padding():
    pooling = AttentiveStatisticsPooling(4)
    x = torch.randn(1, 6, 4)
    mask = frame_mask(torch.tensor([3]), 6)
    changed = x.clone()
    changed[:, 3:] = 100.0
    assert torch.allclose(pooling(x, mask), pooling(changed, mask))


def test_losses():
    logits, target = torch.randn(16, NUM_CLASSES), torch.randint(0, NUM_CLASSES, (16,))
    ce = torch.nn.functional.cross_entropy(logits, target)
    assert torch.allclose(FocalLoss(gamma=0.0)(logits, target), ce, atol=1e-6)
    assert FocalLoss(gamma=2.0)(logits, target) < ce
    weights = [1.0, 2.0, 3.0]
    expected = torch.nn.functional.cross_entropy(logits, target, weight=torch.tensor(weights))
    assert torch.allclose(build_loss("weighted_ce", weights)(logits, target), expected)
    with pytest.raises(ValueError, match="needs model.class_weights"):
        build_loss("weighted_ce", None)
    with pytest.raises(ValueError, match="model.loss='hinge'"):
        build_loss("hinge", weights)


def test_encoder_and_head_learning_rates(tiny_encoders):
    net = SpeechEncoderClassifier(NUM_CLASSES, tiny_encoders["hubert"], trainable_layers=1)
    groups = {group["name"]: group for group in param_groups(net, lr=1e-3, encoder_lr=1e-5, weight_decay=0.0)}
    assert groups["head"]["lr"] == 1e-3 and groups["encoder"]["lr"] == 1e-5
    encoder_ids = {id(p) for p in net.encoder.parameters()}
    assert all(id(p) in encoder_ids for p in groups["encoder"]["params"])
    assert not any(id(p) in encoder_ids for p in groups["head"]["params"])


def test_warmup_cosine_schedule():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = warmup_cosine(optimizer, warmup_steps=10, total_steps=110)
    rates = []
    for _ in range(110):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert rates[0] == pytest.approx(0.1) and rates[9] == pytest.approx(1.0)
    assert rates[60] == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.5)), abs=0.02)
    assert rates[-1] < 0.01


def build_module(**kwargs) -> EmotionClassifier:
    from functools import partial

    return EmotionClassifier(net=partial(create_network, "test_small_cnn"), class_names=["a", "b", "c"],
                             class_weights=[1.0, 1.0, 2.0], **kwargs)


def test_module_checkpoint_alone_predicts(tmp_path):
    """Class names, sample rate and the network come back from the checkpoint file alone."""
    from lightning.pytorch import Trainer

    module = build_module().eval()
    trainer = Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.strategy.connect(module)
    trainer.save_checkpoint(tmp_path / "model.ckpt")
    # A programmatic ``net`` (a partial) is pickled in the hyperparameters: this test allow-lists exactly
    # those two globals; checkpoints written through train.py hold plain config values instead (tests/test_train.py).
    from functools import partial

    with torch.serialization.safe_globals([partial, create_network]):
        loaded = EmotionClassifier.load_from_checkpoint(tmp_path / "model.ckpt", map_location="cpu",
                                                        weights_only=True).eval()
    audio, lengths = batch([8000, 5000])
    assert loaded.hparams.class_names == ["a", "b", "c"] and loaded.hparams.sample_rate == 16_000
    assert torch.allclose(loaded(audio, lengths), module(audio, lengths))


def test_module_rejects_inconsistent_classes():
    with pytest.raises(ValueError, match="3 values for 2 classes"):
        EmotionClassifier(net=lambda n: torch.nn.Identity(), class_names=["a", "b"], class_weights=[1, 2, 3])


def test_a_skipped_nonfinite_step_stays_out_of_the_logged_training_loss(tmp_path):
    """The guard runs before logging: the epoch mean of train/loss stays finite, the skip is counted."""
    from lightning.pytorch import Trainer

    from lightning_modules.nonfinite_loss import NonFiniteLossGuard

    module = build_module(scheduler="constant")
    module.criterion = NaNOnCall(module.criterion, call=2)
    audio, lengths = batch([8000, 6000, 7000, 5000])
    labels = torch.tensor([0, 1, 2, 0])
    item = {"audio": audio, "lengths": lengths, "label": labels, "key": ["k"] * 4, "corpus": ["c"] * 4}
    loader = torch.utils.data.DataLoader([item] * 4, batch_size=None)
    trainer = Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False, callbacks=[NonFiniteLossGuard(policy="skip")],
                      default_root_dir=tmp_path)
    with pytest.warns(UserWarning, match="non-finite training loss"):
        trainer.fit(module, train_dataloaders=loader)
    assert torch.isfinite(trainer.callback_metrics["train/loss_epoch"])
    assert trainer.callback_metrics["train/nonfinite_losses"] == 1


class NaNOnCall(torch.nn.Module):
    """A loss that returns NaN on its ``call``-th call (0-based), as a diverging batch would."""

    def __init__(self, loss: torch.nn.Module, call: int) -> None:
        super().__init__()
        self.loss, self.call, self.calls = loss, call, 0

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        value = self.loss(logits, labels)
        return value * float("nan") if self.calls - 1 == self.call else value
