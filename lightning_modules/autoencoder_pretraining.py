"""Greedy layer-wise convolutional-autoencoder pretraining of a conv encoder (seed 001, CNN-3).

Seed 001 (§3.3.3, "Greedy Layer-wise Pretraining") trained each conv layer of its CNN-3 as an
autoencoder (encoder: the conv layer, decoder: a transposed conv) for 50 epochs, with MSE on the
activations of the layers before it (their weights frozen), then fine-tuned the whole classifier.

Here that is one ``trainer.fit``: epoch ``e`` trains block ``k = e // epochs_per_block`` of the
network's ``ConvEncoder`` together with its own transposed-conv decoder, which reconstructs the
block's input (the normalised features for block 0, block k-1's output after it). Earlier blocks
run without gradients in eval mode, so their weights and batch-norm statistics stay as their stage
left them; later blocks are untouched. The loss is a mean squared error over the valid columns of
each clip only (the batch's true lengths, as every network here masks padding). The encoder's
SpecAugment, if it has one, is not applied: the seed pretrained on the plain spectrograms. Because the
stage follows the epoch counter, resuming from a checkpoint resumes the right stage.

Under DDP, each stage leaves the other blocks' parameters without gradients: run several devices
with ``--trainer.strategy=ddp_find_unused_parameters_true``.

``export_encoder`` writes the encoder's tensors, under the network's key names, with the input
contract (lightning_modules/encoder_weights.py); ``EmotionClassifier(init_from=...)`` loads them.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import LightningModule
from torch import Tensor, nn

from data_preparation.shards.shard_format import SAMPLE_RATE
from lightning_modules.components.base import EmotionNetwork
from lightning_modules.components.conv_encoder import ConvBlock, ConvEncoder, fill_invalid
from lightning_modules.components.frontends import bind_sample_rate
from lightning_modules.encoder_weights import save_encoder_weights

Batch = dict[str, Any]


def block_decoder(block: ConvBlock) -> nn.Module:
    """The transposed conv mapping ``block``'s output back to its input's channels and size.

    A pooled axis is undone by a stride-``pool`` transposed conv with kernel ``pool`` (its output
    covers the input; the extra edge of a ceil-mode pool is cropped off); an unpooled axis by a
    stride-1 transposed conv with the block's kernel and same padding.
    """
    conv = block.conv
    dims = conv.weight.dim() - 2
    pool = block.pool.kernel_size if block.pool is not None else 1
    pool = (pool,) * dims if isinstance(pool, int) else tuple(pool)
    kernel = tuple(p if p > 1 else k for p, k in zip(pool, conv.kernel_size))
    padding = tuple(0 if p > 1 else k // 2 for p, k in zip(pool, conv.kernel_size))
    transposed = nn.ConvTranspose1d if dims == 1 else nn.ConvTranspose2d
    return transposed(conv.out_channels, conv.in_channels, kernel, stride=pool, padding=padding)


def masked_mse(reconstruction: Tensor, target: Tensor, valid: Tensor) -> Tensor:
    """Mean squared error over the valid columns (last axis) of each clip; [B, C, (F,) T], valid [B]."""
    reconstruction = reconstruction[(..., *[slice(0, n) for n in target.shape[2:]])]
    squared = fill_invalid((reconstruction.float() - target.float()).pow(2), valid, 0.0)
    per_column = target[0, ..., 0].numel()  # channels x frequency rows in one column
    return squared.sum() / (valid.clamp_max(target.shape[-1]).sum() * per_column).clamp_min(1)


class GreedyAutoencoderPretraining(LightningModule):
    """Trains the conv blocks of ``net``'s encoder one after the other as autoencoders.

    Args:
        net: the classifier's network builder (the same ``model.net`` config the fine-tuning row uses);
            only its ``encoder_attr`` (a ConvEncoder) is trained and exported, the head is ignored.
        epochs_per_block: epochs of each greedy stage (seed 001: 50); ``trainer.max_epochs`` must be
            this times the number of conv blocks.
        lr / weight_decay: AdamW on the active block and its decoder (the seed: Adam at 1e-3).
        encoder_attr: the attribute of the network that holds its ConvEncoder.
        sample_rate / input_contract: linked from the datamodule, as for EmotionClassifier; the
            contract goes into the exported file, where fine-tuning checks it.
    """

    def __init__(self, net: Callable[[int], EmotionNetwork], epochs_per_block: int = 50, lr: float = 1e-3,
                 weight_decay: float = 0.0, encoder_attr: str = "encoder", sample_rate: int = SAMPLE_RATE,
                 input_contract: dict[str, Any] | None = None) -> None:
        super().__init__()
        if epochs_per_block < 1 or lr <= 0 or weight_decay < 0:
            raise ValueError(f"model.epochs_per_block={epochs_per_block} (>= 1), model.lr={lr} (> 0), "
                             f"model.weight_decay={weight_decay} (>= 0): out of range")
        self.save_hyperparameters(logger=False)
        self.net = net(1)  # the head's class count is irrelevant: it is neither trained nor exported
        bind_sample_rate(self.net, sample_rate)
        self.encoder = getattr(self.net, encoder_attr, None)
        if not isinstance(self.encoder, ConvEncoder):
            raise ValueError(f"model.encoder_attr={encoder_attr!r}: the network's {encoder_attr!r} is "
                             f"{type(self.encoder).__name__}, not a ConvEncoder; greedy pretraining needs conv blocks")
        self.decoders = nn.ModuleList(block_decoder(block) for block in self.encoder.body)
        self.stage_history: list[list[float]] = [[] for _ in self.encoder.body]  # mean train loss per epoch
        self._epoch_sum, self._epoch_count = 0.0, 0

    @property
    def blocks(self) -> int:
        return len(self.encoder.body)

    @property
    def stage(self) -> int:
        """The block being trained: one stage of ``epochs_per_block`` epochs per block."""
        return min(self.current_epoch // self.hparams.epochs_per_block, self.blocks - 1)

    def on_fit_start(self) -> None:
        wanted = self.hparams.epochs_per_block * self.blocks
        if not self.trainer.fast_dev_run and self.trainer.max_epochs != wanted:
            raise ValueError(f"trainer.max_epochs={self.trainer.max_epochs}: greedy pretraining of {self.blocks} "
                             f"blocks at model.epochs_per_block={self.hparams.epochs_per_block} takes {wanted} epochs")

    def stage_input(self, batch: Batch, stage: int) -> tuple[Tensor, Tensor]:
        """Block ``stage``'s input [B, C, (F,) T] and valid columns [B], through the frozen blocks before it."""
        with torch.no_grad():
            if "features" in batch:  # precomputed log-mel shards
                features, frames = batch["features"], batch["lengths"]
            else:
                features, frames = self.encoder.features(batch["audio"], batch["lengths"])
            x, valid = self.encoder.body_input(features, frames), frames.clamp(1, features.shape[-1])
            for block in self.encoder.body[:stage]:
                x, valid = block(x, valid), block.valid_after(valid)
        return x, valid

    def reconstruction_loss(self, batch: Batch, stage: int) -> Tensor:
        """Block ``stage`` encodes its input, its decoder reconstructs it; masked MSE against the input."""
        target, valid = self.stage_input(batch, stage)
        block = self.encoder.body[stage]
        return masked_mse(self.decoders[stage](block(target, valid)), target, valid)

    def on_train_batch_start(self, batch: Batch, batch_idx: int) -> None:
        """Freeze what precedes the active block: eval mode keeps its batch-norm statistics (and dropout) fixed.

        Set per batch, since Lightning puts the whole module back in train mode after validation.
        """
        self.encoder.input_norm.train(self.stage == 0)  # its statistics are learnt in stage 0 only
        for block in self.encoder.body[: self.stage]:
            block.eval()

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        loss = self.reconstruction_loss(batch, self.stage)
        size = batch["lengths"].shape[0]
        self.log("train/recon_loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=size)
        self.log("pretrain/stage", float(self.stage), on_step=False, on_epoch=True, batch_size=size)
        self._epoch_sum, self._epoch_count = self._epoch_sum + float(loss.detach()) * size, self._epoch_count + size
        return loss

    def on_train_epoch_end(self) -> None:
        if self._epoch_count:
            self.stage_history[self.stage].append(self._epoch_sum / self._epoch_count)
        self._epoch_sum, self._epoch_count = 0.0, 0

    def validation_step(self, batch: Batch, batch_idx: int) -> Tensor:
        loss = self.reconstruction_loss(batch, self.stage)
        self.log("val/recon_loss", loss, on_epoch=True, prog_bar=True, batch_size=batch["lengths"].shape[0])
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        """AdamW over every block and decoder: a stage's inactive ones get no gradient, so AdamW skips them
        (weight decay included). The input norm's scale and shift are not trained here: they would let
        stage 0 shrink its own target."""
        params = [*self.encoder.body.parameters(), *self.decoders.parameters()]
        return torch.optim.AdamW(params, lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["stage_history"] = self.stage_history

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.stage_history = checkpoint.get("stage_history", self.stage_history)

    def encoder_state(self) -> dict[str, Tensor]:
        """The encoder's tensors under the network's key names (``encoder.body.0.conv.weight``, ...)."""
        prefix = self.hparams.encoder_attr
        return {f"{prefix}.{name}": value for name, value in self.encoder.state_dict().items()}

    def export_encoder(self, path: str | Path) -> Path:
        """Write the encoder weights file fine-tuning loads (``model.init_from``)."""
        details = {"epochs_per_block": self.hparams.epochs_per_block, "blocks": self.blocks,
                   "stages_trained": sum(bool(h) for h in self.stage_history), "train_loss_per_epoch": self.stage_history}
        return save_encoder_weights(path, self.encoder_state(), self.hparams.input_contract, details)
