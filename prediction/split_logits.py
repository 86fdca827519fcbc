"""Stream one split of prepared shards through one or more predictors and keep their logits.

Decoding happens once per sample however many predictors there are, so collecting the logits of
every base model of an ensemble costs one pass over the data. Order is the shards' order (no
shuffling), every sample is seen exactly once, and a sample that cannot be read is counted with its
key and reason instead of stopping the run; a shard that is missing stops it, naming every one
(datamodules/shard_check.py). ``expected`` is the split's size in stats.json, so callers can tell
a complete score from one over fewer samples (evaluation/coverage.py). Each predictor's clips are
cropped and padded by its checkpoint's input contract (data_preparation/input_contract.py), as
train.py's test loop did, and a model trained with per-speaker normalisation normalises each clip
by its speaker's statistics over the split, as train.py's test step did (prediction/split_speakers.py).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import numpy as np

import torch

from data_preparation.input_contract import ClipPlan, InputOverrides, check_data_matches
from data_preparation.shards.shard_format import DatasetInfo, SampleMeta, load_dataset_info, shard_urls
from data_preparation.split.fold_plan import fold_view
from datamodules.pipeline_stages import DecodeLogMel, DecodeWaveform, crop_clip, pad_clip
from datamodules.shard_check import require_shards, tarfile_to_samples
from evaluation.taxonomy import ClassMapping, resolve_class_mapping
from prediction.protocol import Predictor
from prediction.split_speakers import SplitSpeakers, batch_speakers, check_speaker_stats, speaker_normalising


@dataclass
class SplitLogits:
    """Logits of each predictor over the data's classes, aligned with keys/labels/corpora."""

    class_names: list[str]  # the data's classes; logits columns follow them
    keys: list[str]
    labels: np.ndarray  # int64 [N], indices into class_names
    corpora: list[str]
    logits: dict[str, np.ndarray]  # predictor name -> float32 [N, C]
    skipped: list[dict[str, str]] = field(default_factory=list)  # {"key", "reason"}
    excluded: dict[str, int] = field(default_factory=dict)  # unreachable data class -> samples left out
    expected: int | None = None  # samples the split holds according to stats.json

    def save(self, path: str | Path) -> Path:
        """One .npz holding everything, so an ensemble can be refitted without re-running the models."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        extra = {"class_names": self.class_names, "keys": self.keys, "corpora": self.corpora,
                 "skipped": self.skipped, "excluded": self.excluded, "names": list(self.logits),
                 "expected": self.expected}
        arrays = {f"logits_{i}": value for i, value in enumerate(self.logits.values())}
        np.savez_compressed(path, labels=self.labels, meta=np.array(json.dumps(extra)), **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "SplitLogits":
        with np.load(path) as data:
            extra = json.loads(str(data["meta"]))
            logits = {name: data[f"logits_{i}"] for i, name in enumerate(extra["names"])}
            return cls(extra["class_names"], extra["keys"], data["labels"], extra["corpora"], logits,
                       extra["skipped"], extra["excluded"], extra.get("expected"))


class _CountingHandler:
    """WebDataset handler: a broken tar member is recorded and skipped, never fatal."""

    def __init__(self, skipped: list[dict[str, str]]) -> None:
        self.skipped = skipped

    def __call__(self, error: Exception) -> bool:
        self.skipped.append({"key": "?", "reason": f"{type(error).__name__}: {error}"})
        return True


def _samples(urls: Sequence[str], skipped: list[dict[str, str]],
             decode: DecodeWaveform | DecodeLogMel) -> Iterator[tuple[str, np.ndarray, SampleMeta]]:
    """Decoded, validated samples in shard order; the datamodule's decode stage decides what is valid."""
    import webdataset as wds

    dataset = wds.DataPipeline(wds.SimpleShardList(list(urls)), tarfile_to_samples(handler=_CountingHandler(skipped)))
    for sample in dataset:
        key = sample.get("__key__", "?")
        try:
            decoded = decode(sample)
        except ValueError as error:
            skipped.append({"key": key, "reason": f"{type(error).__name__}: {error}"})
            continue
        yield key, decoded["signal"], decoded["meta"]


def split_urls(info: DatasetInfo, data_root: str, split: str, features: str = "waveform") -> list[str]:
    """The shard URLs of ``split``: waveform shards, or the log-mel shards for log-mel models."""
    splits = info.splits if features == "waveform" else (info.logmel or {}).get("splits", {})
    kind = "" if features == "waveform" else "log-mel "
    if split not in splits:
        raise ValueError(f"split {split!r} is not in {data_root}/stats.json's {kind}shards; it has {sorted(splits)}")
    require_shards(data_root, {split: splits[split]})
    return shard_urls(data_root, splits[split])


def clip_plans(predictors: Mapping[str, Predictor], info: DatasetInfo, overrides: InputOverrides,
               where: str) -> dict[str, ClipPlan]:
    """Each predictor's clip plan from its input contract and the overrides; all must read the same shards."""
    plans = {}
    for name, predictor in predictors.items():
        contract = predictor.input_contract
        if contract is not None:
            if contract.sample_rate != info.sample_rate:
                raise ValueError(f"{name} was trained on {contract.sample_rate} Hz audio, {where} is {info.sample_rate} Hz")
            check_data_matches(contract, info.logmel, where)
        plans[name] = overrides.plan(contract, info.sample_rate)
    kinds = {plan.features for plan in plans.values()}
    if len(kinds) > 1:
        raise ValueError(f"the models were trained on different features ({sorted(kinds)}): evaluate them separately")
    return plans


def _stack(clips: Sequence[tuple[np.ndarray, int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Fitted clips [.., T_i] and their valid lengths -> a batch padded on the last axis, and lengths [B]."""
    width = max(signal.shape[-1] for signal, _ in clips)
    batch = np.zeros((len(clips), *clips[0][0].shape[:-1], width), dtype=np.float32)
    for row, (signal, _) in enumerate(clips):
        batch[row, ..., : signal.shape[-1]] = signal
    return torch.from_numpy(batch), torch.tensor([length for _, length in clips], dtype=torch.int64)


def model_inputs(signals: Sequence[np.ndarray], plan: ClipPlan) -> tuple[torch.Tensor, torch.Tensor]:
    """Crop and pad each clip as the model's datamodule did at evaluation (its input contract), then batch."""
    pad_value = 0.0 if plan.features == "waveform" else None  # log-mel: the clip's floor, as the datamodule
    clips = [pad_clip(crop_clip(signal, plan.crop_size, plan.crop)[0], plan.pad_size, plan.padding, pad_value)
             for signal in signals]
    return _stack(clips)


def split_speakers(predictors: Mapping[str, Predictor], plans: Mapping[str, ClipPlan], urls: Sequence[str],
                   decode: DecodeWaveform | DecodeLogMel, batch_size: int) -> dict[str, SplitSpeakers]:
    """The statistics pass: each speaker-normalising predictor's per-speaker statistics over the split."""
    passes = {name: SplitSpeakers(models) for name, predictor in predictors.items()
              if (models := speaker_normalising(predictor))}
    chunk: list[tuple[np.ndarray, SampleMeta]] = []

    def add() -> None:
        speakers = batch_speakers(meta for _, meta in chunk)
        for name, statistics in passes.items():
            statistics.add(model_inputs([signal for signal, _ in chunk], plans[name]), speakers, plans[name].features)
        chunk.clear()

    if passes:
        for _, signal, meta in _samples(urls, [], decode):  # unreadable samples are counted by the scoring pass
            chunk.append((signal, meta))
            if len(chunk) == batch_size:
                add()
        if chunk:
            add()
    return {name: statistics.finish() for name, statistics in passes.items()}


def collect_logits(
    predictors: Mapping[str, Predictor], data_root: str | Path, split: str = "test", batch_size: int = 16,
    overrides: InputOverrides | None = None, class_mapping: Mapping[str, str | None] | None = None,
    speaker_stats: str = "split", fold: int | None = None,
) -> SplitLogits:
    """Run every predictor over ``split`` of the prepared dataset at ``data_root``.

    Each predictor's classes are checked against the data's (evaluation.taxonomy): a mismatch
    without ``class_mapping`` raises TaxonomyMismatchError naming the differing classes.
    Clips are shaped by each predictor's input contract (the checkpoint's clip length, padding,
    crop and features), exactly as train.py's test loop shaped them, so the scores are the ones
    train.py reported; ``overrides`` departs from it explicitly. A predictor without a contract
    gets whole clips, zero-padded to the batch's longest, unless overridden. ``speaker_stats``:
    "split" normalises a speaker-normalising model's clips by their speaker's statistics over the
    split (train.py's test step), "population" by the training population's (an unknown speaker).
    ``fold``: of a dataset prepared as folds, the fold whose train/val/test ``split`` names.
    """
    check_speaker_stats(speaker_stats)
    data_root = str(data_root)
    info = load_dataset_info(data_root)
    if fold is not None:
        info = fold_view(info, fold)  # train/val/test = the fold's unions of shard groups, as train.py read them
    elif info.folds and split not in info.splits:
        raise ValueError(f"{data_root} is prepared as {len(info.folds)} folds: pass --fold (0..{len(info.folds) - 1}) "
                         f"to score that fold's {split!r}")
    where = f"{data_root} (taxonomy {info.taxonomy or 'unnamed'})"
    mappings: dict[str, ClassMapping] = {
        name: resolve_class_mapping(p.class_names, info.classes, class_mapping, where) for name, p in predictors.items()
    }
    plans = clip_plans(predictors, info, overrides or InputOverrides(), where)
    features = next(iter(plans.values())).features if plans else "waveform"
    decode = (DecodeWaveform(info.sample_rate, tuple(info.classes), info.codec) if features == "waveform"
              else DecodeLogMel(int(info.logmel["n_mels"]), tuple(info.classes)))
    urls = split_urls(info, data_root, split, features)
    speakers = split_speakers(predictors, plans, urls, decode, batch_size) if speaker_stats == "split" else {}
    unreachable = set().union(*(m.unreachable for m in mappings.values())) if mappings else set()
    result = SplitLogits(list(info.classes), [], np.zeros(0, np.int64), [], {n: [] for n in predictors},
                         expected=info.splits[split].num_samples if split in info.splits else None)
    labels: list[int] = []
    batch: list[tuple[str, np.ndarray, SampleMeta]] = []

    def flush() -> None:
        for name, predictor in predictors.items():
            if name in speakers:
                speakers[name].select(batch_speakers(meta for _, _, meta in batch))
            inputs = model_inputs([signal for _, signal, _ in batch], plans[name])
            logits = predictor.predict_logits(*inputs) if features == "waveform" else predictor.predict_features(*inputs)
            result.logits[name].append(mappings[name].apply(logits).numpy())
            if name in speakers:
                speakers[name].clear()
        for key, _, meta in batch:
            result.keys.append(key)
            result.corpora.append(meta.corpus)
            labels.append(info.classes.index(meta.label))
        batch.clear()

    for key, wave, meta in _samples(urls, result.skipped, decode):
        label = meta.label
        if label not in info.classes:
            result.skipped.append({"key": key, "reason": f"label {label!r} is not a class of stats.json"})
            continue
        if label in unreachable:
            result.excluded[label] = result.excluded.get(label, 0) + 1
            continue
        batch.append((key, wave, meta))
        if len(batch) == batch_size:
            flush()
    if batch:
        flush()
    if not result.keys:
        raise ValueError(f"no usable sample in split {split!r} of {data_root}; skipped: {result.skipped[:5]}")
    result.labels = np.asarray(labels, dtype=np.int64)
    result.logits = {name: np.concatenate(parts).astype(np.float32) for name, parts in result.logits.items()}
    return result
