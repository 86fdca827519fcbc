"""The WebDataset stages that ShardDataModule chains into a pipeline.

Every stage is a picklable module-level callable (DataLoader workers receive copies), takes the
sample iterator first and its settings after (as WebDataset's own ``filters``), and gets rank and
world size explicitly: inside a loader worker ``torch.distributed`` is not initialised, so asking it
there would silently make every rank read every shard.
"""
from __future__ import annotations

import io
import json
import logging
import math
import multiprocessing as mp
import random
from dataclasses import dataclass
from itertools import islice
from typing import Any, Iterable, Iterator, Literal

import numpy as np
import torch
import webdataset as wds
from torch.utils.data import IterableDataset, get_worker_info

from data_preparation.shards.audio_codec import DEFAULT_CODEC, PCM_SCALE, decode_pcm16, member_ext
from data_preparation.shards.shard_format import LOGMEL_EXT, META_EXT, SampleMeta, decode_audio
from datamodules.batch_slots import BatchSlots, SlotBatch

log = logging.getLogger(__name__)

Padding = Literal["zero", "repeat"]
Crop = Literal["random", "center", "start"]
Sample = dict[str, Any]
_PCM_STEP = np.float32(1.0 / PCM_SCALE)  # float32 = int16 * 2**-15, exact


def worker_slot() -> tuple[int, int]:
    """(worker id, number of workers) of the calling DataLoader worker; (0, 1) in the main process."""
    info = get_worker_info()
    return (0, 1) if info is None else (info.id, info.num_workers)


class SharedEpoch:
    """An epoch number shared between the main process and its (possibly persistent) loader workers.

    The main process sets it when an epoch's iteration starts; workers read it when they build
    their iterator, so the shard order and shuffle change every epoch, identically on all ranks.
    """

    def __init__(self, epoch: int = 0) -> None:
        self.value = mp.Value("i", epoch)

    def set(self, epoch: int) -> None:
        self.value.value = epoch

    def get(self) -> int:
        return self.value.value


class BadSampleHandler:
    """A WebDataset exception handler that counts, logs (rate-limited) and skips bad samples.

    A corrupt tar member or undecodable clip must not kill a long run, nor vanish unreported:
    each one is logged with its reason (the first ``log_first``, then every 100th), counted in a
    process-shared counter the datamodule reports, and once more than ``limit`` were seen in one
    process the error is re-raised, because then the data, not one file, is broken.
    """

    def __init__(self, limit: int, log_first: int = 10) -> None:
        self.limit = limit
        self.log_first = log_first
        self.count = mp.Value("i", 0)
        self.local = 0

    def __call__(self, error: Exception) -> bool:
        with self.count.get_lock():
            self.count.value += 1
            total = self.count.value
        self.local += 1
        if total <= self.log_first or total % 100 == 0:
            log.warning("skipped bad sample #%d: %s: %s", total, type(error).__name__, error)
        if self.local > self.limit:
            raise RuntimeError(f"more than {self.limit} bad samples in one loader process; last: {error!r}") from error
        return True

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "local": 0}


class ShardList(IterableDataset):
    """The pipeline's source: shard URLs as ``{"url": ...}``, reshuffled each epoch by ``seed + epoch``.

    All ranks compute the same order (same seed, same epoch), so that splitting it by rank
    afterwards partitions the shards.
    """

    def __init__(self, urls: list[str], epoch: SharedEpoch, seed: int, shuffle: bool) -> None:
        super().__init__()
        self.urls, self.epoch, self.seed, self.shuffle = list(urls), epoch, seed, shuffle

    def __iter__(self) -> Iterator[Sample]:
        urls = list(self.urls)
        if self.shuffle:
            random.Random(self.seed + self.epoch.get()).shuffle(urls)
        for url in urls:
            yield {"url": url}


class ResampledShardList(IterableDataset):
    """Endless shard URLs drawn with replacement, seeded by (seed, epoch, rank, worker).

    For training sets much larger than an epoch: each worker draws independently, so samples can
    repeat within an epoch; the epoch length comes from ``with_epoch`` alone.
    """

    def __init__(self, urls: list[str], epoch: SharedEpoch, seed: int, rank: int) -> None:
        super().__init__()
        self.urls, self.epoch, self.seed, self.rank = list(urls), epoch, seed, rank

    def __iter__(self) -> Iterator[Sample]:
        worker, _ = worker_slot()
        rng = random.Random(wds.utils.make_seed(self.seed, self.epoch.get(), self.rank, worker))
        while True:
            yield {"url": rng.choice(self.urls)}


def split_by_rank(src: Iterable[Sample], rank: int, world_size: int) -> Iterator[Sample]:
    """Every ``world_size``-th shard, starting at ``rank``: ranks get disjoint shard sets."""
    yield from islice(src, rank, None, world_size)


def split_samples_by_rank(src: Iterable[Sample], rank: int, world_size: int) -> Iterator[Sample]:
    """The samples at positions ``rank, rank + world_size, ...`` within each shard.

    For evaluation with fewer shards than ranks: every rank reads every shard (split among its
    own workers) and keeps its share of each, so every sample is still seen exactly once.
    """
    positions: dict[str, int] = {}
    for sample in src:
        url = sample["__url__"]
        position = positions.get(url, 0)
        positions[url] = position + 1
        if position % world_size == rank:
            yield sample


def seeded_shuffle(
    src: Iterable[Sample], bufsize: int, seed: int, epoch: SharedEpoch, rank: int
) -> Iterator[Sample]:
    """A shuffle buffer whose order is reproducible from (seed, epoch, rank, worker)."""
    worker, _ = worker_slot()
    rng = random.Random(wds.utils.make_seed(seed, epoch.get(), rank, worker, 1))
    yield from wds.shuffle(bufsize=bufsize, initial=min(bufsize, 100), rng=rng)(src)


def _meta(sample: Sample, classes: tuple[str, ...]) -> SampleMeta:
    """The sample's metadata, its ``label`` and ``label_id`` checked against stats.json's classes.

    A name that is not the id's class would otherwise train as the id's class without a word. The
    sample's name for an error message is only made when there is one: every clip passes here."""
    if META_EXT not in sample:
        raise ValueError(f"{_where(sample)}: no .{META_EXT} metadata")
    try:
        meta = SampleMeta(**json.loads(bytes(sample[META_EXT])))  # a local shard's member is a memoryview
    except (ValueError, TypeError) as error:
        raise ValueError(f"{_where(sample)}: bad .{META_EXT} metadata: {error}") from error
    label_id = meta.label_id
    if not isinstance(label_id, int) or not 0 <= label_id < len(classes):
        raise ValueError(f"{_where(sample)}: label_id {label_id!r} outside the {len(classes)} classes of stats.json")
    if meta.label != classes[label_id]:
        raise ValueError(f"{_where(sample)}: label {meta.label!r} does not match label_id {label_id}, which is "
                         f"{classes[label_id]!r} in stats.json's classes {list(classes)}")
    return meta


def _where(sample: Sample) -> str:
    """A sample's name in error messages: its key and shard."""
    return f"{sample['__key__']} in {sample.get('__url__')}"


@dataclass
class DecodeWaveform:
    """Raw tar sample -> {"signal": float32 ndarray [T], "meta": SampleMeta}; rejects a wrong sample rate.

    ``codec`` is stats.json's (data_preparation/shards/audio_codec.py): it names the member to read and
    how to decode it. With ``pcm16`` a wav or raw clip stays int16 (a view of its member, which for
    a local shard is a view of the mapped file): Collate converts it to float32 while writing it
    into the batch, so each clip is
    converted and copied once. Samples stay numpy until collation: single-threaded numpy beats
    torch's per-op thread pool on small per-clip arrays when the loop runs in the training process."""

    sample_rate: int
    classes: tuple[str, ...]  # stats.json's classes, in label_id order
    codec: str = DEFAULT_CODEC
    pcm16: bool = False  # int16 signal for wav/raw (FLAC decodes straight to float32 either way)

    def __call__(self, sample: Sample) -> Sample:
        ext = member_ext(self.codec)
        if ext not in sample:
            raise ValueError(f"{_where(sample)}: no .{ext} audio (stats.json codec {self.codec!r})")
        try:
            if self.pcm16 and self.codec != "flac":
                wave, rate = decode_pcm16(sample[ext], self.codec, self.sample_rate)
            else:
                wave, rate = decode_audio(sample[ext], self.codec, self.sample_rate)
        except Exception as error:  # libsndfile raises its own types; name the sample either way
            raise ValueError(f"{_where(sample)}: undecodable .{ext}: {error}") from error
        if rate != self.sample_rate:
            raise ValueError(f"{_where(sample)}: sample rate {rate}, stats.json says {self.sample_rate}")
        if wave.size == 0:
            raise ValueError(f"{_where(sample)}: empty audio")
        return {"signal": wave, "meta": _meta(sample, self.classes)}


@dataclass
class DecodeLogMel:
    """Raw tar sample -> {"signal": float32 ndarray [n_mels, frames], "meta": SampleMeta}."""

    n_mels: int
    classes: tuple[str, ...]  # stats.json's classes, in label_id order

    def __call__(self, sample: Sample) -> Sample:
        if LOGMEL_EXT not in sample:
            raise ValueError(f"{_where(sample)}: no .{LOGMEL_EXT} log-mel")
        try:
            mel = np.load(io.BytesIO(sample[LOGMEL_EXT]), allow_pickle=False)
        except ValueError as error:
            raise ValueError(f"{_where(sample)}: undecodable .{LOGMEL_EXT}: {error}") from error
        if mel.ndim != 2 or mel.shape[0] != self.n_mels or mel.shape[1] == 0:
            raise ValueError(f"{_where(sample)}: log-mel shape {mel.shape}, expected [{self.n_mels}, frames>0]")
        return {"signal": mel.astype(np.float32), "meta": _meta(sample, self.classes)}


@dataclass
class CropPad:
    """Crop the last axis of ``signal`` to ``size`` and set ``length`` (valid positions); Collate pads.

    ``crop="random"`` (training) takes a random offset seeded by (seed, epoch, rank, worker);
    ``"center"`` (the evaluation default) and ``"start"`` are deterministic, so every run scores
    the same audio. A crop is a view, and a short clip is passed on as it is: Collate writes every
    row once into the batch and pads it there (``padding`` and ``pad_value`` are Collate's), so no
    clip is copied twice. Zero padding: ``length`` is the true length. Repetitive padding tiles the
    clip, every position is real signal, and ``length`` is ``size``: a model then pools over the
    whole (periodic) clip, which is what seed 000 trained on; masking only the first copy would throw
    away the point of tiling.
    """

    size: int
    padding: Padding
    crop: Crop
    seed: int = 0
    rank: int = 0
    epoch: SharedEpoch | None = None

    def __call__(self, src: Iterable[Sample]) -> Iterator[Sample]:
        worker, _ = worker_slot()
        epoch = 0 if self.epoch is None else self.epoch.get()
        rng = random.Random(wds.utils.make_seed(self.seed, epoch, self.rank, worker, 2))
        for sample in src:
            yield self.fit(sample, rng)

    def fit(self, sample: Sample, rng: random.Random) -> Sample:
        """The sample with its cropped ``signal`` and ``length``, set in place: the decode stage made the dict."""
        signal, _ = crop_clip(sample["signal"], self.size, self.crop, rng)
        total = signal.shape[-1]
        sample["signal"], sample["length"] = signal, total if total >= self.size or self.padding == "zero" else self.size
        return sample


def crop_clip(signal: np.ndarray, size: int | None, crop: str, rng: random.Random | None = None) -> tuple[np.ndarray, int]:
    """The last axis cut to ``size`` when longer (None: never), and the start offset taken.

    ``random`` draws the offset from ``rng``; ``center`` and ``start`` are deterministic, so the
    datamodule's evaluation loaders and evaluate.py cut the same audio.

    >>> crop_clip(np.arange(5), 2, "center")
    (array([1, 2]), 1)
    """
    if size is None or signal.shape[-1] < size:
        return signal, 0
    excess = signal.shape[-1] - size  # 0 still draws from rng, as training always has
    start = rng.randint(0, excess) if crop == "random" else excess // 2 if crop == "center" else 0
    return signal[..., start:start + size], start


def pad_clip(signal: np.ndarray, size: int | None, padding: str, pad_value: float | None = 0.0) -> tuple[np.ndarray, int]:
    """The last axis padded to ``size`` when shorter (None: never), and the valid length the model sees.

    ``zero`` fills with ``pad_value`` (None: the clip's own minimum) and keeps the true length;
    ``repeat`` tiles the clip and the whole ``size`` is valid (see CropPad).

    >>> pad_clip(np.array([1.0, 2.0]), 5, "repeat")
    (array([1., 2., 1., 2., 1.]), 5)
    """
    total = signal.shape[-1]
    if size is None or total >= size:
        return signal, total
    padded = np.empty((*signal.shape[:-1], size), dtype=np.float32 if signal.dtype == np.int16 else signal.dtype)
    pad_into(padded, signal, padding, pad_value)  # the batches' own padding, so both agree exactly
    return padded, size if padding == "repeat" else total


def pad_into(row: np.ndarray, signal: np.ndarray, padding: Padding, pad_value: float | None) -> None:
    """Write ``signal`` (last axis <= the row's) into ``row``, padded by zeros/``pad_value`` or by tiling.

    An int16 signal (DecodeWaveform ``pcm16``) is converted on the way: float = int16 / 32768.

    >>> row = np.empty(5, np.float32); pad_into(row, np.array([1.0, 2.0]), "repeat", 0.0); row.tolist()
    [1.0, 2.0, 1.0, 2.0, 1.0]
    """
    total, size = signal.shape[-1], row.shape[-1]
    head = row[..., :total]
    head[...] = signal
    if signal.dtype == np.int16:  # cast, then scale in place: one streaming pass over the cold source, and
        np.multiply(head, _PCM_STEP, out=head)  # about 1.5x faster than multiply's buffered cast
    if total == size:
        return
    if padding == "repeat":  # position i holds signal[i mod total]: double the filled part until full
        filled = total
        while filled < size:
            step = min(filled, size - filled)
            row[..., filled:filled + step] = row[..., :step]
            filled += step
    else:
        row[..., total:] = float(row[..., :total].min()) if pad_value is None else pad_value


def batch_tensor(shape: tuple[int, ...]) -> torch.Tensor:
    """An uninitialised float32 tensor; in a loader worker, in shared memory from the start.

    In the main process the memory is numpy's (``torch.from_numpy``): numpy's allocator hands the
    last batch's freed block back, while ``torch.empty`` of a batch this size maps fresh pages every
    time (3-5 page faults and 30-50 us per 4 s clip, docs/performance.md). A worker hands its
    batches to the training process through shared memory; a tensor that is not there yet is copied
    into it when sent. Allocating it there, as torch's own ``default_collate`` does in workers,
    saves that copy (and BatchSlots, when the datamodule gives Collate one, saves the allocation).
    """
    if get_worker_info() is None:
        return torch.from_numpy(np.empty(shape, dtype=np.float32))
    elem = torch.empty(0, dtype=torch.float32)
    storage = elem._typed_storage()._new_shared(math.prod(shape), device=elem.device)
    return elem.new(storage).resize_(*shape)


@dataclass
class Collate:
    """A list of cropped samples -> the batch dict every LightningModule receives.

    ``{"audio" | "features": float32 [B, T] | [B, n_mels, frames], "lengths": int64 [B],
    "label": int64 [B], "key", "corpus", "speaker": list[str]}``. Rows are written straight into
    one batch tensor and padded there (``pad_into``): one copy per clip, one allocation per batch.
    With ``slots`` (datamodules/batch_slots.py) the rows go into a free reused slot instead: a
    loader worker sends a SlotBatch that the datamodule's loader turns back into this dict, the
    main process (0 workers) returns the dict, its tensors views of the slot. With no free slot,
    the batch is allocated as without.
    """

    signal_name: str = "audio"
    size: int | None = None  # the padded length; None: the longest signal of the batch
    padding: Padding = "zero"
    pad_value: float | None = 0.0  # None: each clip's own minimum (log-mel silence floor)
    slots: BatchSlots | None = None  # reusable batch buffers (loader workers', or the main process's)

    def __call__(self, samples: list[Sample]) -> dict[str, Any] | SlotBatch:
        signals = [sample["signal"] for sample in samples]
        size = self.size or max(signal.shape[-1] for signal in signals)
        metas = [sample["meta"] for sample in samples]
        fields = {"key": [meta.key for meta in metas], "corpus": [meta.corpus for meta in metas],
                  "speaker": [meta.speaker for meta in metas]}
        index = self._slot(signals, size)
        if index is not None:
            in_worker = get_worker_info() is not None
            # in the main process the slot is received before it is filled: a fill that raises frees it again
            slot = self.slots.slot(index) if in_worker else self.slots.receive(index)
            batch, lengths, labels = self.slots.views(slot, len(signals))
            self._fill(batch, signals, samples, lengths, labels)
            sent = SlotBatch(self.slots, index, len(signals), self.signal_name, fields)
            if in_worker:
                return sent
            sent.held = slot  # 0 workers: nothing to pickle, the batch's tensors are views of the slot
            return sent.batch()
        batch = batch_tensor((len(signals), *signals[0].shape[:-1], size))
        lengths, labels = torch.empty(len(signals), dtype=torch.int64), torch.empty(len(signals), dtype=torch.int64)
        self._fill(batch.numpy(), signals, samples, lengths.numpy(), labels.numpy())
        return {self.signal_name: batch, "lengths": lengths, "label": labels, **fields}

    def _slot(self, signals: list[np.ndarray], size: int) -> int | None:
        """A free slot of this worker's (of the main process's at 0 workers) when the batch fits the pool's shape."""
        if self.slots is None or len(signals) > self.slots.rows:
            return None
        if (*signals[0].shape[:-1], size) != self.slots.row_shape:
            return None
        return self.slots.acquire(worker_slot()[0])

    def _fill(self, batch: np.ndarray, signals: list[np.ndarray], samples: list[Sample], lengths: np.ndarray,
              labels: np.ndarray) -> None:
        for row, signal in zip(batch, signals):
            pad_into(row, signal, self.padding, self.pad_value)
        lengths[:] = [sample["length"] for sample in samples]
        labels[:] = [sample["meta"].label_id for sample in samples]
