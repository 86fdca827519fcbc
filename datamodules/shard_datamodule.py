"""ShardDataModule: stream a prepared dataset's WebDataset shards into fixed-length batches.

The pipeline is an explicit list of WebDataset stages (OpenCLIP's ``get_wds_dataset``): shard
list (or resampled shards) -> shard shuffle by seed + epoch -> split by rank -> split by worker
-> tar to samples (datamodules/tar_samples.py; counted bad-sample handler) -> shuffle buffer ->
decode -> crop -> batch (padding while collating) inside the pipeline; the WebLoader gets
``batch_size=None``.

Training: every rank yields ``EpochPlan.rank_batches`` batches (``with_epoch`` per worker), so
DDP cannot hang on uneven shards. Evaluation: every sample exactly once over all ranks and
workers, with no padding samples; ranks may yield different batch counts, which is safe as long
as the LightningModule runs no collective inside its eval steps (torchmetrics objects sync in
``compute`` at epoch end; do not ``self.log(..., on_step=True, sync_dist=True)`` in eval steps).
"""
from __future__ import annotations

import logging
import os
import tarfile
from functools import partial
from typing import Any, Iterable, Iterator, Literal, Sequence

import torch
import torch.distributed as dist
import webdataset as wds
from lightning.pytorch import LightningDataModule

from data_preparation.input_contract import InputContract
from data_preparation.shards.shard_format import STATS_FILE, DatasetInfo, SplitInfo, load_dataset_info, shard_urls
from data_preparation.split.fold_plan import fold_view
from datamodules.batch_slots import BatchSlots, unpack
from datamodules.data_settings import ClipShape, Loading, SplitChoice, TrainingStream, flat_settings
from datamodules.epoch_plan import EpochPlan, plan_epoch, worker_capacity
from datamodules.pipeline_stages import (
    BadSampleHandler,
    Collate,
    CropPad,
    DecodeLogMel,
    DecodeWaveform,
    ResampledShardList,
    SharedEpoch,
    ShardList,
    seeded_shuffle,
    split_by_rank,
    split_samples_by_rank,
)
from datamodules.eval_batches import rank_eval_batches, shard_sample_count
from datamodules.read_record import ReadRecord
from datamodules.shard_check import is_local, local_path, require_shards
from datamodules.tar_samples import tar_samples

log = logging.getLogger(__name__)


def as_batched(batch: Any) -> Any:
    """The loader's per-item function: the pipeline already batched (Collate gives tensors), so nothing to do.

    With ``batch_size=None`` the DataLoader would otherwise walk every batch with ``default_convert``
    (about 70 calls a batch, one per key string) to turn numpy arrays into tensors there are none of."""
    return batch


class EpochLoader:
    """A WebLoader that sets the shared epoch (the trainer's, on resume too) before each pass.

    ``len()`` is the per-rank batch count: for training the epoch plan's, for evaluation this rank's
    share (ranks legitimately differ there), counted from local shards (datamodules/eval_batches.py);
    an evaluation loader over remote shards has no length.
    """

    def __init__(self, loader: wds.WebLoader, epoch: SharedEpoch, owner: "ShardDataModule", length: int | None,
                 stage: str = "train", slots: BatchSlots | None = None) -> None:
        self.loader, self.epoch, self.owner, self.length, self.stage = loader, epoch, owner, length, stage
        self.slots = slots  # the reused batch buffers (datamodules/batch_slots.py); the main process's at 0 workers
        self.passes = 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        trainer = self.owner.trainer
        self.epoch.set(trainer.current_epoch if trainer is not None else self.passes)
        self.passes += 1
        batches: Iterable[dict[str, Any]] = self.loader
        if self.slots is not None:
            self.slots.reclaim()  # slots an abandoned pass's exited workers filled and nobody received
            batches = map(unpack, self.loader)
        if self.owner.read_record is None:
            return iter(batches)
        return self.owner.read_record.recorded(batches, self.stage, self.epoch.get, *self.owner._world())

    def __len__(self) -> int:
        if self.length is None:
            raise TypeError("this evaluation loader has no length: its shards are remote, so their sample "
                            "counts are not known before they stream")
        return self.length


class ShardDataModule(LightningDataModule):
    """Batches from the shards of a prepared dataset (data_preparation/shards/shard_format.py).

    Batch: ``{"audio": float32 [B, T]}`` (``features="waveform"``) or ``{"features": float32
    [B, n_mels, frames]}`` (``"logmel"``, precomputed shards), plus ``"lengths"`` int64 [B] (valid
    samples or frames), ``"label"`` int64 [B], ``"key"``, ``"corpus"`` and ``"speaker"`` (lists of str).

    Clips longer than ``clip_seconds`` are cropped (random offset in training, ``eval_crop`` at
    evaluation). Shorter clips are padded: ``"zero"`` pads with zeros (log-mel: the clip's
    minimum, its silence floor) and ``lengths`` is the true length, so models mask the padding;
    ``"repeat"`` tiles the clip and ``lengths`` is the full clip length, because all of it is real
    signal.

    Evaluation loaders over local shards have ``len()``, this rank's batch count (so progress bars
    show totals); over remote shards they have none, and ``trainer.limit_val_batches`` and
    ``limit_test_batches`` must then be an int or 1.0, not a fraction.

    Built from the ``data:`` settings by :func:`shard_data_module`, which documents them; in code,
    ``ShardDataModule(root, loading=Loading(batch_size=8))`` sets one group and keeps the others' defaults.
    """

    def __init__(
        self,
        data_root: str,
        clips: ClipShape = ClipShape(),
        splits: SplitChoice = SplitChoice(),
        stream: TrainingStream = TrainingStream(),
        loading: Loading = Loading(),
    ) -> None:
        super().__init__()
        self.clips, self.splits, self.stream, self.loading = clips, splits, stream, loading
        # the flat data.* keys, as checkpoints have always stored them (input_contract.legacy_contract reads
        # them), as plain values so a checkpoint loads with weights_only=True; the config logs them once
        self.save_hyperparameters({"data_root": data_root, **flat_settings(clips, splits, stream, loading)},
                                  logger=False)
        self.data_root = data_root.rstrip("/")
        self.info: DatasetInfo = load_dataset_info(self.data_root)
        if splits.fold is not None:
            self.info = fold_view(self.info, splits.fold)  # train/val/test = the fold's unions of shard groups
        elif self.info.folds:
            raise ValueError(f"{self.data_root} is prepared as {len(self.info.folds)} folds: set data.fold "
                             f"(0..{len(self.info.folds) - 1}), or run them all with cross_validate.py")
        self.train_splits = list(splits.train_splits)
        if clips.features == "logmel" and not (self.info.logmel or {}).get("splits"):
            raise ValueError(f"data.features='logmel': {self.data_root}/{STATS_FILE} lists no log-mel shards")
        self.epoch = SharedEpoch()
        self.handler = BadSampleHandler(loading.max_bad_samples)
        self.read_record = ReadRecord(loading.read_log) if loading.read_log else None
        self._shard_counts: dict[str, list[int] | None] = {}  # split -> samples per shard (eval loader lengths)

    # -- what models and callbacks read -------------------------------------------------------

    @property
    def classes(self) -> list[str]:
        return list(self.info.classes)

    @property
    def num_classes(self) -> int:
        return len(self.info.classes)

    @property
    def class_weights(self) -> list[float]:
        return list(self.info.class_weights)

    @property
    def sample_rate(self) -> int:
        return self.info.sample_rate

    @property
    def contract(self) -> InputContract:
        """What a model trained on these batches consumes (data_preparation/input_contract.py)."""
        c = self.clips
        return InputContract(
            sample_rate=self.info.sample_rate, clip_seconds=float(c.clip_seconds), padding=c.padding,
            eval_crop=c.eval_crop, features=c.features, logmel=self.info.logmel if c.features == "logmel" else None,
            class_names=tuple(self.info.classes), taxonomy=self.info.taxonomy, eval_seconds=c.eval_seconds,
        )

    @property
    def input_contract(self) -> dict[str, Any]:
        """The contract as plain values, linked into the model (``model.input_contract``) and so into every checkpoint."""
        return self.contract.to_dict()

    @property
    def clip_size(self) -> int:
        """Samples (waveform) or frames (log-mel) per batch row."""
        return self.contract.clip_size

    @property
    def bad_samples(self) -> int:
        """Corrupt samples skipped so far, over this rank's loader processes."""
        return self.handler.count.value

    @property
    def allow_incomplete(self) -> bool:
        return self.loading.allow_incomplete

    def split_samples(self, stage: str) -> tuple[str, int]:
        """(split name, samples stats.json lists) of what the ``"val"`` or ``"test"`` stage scores."""
        split = self.splits.val_split if stage == "val" else self.splits.test_split
        return split, self._split(split).num_samples

    def setup(self, stage: str) -> None:
        """Before any step runs: the splits this stage streams exist and every shard they list is there.

        ``fit`` checks the test split's shards too (when stats.json lists it), so a run does not
        train for hours and then stop at the test."""
        s = self.splits
        needed = {"fit": [*self.train_splits, s.val_split], "validate": [s.val_split],
                  "test": [s.test_split]}.get(stage, [])
        if stage == "fit" and s.test_split in self._splits():
            needed.append(s.test_split)
        require_shards(self.data_root, {split: self._split(split) for split in needed})

    # -- loaders ------------------------------------------------------------------------------

    def train_dataloader(self) -> EpochLoader:
        rank, world_size = self._world()
        urls = [url for split in self.train_splits for url in self._urls(split)]
        workers = max(self.loading.num_workers, 1)
        plan = self._plan(urls, world_size, workers)
        h = self.stream
        if h.resampled:
            source = [ResampledShardList(urls, self.epoch, h.seed, rank)]
        else:
            source = [ShardList(urls, self.epoch, h.seed, shuffle=True),
                      partial(split_by_rank, rank=rank, world_size=world_size), wds.split_by_worker]
        slots = self._slots(self.clip_size)
        stages = [*source, partial(tar_samples, handler=self.handler),
                  partial(seeded_shuffle, bufsize=h.shuffle_buffer, seed=h.seed, epoch=self.epoch, rank=rank),
                  *self._decode_and_batch("random", rank, partial_batches=False, slots=slots, size=self.clip_size)]
        dataset = wds.DataPipeline(*stages).with_epoch(plan.worker_batches)
        log.info("training epoch: %d batches per rank (%d samples over %d ranks)", plan.rank_batches, plan.samples, world_size)
        return EpochLoader(self._loader(dataset), self.epoch, self, plan.rank_batches, slots=slots)

    def val_dataloader(self) -> EpochLoader:
        return self._eval_loader(self.splits.val_split)

    def test_dataloader(self) -> EpochLoader:
        return self._eval_loader(self.splits.test_split)

    def split_loader(self, split: str) -> EpochLoader:
        """Every sample of any split once, as evaluation reads it (its crop, no shuffle): for passes
        over the data outside the stages, such as per-speaker statistics of the training split."""
        self._split(split)  # an unknown split is an error naming it, before any worker starts
        return self._eval_loader(split, stage=f"{split}:statistics")

    # -- pipeline parts -----------------------------------------------------------------------

    def _eval_loader(self, split: str, stage: str | None = None) -> EpochLoader:
        """Every sample of ``split`` exactly once over all ranks and workers.

        With at least as many shards as ranks, ranks take disjoint shards; with fewer, every rank
        reads every shard and keeps every world_size-th sample of each (more I/O, same guarantee).
        """
        rank, world_size = self._world()
        urls = self._urls(split)
        info = self._split(split)
        if info.num_samples < world_size:
            raise ValueError(f"split {split!r} has {info.num_samples} samples, fewer than the {world_size} ranks")
        source = [ShardList(urls, self.epoch, self.stream.seed, shuffle=False)]
        if len(urls) >= world_size:
            stages = [*source, partial(split_by_rank, rank=rank, world_size=world_size), wds.split_by_worker,
                      partial(tar_samples, handler=self.handler)]
        else:
            stages = [*source, wds.split_by_worker, partial(tar_samples, handler=self.handler),
                      partial(split_samples_by_rank, rank=rank, world_size=world_size)]
        size = self.contract.eval_clip_size
        slots = self._slots(size)
        stages += self._decode_and_batch(self.clips.eval_crop, rank, partial_batches=True, slots=slots, size=size)
        counts = self._shard_sample_counts(split)
        length = None if counts is None else rank_eval_batches(
            counts, rank, world_size, self.loading.num_workers, self.loading.batch_size)
        return EpochLoader(self._loader(wds.DataPipeline(*stages)), self.epoch, self, length, stage=stage or split,
                           slots=slots)

    def _shard_sample_counts(self, split: str) -> list[int] | None:
        """Samples per shard of ``split``, read once from local tar headers; None for remote shards
        (or a shard tarfile cannot parse: the stream's own handler reports it when it is read)."""
        if split not in self._shard_counts:
            counts = None
            if is_local(self.data_root):
                try:
                    counts = [shard_sample_count(local_path(url)) for url in self._urls(split)]
                except (OSError, tarfile.TarError) as error:
                    log.debug("split %r: no loader length (%s)", split, error)
            self._shard_counts[split] = counts
        return self._shard_counts[split]

    def _slots(self, size: int) -> BatchSlots:
        """Reused batch buffers for this loader's workers, or for the main process at 0 workers.

        At 0 workers nothing crosses a process, but a fresh 8 MB batch each step was faulted in
        (and zeroed by the kernel) page by page, as glibc hands big freed blocks back to the system."""
        row = (size,) if self.clips.features == "waveform" else (self.info.logmel["n_mels"], size)
        return BatchSlots(max(self.loading.num_workers, 1), self.loading.batch_size, row)

    def _decode_and_batch(self, crop: str, rank: int, partial_batches: bool, slots: BatchSlots | None,
                          size: int) -> list[Any]:
        """Decode, crop/pad to ``size`` (the training clip, or the evaluation rows of ``eval_seconds``), batch."""
        c = self.clips
        if c.features == "waveform":
            decode = DecodeWaveform(self.info.sample_rate, tuple(self.classes), self.info.codec, pcm16=True)
            signal, pad_value = "audio", 0.0
        else:
            decode, signal, pad_value = DecodeLogMel(self.info.logmel["n_mels"], tuple(self.classes)), "features", None
        crop_pad = CropPad(size, c.padding, crop, self.stream.seed, rank, self.epoch)
        collate = Collate(signal, size, c.padding, pad_value, slots)
        return [wds.map(decode, handler=self.handler), crop_pad,
                wds.batched(self.loading.batch_size, collation_fn=collate, partial=partial_batches)]

    def _loader(self, dataset: wds.DataPipeline) -> wds.WebLoader:
        h = self.loading
        return wds.WebLoader(
            dataset, batch_size=None, shuffle=False, num_workers=h.num_workers, collate_fn=as_batched,
            persistent_workers=h.persistent_workers and h.num_workers > 0,
            pin_memory=h.pin_memory and torch.cuda.is_available(),
        )

    def _plan(self, urls: list[str], world_size: int, workers: int) -> EpochPlan:
        h, batch_size = self.stream, self.loading.batch_size
        total = sum(self._split(split).num_samples for split in self.train_splits)
        if h.resampled:
            return plan_epoch(h.samples_per_epoch or total, batch_size, world_size, workers)
        if len(urls) < world_size * workers:
            raise ValueError(
                f"training splits {self.train_splits} have {len(urls)} shards, fewer than world_size={world_size} x "
                f"num_workers={workers}: some loaders would get none. Write more shards, lower data.num_workers, "
                "or set data.resampled=true"
            )
        per_shard = min(self._split(s).num_samples // len(self._split(s).shards) for s in self.train_splits)
        capacity = worker_capacity(len(urls), per_shard, world_size, workers)
        if h.samples_per_epoch is None:
            plan = plan_epoch(total, batch_size, world_size, workers, capacity)
            if plan.samples < 0.9 * total:
                log.warning(
                    "a training epoch covers %d of %d samples: %d shards do not split evenly over %d loaders "
                    "(world_size x num_workers), and no loader may repeat a shard. Write more, smaller shards "
                    "(a multiple of the loader count), or set data.samples_per_epoch", plan.samples, total,
                    len(urls), world_size * workers)
            return plan
        plan = plan_epoch(h.samples_per_epoch, batch_size, world_size, workers)
        if plan.worker_batches * batch_size > capacity:
            log.info("samples_per_epoch=%d exceeds one pass over each worker's shards: workers repeat their shards",
                     h.samples_per_epoch)
        return plan

    def _splits(self) -> dict[str, SplitInfo]:
        # __init__ already refused features='logmel' without log-mel shards
        return self.info.splits if self.clips.features == "waveform" else self.info.logmel["splits"]

    def _split(self, split: str) -> SplitInfo:
        splits = self._splits()
        if split not in splits or not splits[split].shards:
            raise ValueError(f"split {split!r} has no shards in {self.data_root}/{STATS_FILE} (has: {sorted(splits)})")
        return splits[split]

    def _urls(self, split: str) -> list[str]:
        require_shards(self.data_root, {split: self._split(split)})  # also when a loader is built without setup()
        return shard_urls(self.data_root, self._split(split))

    def _world(self) -> tuple[int, int]:
        """(rank, world size): from the trainer, else torch.distributed, else RANK/WORLD_SIZE, else (0, 1)."""
        if self.trainer is not None:
            return self.trainer.global_rank, self.trainer.world_size
        if dist.is_available() and dist.is_initialized():
            return dist.get_rank(), dist.get_world_size()
        return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def shard_data_module(
    data_root: str,
    batch_size: int = 16,
    num_workers: int = 2,
    clip_seconds: float = 4.0,
    padding: Literal["zero", "repeat"] = "zero",
    train_splits: Sequence[str] = ("train",),
    val_split: str = "val",
    test_split: str = "test",
    shuffle_buffer: int = 1000,
    features: Literal["waveform", "logmel"] = "waveform",
    samples_per_epoch: int | None = None,
    resampled: bool = False,
    seed: int = 0,
    eval_crop: Literal["center", "start"] = "center",
    persistent_workers: bool = False,
    pin_memory: bool = True,
    max_bad_samples: int = 100,
    fold: int | None = None,
    allow_incomplete: bool = False,
    read_log: str | None = None,
    eval_seconds: float | None = None,
) -> ShardDataModule:
    """Batches from the shards of a prepared dataset (data_preparation/shards/shard_format.py).

    The ``data:`` section of a training config, setting by setting (LightningCLI reads this signature):
    builds the four groups of datamodules/data_settings.py and the ShardDataModule over them.

    Args:
        data_root: folder of stats.json; a local path or any URL prefix WebDataset opens, including
            ``pipe:`` commands (``pipe:curl -s -L https://host/ds``); a shard's URL is
            ``data_root + "/" + its path in stats.json``, so the command must take the object's URL
            last and write it to stdout (curl, ``gsutil cat``, ``rclone cat``, ``aws s3 cp URL -`` does not fit).
        batch_size: per rank.
        num_workers: loader processes per rank; training needs at least world_size x num_workers shards
            unless ``resampled``.
        train_splits: splits streamed together for training (e.g. ``[train, train_aug]``).
        shuffle_buffer: samples held for shuffling in each training worker.
        samples_per_epoch: training epoch length over all ranks; default: every training sample once
            (rounded down to whole batches per worker so no sample repeats; see datamodules/epoch_plan.py).
        resampled: draw training shards with replacement (for sets much larger than an epoch).
        eval_crop: deterministic crop of long clips at evaluation.
        eval_seconds: evaluate on rows of this length (clips longer still cropped by ``eval_crop``),
            each scored as the mean probability over ``clip_seconds`` windows at half-window hops
            (lightning_modules/window_scores.py); null: one ``clip_seconds`` crop. Recorded in the
            input contract, so evaluate.py scores the same way.
        max_bad_samples: corrupt samples tolerated (counted, logged, skipped) per loader process.
        fold: for a dataset prepared with ``split.mode: folds``, the fold to train and test
            (data_preparation/split/fold_plan.py); its class weights come from that fold's training counts.
        allow_incomplete: accept a test score over fewer samples than stats.json lists (bad samples
            skipped); the report, the printed summary and W&B then say "scored N of M". Off: such a
            test stops the run with that message. Missing shards always stop the run.
        read_log: a folder where each rank appends the sample keys of every batch it loaded
            (``rank<R>.jsonl``, datamodules/read_record.py), to check what each rank really read.
    """
    return ShardDataModule(
        data_root,
        clips=ClipShape(clip_seconds=clip_seconds, padding=padding, eval_crop=eval_crop, features=features,
                        eval_seconds=eval_seconds),
        splits=SplitChoice(train_splits=tuple(train_splits), val_split=val_split, test_split=test_split, fold=fold),
        stream=TrainingStream(shuffle_buffer=shuffle_buffer, samples_per_epoch=samples_per_epoch,
                              resampled=resampled, seed=seed),
        loading=Loading(batch_size=batch_size, num_workers=num_workers, persistent_workers=persistent_workers,
                        pin_memory=pin_memory, max_bad_samples=max_bad_samples, allow_incomplete=allow_incomplete,
                        read_log=read_log),
    )
