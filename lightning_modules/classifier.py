"""EmotionClassifier: the one LightningModule. It owns steps, loss, metrics and optimiser binding.

The network is injected (``net``: a builder taking ``num_classes``, written in config as
``class_path``/``init_args``), as the lightning-hydra-template's MNIST module does. Class names,
class weights, the sample rate and the input contract (clip length, padding, crop, features:
data_preparation/input_contract.py) are kept in the hyperparameters, so a checkpoint alone is
enough to predict exactly as the model was tested::

    model = EmotionClassifier.load_from_checkpoint(path, weights_only=True)
    probs = model(audio, lengths).softmax(-1)           # audio [B, T] at model.hparams.sample_rate
    names, contract = model.hparams.class_names, model.contract
"""
from __future__ import annotations

import copy
import logging
import math
from collections.abc import Callable
from typing import Any

import torch
from lightning.pytorch import LightningModule
from torch import Tensor, nn

from data_preparation.input_contract import HPARAM_KEY, InputContract, legacy_contract
from data_preparation.shards.shard_format import SAMPLE_RATE
from lightning_modules.components.base import BatchAugmentation, EmotionNetwork
from lightning_modules.components.frontends import bind_sample_rate
from lightning_modules.components.losses import build_loss
from lightning_modules.encoder_weights import load_encoder_weights
from lightning_modules.metrics import per_class_metrics, per_class_scalars, summary_metrics
from lightning_modules.mixup import Mix, check_mixup, draw_mix, mix_signals, mixed_loss
from lightning_modules.optim import build_scheduler, check_optimizer_settings, param_groups
from lightning_modules.nonfinite_loss import guard_loss
from lightning_modules.speaker_statistics import SpeakerStatistics, batch_stats, collect, speakers_of
from lightning_modules.window_scores import window_mean_logits

Batch = dict[str, Any]
STAGES = ("train", "val", "test")
log = logging.getLogger(__name__)


class EmotionClassifier(LightningModule):
    """Utterance-level emotion classifier over any injected network.

    Args:
        net: builder ``net(num_classes) -> nn.Module`` whose module maps (audio [B, T], lengths [B])
            to logits [B, C]; for precomputed log-mel batches it also needs ``forward_features``.
        class_names: the classes in label-id order (linked from ``data.classes``).
        class_weights: per-class loss weights (linked from ``data.class_weights``, from train counts).
        sample_rate: the audio rate the network expects (Hz); front-ends left without one take it.
        input_contract: what the model is trained on (linked from ``data.input_contract``), as plain
            values; evaluation, prediction and export read it back from the checkpoint.
        loss: 'weighted_ce' (default, as seed 000), 'ce' or 'focal'.
        lr / encoder_lr: head and pretrained-encoder learning rates (encoder_lr None: lr).
        scheduler: 'cosine' (linear warm-up then cosine, per step), 'plateau' or 'constant'.
        warmup: warm-up length, a fraction of all steps (< 1) or a step count.
        monitor: the metric the plateau schedule follows (the checkpoint callback has its own).
        augment: on-device waveform augmentation, applied to training batches only.
        mixup: Beta parameter of mixup on training batches (lightning_modules/mixup.py); 0: off.
        init_from: a pretrained-encoder file (``python pretrain.py``: lightning_modules/encoder_weights.py)
            copied into the network when fitting starts; refused, naming the file and keys, when its
            tensors or its input contract do not fit. A resumed fit then restores its checkpoint over it;
            loading a checkpoint for evaluation never reads it.
    """

    # callbacks/throughput.py's ThroughputMonitor reads this to count FLOPs, and warns when it is missing;
    # None: FLOPs are not counted (samples and audio seconds per second are)
    flops_per_batch: float | None = None

    def __init__(
        self,
        net: Callable[[int], EmotionNetwork],
        class_names: list[str],
        class_weights: list[float] | None = None,
        sample_rate: int = SAMPLE_RATE,
        loss: str = "weighted_ce",
        label_smoothing: float = 0.0,
        focal_gamma: float = 2.0,
        lr: float = 1e-3,
        encoder_lr: float | None = None,
        weight_decay: float = 0.01,
        betas: tuple[float, float] = (0.9, 0.999),
        scheduler: str = "cosine",
        warmup: float = 0.05,
        min_lr_ratio: float = 0.0,
        plateau_patience: int = 1,
        plateau_factor: float = 0.5,
        monitor: str = "val/weighted_f1",
        augment: BatchAugmentation | None = None,
        mixup: float = 0.0,
        input_contract: dict[str, Any] | None = None,
        init_from: str | None = None,
    ) -> None:
        super().__init__()
        if not class_names:
            raise ValueError("model.class_names is empty: link it from data.classes or list the classes")
        if class_weights is not None and len(class_weights) != len(class_names):
            raise ValueError(f"model.class_weights has {len(class_weights)} values for {len(class_names)} classes")
        check_optimizer_settings(lr, encoder_lr, weight_decay)
        check_mixup(mixup)
        # augment is training-time only (the run's config.yaml keeps it): a loaded checkpoint predicts without it
        self.save_hyperparameters(logger=False, ignore=["augment"])
        check_contract(input_contract, class_names, sample_rate)
        self.net = net(len(class_names))
        bind_sample_rate(self.net, sample_rate)
        self.augment = augment
        self.criterion = build_loss(loss, class_weights, label_smoothing, focal_gamma)
        # ModuleDict keys must not shadow nn.Module attributes ("train"), hence the suffix.
        self.metrics = nn.ModuleDict({f"{s}_metrics": summary_metrics(len(class_names), s) for s in STAGES})
        self.per_class = nn.ModuleDict({f"{s}_metrics": per_class_metrics(len(class_names)) for s in ("val", "test")})
        self.confusion: dict[str, Tensor] = {}  # last epoch's confusion matrix per stage, for callbacks
        # per-speaker normalisation (a network with ``speaker_norm``): split -> speaker -> (mean, std)
        self.speaker_tables: dict[str, dict[str, tuple[Tensor, Tensor]]] = {}

    @property
    def class_names(self) -> list[str]:
        return list(self.hparams.class_names)

    @property
    def contract(self) -> InputContract | None:
        """The input contract (None: a model built without a datamodule, or an old checkpoint without one)."""
        data = self.hparams.get(HPARAM_KEY)
        return InputContract.from_dict(data) if data else None

    def forward(self, audio: Tensor, lengths: Tensor, band_stats: tuple[Tensor, Tensor] | None = None) -> Tensor:
        """audio [B, T] float at ``hparams.sample_rate``, lengths [B] valid samples -> logits [B, C].

        ``band_stats``: per-clip speaker statistics for a network with ``speaker_norm`` (None: the population's).
        Out of training, a model whose contract sets ``eval_seconds`` scores rows longer than its
        training clip as the mean over training-length windows (lightning_modules/window_scores.py);
        the log of that mean probability is returned as the logits."""
        if self.eval_window is not None and not self.training:  # a training-length row is one window
            return window_mean_logits(self._net_logits, audio, lengths, self.eval_window, band_stats)
        return self._net_logits(audio, lengths, band_stats)

    def _net_logits(self, audio: Tensor, lengths: Tensor, band_stats: tuple[Tensor, Tensor] | None) -> Tensor:
        if band_stats is None:
            return self.net(audio, lengths)
        return self.net(audio, lengths, band_stats=band_stats)

    @property
    def eval_window(self) -> int | None:
        """Samples per scoring window (the training clip) when the contract scores longer clips in windows."""
        data = self.hparams.get(HPARAM_KEY)
        if not data or data.get("eval_seconds") is None:
            return None
        return InputContract.from_dict(data).clip_size

    def logits_of(self, batch: Batch) -> Tensor:
        """Logits of a batch of waveforms ("audio") or of precomputed log-mel ("features").

        With per-speaker normalisation, inside a trainer stage whose split's statistics were
        collected, each clip is normalised by its own speaker's; otherwise by the population's."""
        stats = self._batch_speaker_stats(batch)
        if "features" in batch:
            extra = {} if stats is None else {"band_stats": stats}
            return self.net.forward_features(batch["features"], batch["lengths"], **extra)
        return self(batch["audio"], batch["lengths"], stats)

    # -- per-speaker normalisation (lightning_modules/components/speaker_norm.py) ---------------

    @property
    def normalises_speakers(self) -> bool:
        return getattr(self.net, "speaker_norm", None) is not None

    def _stage_split(self) -> str | None:
        """The split the running trainer stage streams ("train" for all training splits), None outside one."""
        trainer = self._trainer
        if trainer is None:
            return None
        splits = getattr(trainer.datamodule, "splits", None)
        if trainer.training:
            return "train"
        if splits is not None and (trainer.sanity_checking or trainer.validating):
            return splits.val_split
        if splits is not None and trainer.testing:
            return splits.test_split
        return None

    def _batch_speaker_stats(self, batch: Batch) -> tuple[Tensor, Tensor] | None:
        if not self.normalises_speakers or "speaker" not in batch:
            return None
        table = self.speaker_tables.get(self._stage_split() or "")
        if table is None:
            return None
        norm = self.net.speaker_norm
        return batch_stats(table, speakers_of(batch), (norm.population_mean, norm.population_std), self.device)

    def _collect_speaker_table(self, key: str, splits: list[str]) -> SpeakerStatistics:
        """Statistics of every speaker of ``splits`` (one pass, front-end only), kept under ``key``."""
        datamodule = self.trainer.datamodule
        if not hasattr(datamodule, "split_loader"):
            raise ValueError("model.net.speaker_norm needs the shard datamodule: it reads each split's speakers "
                             "from the shards' metadata")
        statistics = SpeakerStatistics()
        was_training = self.net.training
        self.net.eval()
        for split in splits:
            batches = (self.transfer_batch_to_device(batch, self.device, 0) for batch in datamodule.split_loader(split))
            statistics.update(collect(batches, self.features_of))
        self.net.train(was_training)
        self.speaker_tables[key] = statistics.table()
        log.info("speaker statistics of %s: %d speakers", "+".join(splits), len(statistics.sums))
        return statistics

    def features_of(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """The features speaker statistics are taken over: precomputed log-mel, or the front-end's of the audio."""
        if "features" in batch:
            return batch["features"], batch["lengths"]
        return self.net.features_of(batch["audio"], batch["lengths"])

    def on_fit_start(self) -> None:
        """Training speakers' statistics, and the population an unseen speaker is normalised by."""
        if self.normalises_speakers:
            train = self._collect_speaker_table("train", list(self.trainer.datamodule.train_splits))
            self.net.speaker_norm.set_population(*train.pooled())
            single = train.single_class_speakers()
            if len(single) * 2 > len(train.sums):
                log.warning("speaker_norm: %d of the %d training speakers have clips of one class only (e.g. %s): "
                            "normalising by a speaker's statistics then removes that speaker's emotion too; "
                            "consider --model.net.init_args.speaker_norm=false for this corpus",
                            len(single), len(train.sums), ", ".join(single[:3]))

    def on_validation_start(self) -> None:
        split = self._stage_split()
        if self.normalises_speakers and split is not None and split not in self.speaker_tables:
            self._collect_speaker_table(split, [split])

    def on_test_start(self) -> None:
        split = self._stage_split()
        if self.normalises_speakers and split is not None:
            self._collect_speaker_table(split, [split])

    def setup(self, stage: str) -> None:
        """Fitting starts from ``init_from``'s pretrained encoder (before any checkpoint is restored)."""
        if stage == "fit" and self.hparams.get("init_from"):
            loaded = load_encoder_weights(self.net, self.hparams.init_from, self.hparams.get(HPARAM_KEY))
            log.info("model.init_from: %d pretrained tensors loaded from %s", len(loaded), self.hparams.init_from)

    def on_after_batch_transfer(self, batch: Batch, dataloader_idx: int) -> Batch:
        """Augment (then mix) on the device, in training only, so loader workers stay cheap."""
        if self._trainer is None or not self.trainer.training:
            return batch
        if self.augment is not None and "audio" in batch:
            result = self.augment(batch["audio"], batch["lengths"])
            if isinstance(result, tuple):
                batch["audio"], batch["lengths"] = result
            else:
                batch["audio"] = result
        if self.hparams.mixup > 0:
            signal = "audio" if "audio" in batch else "features"
            mix = draw_mix(batch["label"].shape[0], self.hparams.mixup, batch["label"].device)
            batch[signal], batch["lengths"] = mix_signals(batch[signal], batch["lengths"], mix)
            batch["mix"] = mix
        return batch

    def _shared_step(self, batch: Batch, stage: str) -> dict[str, Tensor] | None:
        """Loss, logged metrics and logits; None for a training step the non-finite guard skips
        (checked before logging, so a skipped NaN never enters the epoch means)."""
        logits = self.logits_of(batch)
        labels = batch["label"]
        mix: Mix | None = batch.get("mix")  # a training batch mixed by on_after_batch_transfer
        if mix is None:
            loss = self.criterion(logits.float(), labels)
        else:
            loss = mixed_loss(self.criterion, logits.float(), labels, mix)
        if stage == "train":
            loss = guard_loss(self, loss)  # None (skip) or a clear error, as the nonfinite_loss callback decides
            if loss is None:
                return None
        batch_size = labels.shape[0]
        self.log(f"{stage}/loss", loss, on_step=stage == "train", on_epoch=True, prog_bar=True,
                 batch_size=batch_size, sync_dist=stage != "train")
        metrics = self.metrics[f"{stage}_metrics"]
        metrics.update(logits.detach(), labels)
        self.log_dict(metrics, on_step=False, on_epoch=True, batch_size=batch_size,
                      prog_bar=stage != "train")
        if f"{stage}_metrics" in self.per_class:
            self.per_class[f"{stage}_metrics"].update(logits.detach(), labels)
        return {"loss": loss, "logits": logits.detach()}

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor | None:
        result = self._shared_step(batch, "train")
        return None if result is None else result["loss"]

    def validation_step(self, batch: Batch, batch_idx: int) -> dict[str, Tensor]:
        return self._shared_step(batch, "val")

    def test_step(self, batch: Batch, batch_idx: int) -> dict[str, Tensor]:
        return self._shared_step(batch, "test")

    def _end_eval_epoch(self, stage: str) -> None:
        """Log per-class F1 and keep the (rank-synchronised) confusion matrix for callbacks."""
        metrics = self.per_class[f"{stage}_metrics"]
        values = metrics.compute()
        metrics.reset()
        self.confusion[stage] = values["confusion"].cpu()
        for name, value in per_class_scalars(stage, values["f1_per_class"], self.class_names).items():
            self.log(name, value)

    def on_validation_epoch_end(self) -> None:
        self._end_eval_epoch("val")

    def on_test_epoch_end(self) -> None:
        self._end_eval_epoch("test")

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """A checkpoint from before input contracts: rebuild its contract from the datamodule settings
        Lightning stored beside the model's (a log-mel one is refused: its settings were not stored)."""
        if self.hparams.get(HPARAM_KEY):
            return
        where = "checkpoint"
        contract = legacy_contract(self.hparams, checkpoint.get("datamodule_hyper_parameters"), where)
        if contract is not None:
            self.hparams[HPARAM_KEY] = contract.to_dict()
            log.warning("this checkpoint predates the input contract; rebuilt it from the training datamodule's "
                        "settings: %s", contract.describe())

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Make the stored network config self-contained: no pretrained download when loading it.

        Networks may offer ``checkpoint_init_args()`` (e.g. the encoder's config dict and
        ``pretrained=False``); the weights come from the state dict anyway.
        """
        net = checkpoint.get("hyper_parameters", {}).get("net")
        extra = getattr(self.net, "checkpoint_init_args", None)
        if isinstance(net, dict) and "init_args" in net and extra is not None:
            net = copy.deepcopy(net)  # the checkpoint's hparams share nested objects with self.hparams
            net["init_args"] = {**(net["init_args"] or {}), **extra()}
            checkpoint["hyper_parameters"] = {**checkpoint["hyper_parameters"], "net": net}

    def configure_optimizers(self) -> dict[str, Any]:
        hp = self.hparams
        groups = param_groups(self.net, hp.lr, hp.encoder_lr, hp.weight_decay)
        optimizer = torch.optim.AdamW(groups, lr=hp.lr, betas=tuple(hp.betas))
        total = self.trainer.estimated_stepping_batches
        if hp.scheduler == "cosine" and (total is None or math.isinf(total)):
            raise ValueError("model.scheduler='cosine' needs a known run length: set trainer.max_steps "
                             "or give the datamodule an epoch length (data.samples_per_epoch)")
        scheduler = build_scheduler(hp.scheduler, optimizer, int(total) if not math.isinf(total) else 0,
                                    hp.warmup, hp.min_lr_ratio, hp.plateau_patience, hp.plateau_factor, hp.monitor)
        return {"optimizer": optimizer} if scheduler is None else {"optimizer": optimizer, "lr_scheduler": scheduler}


def check_contract(contract: dict[str, Any] | None, class_names: list[str], sample_rate: int) -> None:
    """The contract must describe this model: same classes in the same order, same sample rate."""
    if not contract:
        return
    record = InputContract.from_dict(contract, "model.input_contract")
    if list(record.class_names) != list(class_names) or record.sample_rate != sample_rate:
        raise ValueError(f"model.input_contract (classes {list(record.class_names)}, {record.sample_rate} Hz) does not "
                         f"match model.class_names {list(class_names)} / model.sample_rate {sample_rate}")
