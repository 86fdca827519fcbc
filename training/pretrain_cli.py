"""The pretraining command line: LightningCLI over GreedyAutoencoderPretraining and ShardDataModule.

``python pretrain.py --config configs/seeds/001/pretrain/cnn3_autoencoder.yaml`` trains the conv
blocks of the config's ``model.net`` greedily as autoencoders on the training split
(lightning_modules/autoencoder_pretraining.py) and writes the encoder weights to ``--output`` (a
safetensors file with the input contract in its metadata). A fine-tuning row names that file as
``model.init_from``; train.py then checks the file against its own network and input contract.

Its own small CLI rather than a mode of train.py: train.py's run is a classifier's (class names and
weights linked in, F1 checkpointing, early stopping, test reports), none of which an unsupervised
stage has. The data section and the network config are the fine-tuning row's own files.
CSV logs and Lightning's checkpoints go beside the output file; ``--ckpt_path`` resumes from one.
``trainer.max_epochs`` is set here to ``model.epochs_per_block`` times the number of conv blocks.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from lightning.pytorch import Trainer
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.loggers import CSVLogger

from datamodules import shard_data_module
from lightning_modules.autoencoder_pretraining import GreedyAutoencoderPretraining
from training.checkpoint_io import AtomicCheckpointIO
from training.cli import check_data_root, check_gpu_available, check_pretrained_weights, resolved_config
from training.config_files import ResolvesConfigNames


class PretrainCLI(ResolvesConfigNames, LightningCLI):
    """LightningCLI for the pretraining stage (bare ``--config`` names as for train.py): ``--output`` names the weights file to write."""

    def __init__(self, args: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(GreedyAutoencoderPretraining, shard_data_module, run=False, args=args,
                         save_config_callback=None, seed_everything_default=0, auto_configure_optimizers=False,
                         **kwargs)

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_argument("--output", type=str, required=True,
                            help="the encoder weights file to write (.safetensors); fine-tuning reads it as model.init_from")
        parser.add_argument("--ckpt_path", type=str | None, default=None, help="a pretraining checkpoint to resume")
        parser.link_arguments("data.sample_rate", "model.sample_rate", apply_on="instantiate")
        parser.link_arguments("data.input_contract", "model.input_contract", apply_on="instantiate")

    def before_instantiate_classes(self) -> None:
        if not str(self.config.output).endswith(".safetensors"):
            raise ValueError(f"--output={self.config.output!r}: expected a .safetensors file name")
        if self.config.trainer.default_root_dir is None:
            self.config.trainer.default_root_dir = str(Path(self.config.output).parent)

    def instantiate_classes(self) -> None:
        check_data_root(self.config.data.data_root)  # before anything is built, as train.py does
        check_gpu_available(self.config.trainer.get("accelerator"))  # configs/trainer/gpu.yaml without a GPU: one line
        check_pretrained_weights(self.config, resolved_config(self.parser, self.config))  # hub weights: one line
        super().instantiate_classes()

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        """CSV logs beside the output file unless the config sets ``trainer.logger``; atomic checkpoints."""
        if self.config.trainer.get("logger") is None and "logger" not in kwargs:
            kwargs["logger"] = CSVLogger(save_dir=self.config.trainer.default_root_dir, name="", version="csv")
        if not self.config.trainer.get("plugins") and "plugins" not in kwargs:
            kwargs["plugins"] = [AtomicCheckpointIO()]
        # The run's length follows from the stages: one ``model.epochs_per_block`` per conv block.
        kwargs["max_epochs"] = self.model.hparams.epochs_per_block * self.model.blocks
        return super().instantiate_trainer(**kwargs)


def pretrain(cli: PretrainCLI) -> dict[str, Any]:
    """Fit the greedy stages, write the encoder file (rank zero), print each stage's first and last loss."""
    trainer, model = cli.trainer, cli.model
    trainer.fit(model, datamodule=cli.datamodule, ckpt_path=cli.config.ckpt_path, weights_only=True)
    output = Path(cli.config.output)
    if trainer.is_global_zero:
        model.export_encoder(output)
        lines = [f"encoder weights: {output}"]
        lines += [f"  block {k}: train reconstruction MSE {h[0]:.4f} -> {h[-1]:.4f} over {len(h)} epochs"
                  for k, h in enumerate(model.stage_history) if h]
        print("\n".join(lines), flush=True)
    return {"output": str(output), "stage_history": model.stage_history}
