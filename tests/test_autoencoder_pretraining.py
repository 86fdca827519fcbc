"""Greedy autoencoder pretraining (seed 001's CNN-3): each stage learns, the weights reach the classifier.

Generated shards (tests/shard_factory.py) and a two-block ConvEncoder keep every test to seconds;
the learning test on held-out speakers of the demo corpus is marked slow.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
import torch
import yaml
from lightning.pytorch import Callback, LightningModule, Trainer

import pretrain
import train
from datamodules import ShardDataModule, shard_data_module
from lightning_modules.autoencoder_pretraining import GreedyAutoencoderPretraining, block_decoder, masked_mse
from lightning_modules.classifier import EmotionClassifier
from lightning_modules.components.conv_encoder import ConvEncoder
from lightning_modules.components.frontends import LogMel
from lightning_modules.components.seed_cnns import SeedCNN
from lightning_modules.encoder_weights import load_encoder_weights, read_encoder_weights
from tests.shard_factory import make_dataset
from tests.test_seed_families_learn import CHANCE, LOGMEL, MARGIN, prepared  # noqa: F401  (prepared: the demo corpus)

pytestmark = pytest.mark.xdist_group("test_autoencoder_pretraining")  # one worker builds the module fixtures once

EPOCHS = 3  # per greedy stage
TRAINER = {"accelerator": "cpu", "devices": 1, "precision": "32-true", "logger": False, "enable_checkpointing": False,
           "enable_progress_bar": False, "enable_model_summary": False, "num_sanity_val_steps": 0}


def tiny_net(channels: tuple[int, ...] = (4, 8)) -> functools.partial:
    """A network builder ``net(num_classes)`` as the configs give one: SeedCNN over a small 2-D ConvEncoder."""
    encoder = ConvEncoder(LogMel(n_mels=16, n_fft=400, hop_length=320), channels=channels, pooling="bins", time_bins=4)
    return functools.partial(SeedCNN, encoder=encoder, hidden=(16,), dropout=0.0)


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("ae_shards")
    make_dataset(root, num_classes=4, per_class={"train": 6, "val": 2, "test": 2}, shards_per_split=1,
                 seconds=(0.5, 1.0))
    return str(root)


def datamodule(shards: str) -> ShardDataModule:
    return shard_data_module(shards, batch_size=8, num_workers=0, clip_seconds=1.0, shuffle_buffer=16, pin_memory=False)


class StateAfterEachStage(Callback):
    """The encoder's tensors (parameters and batch-norm statistics) at the end of every stage."""

    def __init__(self) -> None:
        self.states: list[dict[str, torch.Tensor]] = []

    def on_train_epoch_end(self, trainer: Trainer, module: LightningModule) -> None:
        if (trainer.current_epoch + 1) % module.hparams.epochs_per_block == 0:
            self.states.append({k: v.clone() for k, v in module.encoder.state_dict().items()})


@pytest.fixture(scope="module")
def pretrained(shards: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[GreedyAutoencoderPretraining, list, Path]:
    """Two greedy stages of EPOCHS epochs on the generated shards; the module, its per-stage states, its file."""
    data = datamodule(shards)
    torch.manual_seed(0)
    module = GreedyAutoencoderPretraining(tiny_net(), epochs_per_block=EPOCHS, lr=3e-3,
                                          sample_rate=data.sample_rate, input_contract=data.input_contract)
    states = StateAfterEachStage()
    Trainer(max_epochs=2 * EPOCHS, callbacks=[states], **TRAINER).fit(module, datamodule=data)
    path = module.export_encoder(tmp_path_factory.mktemp("ae_out") / "encoder.safetensors")
    return module, states.states, path


def test_each_greedy_stage_lowers_its_reconstruction_loss(pretrained: tuple) -> None:
    module, _, _ = pretrained
    assert [len(h) for h in module.stage_history] == [EPOCHS, EPOCHS], "one stage of EPOCHS epochs per block"
    for block, history in enumerate(module.stage_history):
        assert history[-1] < 0.9 * history[0], f"block {block}: reconstruction MSE per epoch {history}"


def test_earlier_blocks_stay_frozen_while_later_ones_train(pretrained: tuple) -> None:
    _, (after_stage0, after_stage1), _ = pretrained
    block0 = [k for k in after_stage0 if k.startswith("body.0.") or k.startswith("input_norm.")]
    block1 = [k for k in after_stage0 if k.startswith("body.1.") and after_stage0[k].is_floating_point()]
    assert any(k.endswith("running_mean") for k in block0), "batch-norm statistics are compared too"
    for key in block0:
        assert torch.equal(after_stage0[key], after_stage1[key]), f"{key} changed after its stage"
    assert any(not torch.equal(after_stage0[k], after_stage1[k]) for k in block1), "block 1 trained in stage 1"


def test_decoder_reconstructs_the_block_input_shape_and_the_loss_ignores_padding() -> None:
    encoder = ConvEncoder(LogMel(n_mels=16, hop_length=320), channels=(4,), pool=[2, 1])
    block = encoder.body[0]
    x, valid = torch.randn(2, 1, 16, 9), torch.tensor([9, 5])
    out = block_decoder(block)(block(x, valid))
    assert out.shape[:2] == x.shape[:2] and out.shape[2] >= 16 and out.shape[3] >= 9
    noisy = out.clone()
    noisy[1, ..., 5:] += 100.0  # past the second clip's length: must not count
    assert torch.equal(masked_mse(noisy, x, valid), masked_mse(out, x, valid))


def test_exported_file_holds_the_encoder_and_its_input_contract(pretrained: tuple) -> None:
    module, _, path = pretrained
    tensors, metadata = read_encoder_weights(path)
    own = module.encoder.state_dict()
    assert set(tensors) == {f"encoder.{k}" for k in own}
    assert all(torch.equal(tensors[f"encoder.{k}"], v) for k, v in own.items())
    assert metadata["input_contract"] == module.hparams.input_contract
    assert metadata["details"]["stages_trained"] == 2


class EncoderAtFitStart(Callback):
    def on_fit_start(self, trainer: Trainer, module: LightningModule) -> None:
        self.state = {k: v.clone() for k, v in module.net.state_dict().items()}


def classifier(shards: str, init_from: Path | None, channels: tuple[int, ...] = (4, 8),
               contract: dict | None = None) -> tuple[EmotionClassifier, ShardDataModule]:
    data = datamodule(shards)
    model = EmotionClassifier(tiny_net(channels), class_names=data.classes, sample_rate=data.sample_rate, loss="ce",
                              input_contract=contract or data.input_contract, init_from=str(init_from) if init_from else None)
    return model, data


def test_pretrained_weights_land_in_the_classifier_when_fitting_starts(pretrained: tuple, shards: str) -> None:
    _, _, path = pretrained
    tensors, _ = read_encoder_weights(path)
    torch.manual_seed(1)
    model, data = classifier(shards, path)
    before = {k: v.clone() for k, v in model.net.state_dict().items()}
    assert any(not torch.equal(before[k], v) for k, v in tensors.items()), "a fresh network differs from the file"
    capture = EncoderAtFitStart()
    Trainer(fast_dev_run=True, callbacks=[capture], **TRAINER).fit(model, datamodule=data)
    for key, value in tensors.items():
        assert torch.equal(capture.state[key], value), f"{key} was not loaded from {path}"
    head = [k for k in before if k.startswith("head.")]
    assert head and all(torch.equal(capture.state[k], before[k]) for k in head), "the head keeps its initialisation"


def test_a_file_that_does_not_fit_is_refused_naming_the_file_and_keys(pretrained: tuple, shards: str) -> None:
    _, _, path = pretrained
    model, _ = classifier(shards, path, channels=(4, 16))
    with pytest.raises(ValueError, match=r"encoder\.body\.1\.conv\.weight \(8, 4, 3, 3\) in the file vs \(16, 4, 3, 3\)") as error:
        model.setup("fit")
    assert str(path) in str(error.value) and "model.init_from" in str(error.value)


def test_a_file_pretrained_on_other_inputs_is_refused_naming_the_key(pretrained: tuple, shards: str) -> None:
    _, _, path = pretrained
    contract = {**datamodule(shards).input_contract, "clip_seconds": 4.0}
    model, _ = classifier(shards, path, contract=contract)
    with pytest.raises(ValueError, match=r"clip_seconds=1\.0 in the file, 4\.0 in this run") as error:
        model.setup("fit")
    assert str(path) in str(error.value)


def test_a_missing_or_foreign_file_is_refused(shards: str, tmp_path: Path) -> None:
    missing = tmp_path / "none.safetensors"
    with pytest.raises(FileNotFoundError, match=r"none\.safetensors.*pretrain\.py"):
        classifier(shards, missing)[0].setup("fit")
    foreign = tmp_path / "foreign.safetensors"
    foreign.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      " + b"not json")
    with pytest.raises(ValueError, match=r"foreign\.safetensors"):
        load_encoder_weights(torch.nn.Linear(1, 1), foreign, None)


def test_pretrain_command_writes_the_file_and_refuses_a_bad_output_in_one_line(
        shards: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    net = tmp_path / "net.yaml"
    encoder = {"class_path": "lightning_modules.components.conv_encoder.ConvEncoder", "init_args": {
        "channels": [4, 8], "pooling": "bins", "time_bins": 4,
        "frontend": {"class_path": "lightning_modules.components.frontends.LogMel", "init_args": {"n_mels": 16}}}}
    net.write_text(json.dumps({"class_path": "lightning_modules.components.seed_cnns.SeedCNN",
                               "init_args": {"encoder": encoder, "hidden": [16]}}))
    common = ["--config", "configs/seeds/001/pretrain/cnn3_autoencoder.yaml", f"--model.net={net}",
              f"--data.data_root={shards}", "--data.num_workers=0", "--data.clip_seconds=1.0", "--data.batch_size=8",
              "--trainer.accelerator=cpu", "--trainer.devices=1", "--trainer.precision=32-true",
              "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false"]
    with pytest.raises(SystemExit) as exit_info:
        pretrain.run([*common, f"--output={tmp_path / 'encoder.pt'}"])
    assert exit_info.value.code == 2 and "--output" in capsys.readouterr().err
    result = pretrain.main([*common, "--model.epochs_per_block=1", f"--output={tmp_path / 'encoder.safetensors'}"])
    tensors, metadata = read_encoder_weights(result["output"])
    assert "encoder.body.1.conv.weight" in tensors and metadata["input_contract"]["clip_seconds"] == 1.0
    assert [len(h) for h in result["stage_history"]] == [1, 1]


# Seed 001's CNN-3 (configs/net/seeds/seed001_cnn3.yaml), narrowed for a CPU: three blocks, flattened bins.
NARROW_CNN3 = {"class_path": "lightning_modules.components.seed_cnns.SeedCNN", "init_args": {
    "hidden": [32], "dropout": 0.0, "encoder": {
        "class_path": "lightning_modules.components.conv_encoder.ConvEncoder",
        "init_args": {"frontend": LOGMEL, "channels": [8, 16, 32], "pool": 2, "pooling": "bins", "time_bins": 4}}}}
CPU = ["--trainer.accelerator=cpu", "--trainer.devices=1", "--trainer.precision=32-true",
       "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false"]


@pytest.mark.slow
def test_ae_pretrained_cnn3_beats_chance_on_held_out_speakers(prepared: Path, tmp_path: Path) -> None:
    """The two commands of table 3's pretrained rows, narrowed: pretrain.py, then train.py with init_from."""
    net = tmp_path / "net.yaml"
    net.write_text(yaml.safe_dump(NARROW_CNN3))
    data = [f"--model.net={net}", f"--data.data_root={prepared}", "--data.batch_size=16", "--data.num_workers=0",
            "--data.clip_seconds=3.0", "--data.shuffle_buffer=200", *CPU]
    encoder = tmp_path / "encoder.safetensors"
    stages = pretrain.main(["--config", "configs/seeds/001/pretrain/cnn3_autoencoder.yaml", *data,
                            "--model.epochs_per_block=2", f"--output={encoder}"])
    assert all(h[-1] < h[0] for h in stages["stage_history"]), stages["stage_history"]
    scores = train.main(["--config", "configs/seeds/001/table3_cnn3_pretrained_25ep.yaml", *data,
                         f"--model.init_from={encoder}", "--trainer.max_epochs=10", "--early_stopping.patience=10",
                         "--wandb.mode=disabled", "--report.every_n_val_epochs=1000", f"--run.root={tmp_path}",
                         "--run.name=finetune"])
    print(f"AE-pretrained CNN-3: test macro F1 {scores['test/macro_f1']:.3f}, WA {scores['test/wa']:.3f}")
    assert scores["test/macro_f1"] > CHANCE + MARGIN, scores
