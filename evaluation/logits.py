"""Stream one split of prepared shards through one or more predictors and keep their logits.

Decoding happens once per sample however many predictors there are, so collecting the logits of
every base model of an ensemble costs one pass over the data. Order is the shards' order (no
shuffling), every sample is seen exactly once, and a sample that cannot be read is counted with its
key and reason instead of stopping the run.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import numpy as np

from data_preparation.shard_format import DatasetInfo, SampleMeta, load_dataset_info, shard_urls
from datamodules.pipeline_stages import DecodeWaveform
from evaluation.taxonomy import ClassMapping, resolve_class_mapping
from prediction.predictor import Predictor
from prediction.segments import pad_batch


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

    def save(self, path: str | Path) -> Path:
        """One .npz holding everything, so an ensemble can be refitted without re-running the models."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        extra = {"class_names": self.class_names, "keys": self.keys, "corpora": self.corpora,
                 "skipped": self.skipped, "excluded": self.excluded, "names": list(self.logits)}
        arrays = {f"logits_{i}": value for i, value in enumerate(self.logits.values())}
        np.savez_compressed(path, labels=self.labels, meta=np.array(json.dumps(extra)), **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "SplitLogits":
        with np.load(path) as data:
            extra = json.loads(str(data["meta"]))
            logits = {name: data[f"logits_{i}"] for i, name in enumerate(extra["names"])}
            return cls(extra["class_names"], extra["keys"], data["labels"], extra["corpora"], logits,
                       extra["skipped"], extra["excluded"])


class _CountingHandler:
    """WebDataset handler: a broken tar member is recorded and skipped, never fatal."""

    def __init__(self, skipped: list[dict[str, str]]) -> None:
        self.skipped = skipped

    def __call__(self, error: Exception) -> bool:
        self.skipped.append({"key": "?", "reason": f"{type(error).__name__}: {error}"})
        return True


def _samples(urls: Sequence[str], skipped: list[dict[str, str]], max_seconds: float | None,
             info: DatasetInfo) -> Iterator[tuple[str, np.ndarray, SampleMeta]]:
    """Decoded, validated samples in shard order; the datamodule's decode stage decides what is valid."""
    import webdataset as wds

    decode = DecodeWaveform(info.sample_rate, len(info.classes), info.codec)
    dataset = wds.WebDataset(list(urls), shardshuffle=False, handler=_CountingHandler(skipped), empty_check=False)
    for sample in dataset:
        key = sample.get("__key__", "?")
        try:
            decoded = decode(sample)
        except ValueError as error:
            skipped.append({"key": key, "reason": f"{type(error).__name__}: {error}"})
            continue
        wave = decoded["signal"]
        if max_seconds is not None:
            wave = wave[: int(max_seconds * info.sample_rate)]
        yield key, wave, decoded["meta"]


def split_urls(info: DatasetInfo, data_root: str, split: str) -> list[str]:
    if split not in info.splits:
        raise ValueError(f"split {split!r} is not in {data_root}/stats.json; it has {sorted(info.splits)}")
    return shard_urls(data_root, info.splits[split])


def collect_logits(
    predictors: Mapping[str, Predictor], data_root: str | Path, split: str = "test", batch_size: int = 16,
    max_seconds: float | None = None, class_mapping: Mapping[str, str | None] | None = None,
    pad_to_seconds: float | None = None,
) -> SplitLogits:
    """Run every predictor over ``split`` of the prepared dataset at ``data_root``.

    Each predictor's classes are checked against the data's (evaluation.taxonomy): a mismatch
    without ``class_mapping`` raises TaxonomyMismatchError naming the differing classes.
    ``max_seconds`` crops clips to their first seconds (as training may have); None keeps them whole.
    ``pad_to_seconds`` zero-pads every clip to at least that length (true lengths passed), as the
    datamodule pads to ``clip_seconds``: a network that is not invariant to padding is then scored
    as it was trained, and independently of which clips share a batch. None pads to the batch's longest.
    """
    data_root = str(data_root)
    info = load_dataset_info(data_root)
    where = f"{data_root} (taxonomy {info.taxonomy or 'unnamed'})"
    mappings: dict[str, ClassMapping] = {
        name: resolve_class_mapping(p.class_names, info.classes, class_mapping, where) for name, p in predictors.items()
    }
    unreachable = set().union(*(m.unreachable for m in mappings.values())) if mappings else set()
    result = SplitLogits(list(info.classes), [], np.zeros(0, np.int64), [], {n: [] for n in predictors})
    labels: list[int] = []
    min_samples = round(pad_to_seconds * info.sample_rate) if pad_to_seconds else 0
    batch: list[tuple[str, np.ndarray, SampleMeta]] = []

    def flush() -> None:
        audio, lengths = pad_batch([wave for _, wave, _ in batch], min_samples)
        for name, predictor in predictors.items():
            result.logits[name].append(mappings[name].apply(predictor.predict_logits(audio, lengths)).numpy())
        for key, _, meta in batch:
            result.keys.append(key)
            result.corpora.append(meta.corpus)
            labels.append(info.classes.index(meta.label))
        batch.clear()

    for key, wave, meta in _samples(split_urls(info, data_root, split), result.skipped, max_seconds, info):
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
