"""Every row config under configs/seeds/ parses, names a real timm / network, and runs fast_dev_run.

Rows are the files not starting with '_' (those are shared pieces). The fast_dev_run sweep shrinks
each row the way timm's tests shrink their registry: conv widths (ResNet-38's too) capped at 8, timm backbones swapped
for ``test_efficientnet`` unpretrained at 32 px (the row's own timm name is checked to exist), speech
encoders pointed at a tiny local model; everything else (front-ends, heads, optimiser, schedule,
padding, splits) is the row's own. No weights are downloaded.

A row that fine-tunes a pretrained encoder (``model.init_from``) gets a real file: the pretraining
config under ``pretrain/`` that writes that path is run first (shrunk the same way, fast_dev_run,
into tmp_path), and the row loads what it wrote.
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest
import timm
import yaml

from training.cli import SERLightningCLI
from training.pretrain_cli import PretrainCLI, pretrain
from tests.shard_factory import make_dataset
from tests.tiny_models import save_tiny_encoder
from tests.tiny_train_config import DEBUG_FAST

ROWS = sorted(p for p in Path("configs/seeds").rglob("*.yaml")  # classical rows: test_classical.py
              if not p.name.startswith("_") and p.parent.name not in ("classical", "pretrain"))
PRETRAIN = sorted(Path("configs/seeds").rglob("pretrain/*.yaml"))  # pretrain.py configs, run for the rows that load them
IDS = [f"{p.parent.name}/{p.stem}" for p in ROWS]
MAX_WIDTH = 8
SMALL = ["--config", str(DEBUG_FAST),  # fast_dev_run on the CPU, no logger
         "--data.batch_size=4", "--data.clip_seconds=1.0", "--data.shuffle_buffer=8"]


class ParseOnly(SERLightningCLI):
    def instantiate_classes(self) -> None:
        """Parsing and validation only."""


@functools.cache
def row_config(row: Path) -> Any:
    """The row parsed as train.py parses it, once per worker: read-only here.

    WHY: a parse builds the whole CLI parser (most of a second on 2 cores), and both the parse test
    and the fast_dev_run test of a row need it; the second reuses it when it runs on the same worker."""
    return ParseOnly(args=["--config", str(row)]).config


def _init_args(spec: Any) -> Any:
    return spec["init_args"] if isinstance(spec, dict) else spec.init_args


def _class_path(spec: Any) -> str:
    return spec["class_path"] if isinstance(spec, dict) else spec.class_path


def shrink_encoder(spec: Any) -> None:
    """Cap a ConvEncoder's widths (and a CNN-BiLSTM's units) so a CPU step takes milliseconds."""
    args = _init_args(spec)
    if _class_path(spec).endswith("ConvEncoder"):
        args["channels"] = [min(int(c), MAX_WIDTH) for c in args["channels"]]


def shrink_network(net: Any, tiny_encoder: str) -> None:
    """The row's network made tiny in place (see the module docstring)."""
    args, path = _init_args(net), _class_path(net)
    if path.endswith("TimmImageClassifier"):
        args["model_name"], args["pretrained"], args["image_size"], args["trainable_blocks"] = (
            "test_efficientnet", False, 32, None)
    elif path.endswith("SpeechEncoderClassifier"):
        args["model_name"] = tiny_encoder
        if args.get("trainable_layers"):
            args["trainable_layers"] = 1
    elif path.endswith("ResNet38"):  # every one of its 38 layers, at width 8
        args["widths"] = [min(int(w), MAX_WIDTH) for w in args["widths"]]
        for key in ("stem_width", "head_width", "hidden"):
            args[key] = min(int(args[key]), MAX_WIDTH)
    for key in ("encoder",):
        if args.get(key) is not None:
            shrink_encoder(args[key])
    for branch in args.get("branches") or []:
        shrink_encoder(branch)
    if "lstm_hidden" in args:
        args["lstm_hidden"], args["attention_dim"] = MAX_WIDTH, MAX_WIDTH


class TinyRowCLI(SERLightningCLI):
    """The row's config, shrunk before anything is built."""

    tiny_encoder: str = ""

    def before_instantiate_classes(self) -> None:
        shrink_network(self.config.model.net, self.tiny_encoder)  # first: the weights check reads the shrunk row
        super().before_instantiate_classes()


class TinyPretrainCLI(PretrainCLI):
    """A pretraining config, its network shrunk as the rows' are (so the file fits the shrunk row)."""

    def before_instantiate_classes(self) -> None:
        shrink_network(self.config.model.net, "")
        super().before_instantiate_classes()


class ParseOnlyPretrain(PretrainCLI):
    def instantiate_classes(self) -> None:
        """Parsing and validation only."""


def pretrain_config_writing(path: str) -> Path:
    """The pretrain/ config whose ``output`` is ``path`` (a row's ``model.init_from``)."""
    writers = {ParseOnlyPretrain(args=["--config", str(p)]).config.output: p for p in PRETRAIN}
    assert path in writers, f"model.init_from={path!r}: no config under pretrain/ writes it ({sorted(writers)})"
    return writers[path]


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_every_seed_row_parses_and_names_its_figure(row: Path) -> None:
    text = row.read_text()
    assert text.startswith(f"# Seed {row.parent.name}, "), "the first line names the seed, table and row"
    assert "reported" in text.split("\n\n")[0], "the header comment gives the reported figure"
    config = row_config(row)
    net = config.model.net
    assert _class_path(net).startswith("lightning_modules.components.")
    if _class_path(net).endswith("TimmImageClassifier"):
        assert timm.is_model(_init_args(net)["model_name"]), _init_args(net)["model_name"]
    assert config.checkpoint.monitor == config.early_stopping.monitor
    # the GPU trainer piece survived composition (a dotted trainer.* key beside `trainer: <file>` drops it)
    assert config.trainer.accelerator == "gpu" and config.trainer.precision == "bf16-mixed", config.trainer
    assert any("LearningRateMonitor" in _class_path(c) for c in config.trainer.callbacks or []), config.trainer.callbacks
    if config.model.init_from:
        pretrain_config_writing(config.model.init_from)


@pytest.mark.parametrize("path", sorted(Path("configs").rglob("*.yaml")), ids=str)
def test_no_config_file_sets_a_group_both_whole_and_dotted(path: Path) -> None:
    """``trainer: gpu.yaml`` and ``trainer.max_epochs: 40`` in one file: jsonargparse keeps only the
    dotted key, silently dropping the whole included group. Include the group from another file."""
    config = yaml.safe_load(path.read_text())
    keys = set(config) if isinstance(config, dict) else set()
    both = sorted(k for k in keys if "." in k and k.split(".")[0] in keys)
    assert not both, f"{path}: {both} beside the whole group {sorted({k.split('.')[0] for k in both})}"


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("seed_rows")
    make_dataset(root, num_classes=4, per_class={"train": 2, "train_aug": 1, "val": 1, "test": 1},
                 shards_per_split=1, seconds=(0.6, 1.0))
    return str(root)


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(save_tiny_encoder("wav2vec2", tmp_path_factory.mktemp("encoders")))


@pytest.mark.slow
@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_every_seed_row_runs_fast_dev_run(row: Path, shards: str, tiny_encoder: str, tmp_path: Path) -> None:
    TinyRowCLI.tiny_encoder = tiny_encoder
    args = ["--config", str(row), *SMALL, f"--data.data_root={shards}", f"--run.root={tmp_path}", "--run.name=row"]
    init_from = row_config(row).model.init_from
    if init_from:
        args.append(f"--model.init_from={pretrained_encoder(pretrain_config_writing(init_from), shards, tmp_path)}")
    cli = TinyRowCLI(args=args)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    assert cli.trainer.global_step == 1, "one optimiser step on the row's model"
    assert cli.trainer.callback_metrics["val/loss"].isfinite()


def pretrained_encoder(config: Path, shards: str, tmp_path: Path) -> str:
    """Run a pretraining config shrunk and with the rows' small settings; the encoder file it wrote."""
    # configs/debug/fast.yaml's trainer and data settings (pretrain.py has no wandb/report sections)
    small = ["--trainer.fast_dev_run=true", "--trainer.logger=false", "--trainer.callbacks=[]",
             "--trainer.accelerator=cpu", "--trainer.devices=1", "--trainer.precision=32-true",
             "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false", "--data.num_workers=0",
             *[a for a in SMALL if a.startswith("--data.")]]
    output = tmp_path / "pretrained" / "encoder.safetensors"
    cli = TinyPretrainCLI(args=["--config", str(config), *small, f"--data.data_root={shards}", f"--output={output}"])
    pretrain(cli)
    assert cli.trainer.global_step == 1, "one pretraining step"
    return str(output)
