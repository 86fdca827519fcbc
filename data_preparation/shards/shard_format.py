"""The on-disk contract between data preparation and training.

A prepared dataset is a folder (local path or any URL prefix WebDataset opens) holding::

    stats.json                    # DatasetInfo below: classes, class weights, splits, counts
    manifest.csv                  # every input file with its fate (split, or why it was dropped)
    plots/*.png                   # class and duration distributions
    shards/{split}-{index:06d}.tar        # split in train, val, test, train_aug
    logmel/{split}-{index:06d}.tar        # optional precomputed log-mel shards

A waveform sample in a tar is ``{key}.{ext}`` (16 kHz mono 16-bit audio in the dataset's codec,
stats.json ``codec``: ``.flac`` by default, ``.wav`` or raw int16 ``.s16``; see
data_preparation/shards/audio_codec.py) plus ``{key}.json`` (SampleMeta). A log-mel sample is
``{key}.npy`` (float16, [n_mels, frames]) plus ``{key}.json``.
Shard paths in stats.json are relative to the folder of stats.json, and are checked when it is
read (``check_shard_path``): relative, inside the dataset, letters, digits and ``._-/`` only. With a
``pipe:`` data_root the path becomes part of a shell command, so a stats.json from someone else must
not be able to smuggle ``; rm -rf ~`` into it.
"""
from __future__ import annotations

import json
import re
import shlex
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from data_preparation.shards import audio_codec

SAMPLE_RATE = 16_000
FORMAT_VERSION = 1
STATS_FILE = "stats.json"
MANIFEST_FILE = "manifest.csv"
AUDIO_EXT = "flac"  # the member extension of the default codec; DatasetInfo.audio_ext is the dataset's
META_EXT = "json"
LOGMEL_EXT = "npy"
SPLITS = ("train", "val", "test")
PIPE_PREFIX = "pipe:"
# "/"-separated parts of letters, digits and "._-", none starting with "." or "-" (no "..", no options)
SAFE_SHARD_PATH = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*(/[A-Za-z0-9_][A-Za-z0-9._-]*)*")


class ShardPathError(ValueError):
    """A shard path in stats.json that could escape the dataset folder or a ``pipe:`` command."""


def check_shard_path(path: object, where: str = STATS_FILE) -> str:
    """``path`` if it is a safe relative shard path, else ShardPathError naming it.

    >>> check_shard_path("shards/test-000000.tar")
    'shards/test-000000.tar'
    >>> check_shard_path("shards/test-000000.tar; touch X; #")
    Traceback (most recent call last):
    ...
    data_preparation.shards.shard_format.ShardPathError: stats.json: shard path 'shards/test-000000.tar; touch X; #' is not a relative path of letters, digits and ._-/ inside the dataset folder
    """
    if not isinstance(path, str) or len(path) > 255 or not SAFE_SHARD_PATH.fullmatch(path):
        raise ShardPathError(f"{where}: shard path {path!r} is not a relative path of letters, digits and ._-/ "
                             "inside the dataset folder")
    return path


def shard_name(split: str, index: int, folder: str = "shards") -> str:
    return f"{folder}/{split}-{index:06d}.tar"


def encode_audio(wave: np.ndarray, sample_rate: int = SAMPLE_RATE, codec: str = audio_codec.DEFAULT_CODEC) -> bytes:
    """``codec`` bytes of a mono float waveform in [-1, 1]; deterministic, so re-runs give identical shards."""
    return audio_codec.encode(wave, sample_rate, codec)


def decode_audio(data: bytes, codec: str = audio_codec.DEFAULT_CODEC, sample_rate: int = SAMPLE_RATE) -> tuple[np.ndarray, int]:
    """float32 mono waveform and its sample rate from ``codec`` bytes (raw int16 is taken to be at ``sample_rate``)."""
    return audio_codec.decode(data, codec, sample_rate)


@dataclass(slots=True)
class SampleMeta:
    """The JSON stored beside each sample's audio (slots: preparation holds one per clip until its shard is written)."""

    key: str
    label: str  # canonical emotion name
    label_id: int  # index into DatasetInfo.classes
    corpus: str
    speaker: str
    native_label: str
    source: str  # input path, relative to its corpus root
    duration: float  # seconds, after resampling/cropping
    augmentation: str | None = None  # e.g. "gaussian_noise" for offline-augmented copies
    attributes: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()


@dataclass
class SplitInfo:
    shards: list[str]
    num_samples: int
    per_class: dict[str, int] = field(default_factory=dict)
    per_corpus: dict[str, int] = field(default_factory=dict)
    duration: dict[str, float] = field(default_factory=dict)  # total, mean, min, max (s)


@dataclass
class DatasetInfo:
    """stats.json: what a datamodule needs to stream a prepared dataset."""

    classes: list[str]
    class_weights: list[float]  # from train counts: n / (num_classes * count), for weighted CE
    splits: dict[str, SplitInfo]
    taxonomy: str = ""
    sample_rate: int = SAMPLE_RATE
    format_version: int = FORMAT_VERSION
    codec: str = audio_codec.DEFAULT_CODEC  # shard audio codec; datasets from before codecs are FLAC
    logmel: dict[str, Any] | None = None  # {"n_mels", "hop_length", "n_fft", "frames", "splits": {name: SplitInfo}}
    folds: list[dict[str, Any]] | None = None  # split.mode=folds: per fold its train/val/test shard groups (data_preparation/split/fold_plan.py)
    extra: dict[str, Any] = field(default_factory=dict)  # dropped classes, filters, seeds, ...

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @property
    def audio_ext(self) -> str:
        """The tar member extension of this dataset's audio (``flac``, ``wav`` or ``s16``)."""
        return audio_codec.member_ext(self.codec)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = STATS_FILE) -> "DatasetInfo":
        if data.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{STATS_FILE}: format_version {data.get('format_version')!r}, expected {FORMAT_VERSION}")
        splits = {name: SplitInfo(**split) for name, split in data["splits"].items()}
        logmel = data.get("logmel")
        if logmel:
            logmel = {**logmel, "splits": {n: SplitInfo(**s) for n, s in logmel.get("splits", {}).items()}}
        for split in [*splits.values(), *((logmel or {}).get("splits") or {}).values()]:
            for path in split.shards:
                check_shard_path(path, where)
        rest = {k: v for k, v in data.items() if k not in ("splits", "logmel")}
        try:
            audio_codec.check_codec(rest.get("codec", audio_codec.DEFAULT_CODEC))
        except ValueError as error:
            raise ValueError(f"{STATS_FILE}: codec: {error}") from None
        return cls(splits=splits, logmel=logmel, **rest)


def shard_urls(root: str, split: SplitInfo) -> list[str]:
    """A split's shard URLs: stats.json lists them relative to its own folder (local path or URL prefix).

    Each path is checked again here (a SplitInfo may not come from ``from_dict``), and for a ``pipe:``
    root it is shell-quoted, as whatever goes into a command must be.

    >>> shard_urls("pipe:cat /data/ds", SplitInfo(shards=["shards/val-000000.tar"], num_samples=1))
    ['pipe:cat /data/ds/shards/val-000000.tar']
    """
    quote = shlex.quote if root.startswith(PIPE_PREFIX) else str
    return [f"{root.rstrip('/')}/{quote(check_shard_path(path))}" for path in split.shards]


def load_dataset_info(root: str) -> DatasetInfo:
    """Read stats.json from a local folder or any URL WebDataset's gopen understands."""
    import webdataset as wds

    url = f"{root.rstrip('/')}/{STATS_FILE}"
    try:
        with wds.gopen(url, "rb") as stream:
            return DatasetInfo.from_dict(json.loads(stream.read()), where=url)
    except FileNotFoundError as error:
        raise FileNotFoundError(f"no {STATS_FILE} at {url}: is this a prepared dataset (prepare_data.py)?") from error
