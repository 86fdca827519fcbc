"""Typed configuration of the preparation command, parsed by jsonargparse.

``python prepare_data.py --config configs/prepare/demo.yaml --split.mode stratified``: YAML plus
dotted overrides; unknown keys and wrong types fail naming the key, required keys (corpora,
output) fail when missing. Cross-field rules are checked in ``validate``.
"""
from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Optional, Sequence

from jsonargparse import ActionConfigFile, ArgumentParser

from data_preparation.decode.decode import AudioFilter
from data_preparation.split.splits import check_fractions
from data_preparation.quality.trim import TrimSpec


@dataclass
class CorpusSpec:
    """One corpus: a registered reader name (corpora.list_corpora()), its root folder, reader options,
    and label-table overrides (native label -> canonical emotion, or null to exclude it)."""

    name: str
    root: str
    options: dict[str, Any] = field(default_factory=dict)
    label_overrides: dict[str, Optional[str]] = field(default_factory=dict)


@dataclass
class FoldSpec:
    """``split.mode: folds``: cross-validation folds over one set of shards (data_preparation/split/folds.py).

    by: 'speaker' (K speaker folds within each corpus; k null = leave one speaker out),
    'attribute' (one fold per value of a record attribute: IEMOCAP's ``session``), 'corpus'
    (leave one corpus out) or 'partition' (published fold files in EmoBox's format under
    ``partition_dir``, for ``partition_corpus``; other corpora join every fold's training set).
    val_fraction: share of each fold's training speakers (per corpus) carved out for validation,
    or with ``val_by: clip`` that share of every training speaker's clips of each class. 'clip'
    is for corpora with few speakers (SAVEE's 4, TESS's 2): giving a whole speaker to validation
    there takes a third or half of the training voices away; the test speakers stay unseen.
    """

    by: Literal["speaker", "attribute", "corpus", "partition"] = "speaker"
    k: Optional[int] = 5
    attribute: str = "session"
    partition_dir: Optional[str] = None
    partition_corpus: Optional[str] = None
    val_fraction: float = 0.2
    val_by: Literal["speaker", "clip"] = "speaker"


@dataclass
class SplitSpec:
    """How clips are split (data_preparation/split/split_assignment.py).

    mode: 'speaker' (no speaker in two splits, each corpus split on its own; honest scores),
    'stratified' (seed 000's random 70/15/15 per class), 'attribute' (a split the corpus ships,
    e.g. MELD's ``meld_split``: ``attribute`` names it, ``attribute_values`` maps its values to
    train/val/test) or 'folds' (``folds``). few_speakers: where a corpus with fewer speakers
    than splits goes (train, val, test, or error). pin: split -> 'corpus' or 'corpus/speaker'
    names placed there (e.g. ``{test: [ravdess/Actor_21]}``; with folds only ``train``).
    """

    mode: Literal["speaker", "stratified", "attribute", "folds"] = "speaker"
    fractions: list[float] = field(default_factory=lambda: [0.70, 0.15, 0.15])
    seed: int = 0
    few_speakers: Literal["train", "val", "test", "error"] = "train"
    pin: dict[str, list[str]] = field(default_factory=dict)
    attribute: Optional[str] = None
    attribute_values: dict[str, str] = field(default_factory=dict)
    folds: Optional[FoldSpec] = None


@dataclass
class GaussianNoiseSpec:
    """Noise amplitude drawn per sample from [min_amplitude, max_amplitude] (audiomentations AddGaussianNoise)."""

    min_amplitude: float = 0.001
    max_amplitude: float = 0.015
    copies: int = 1


@dataclass
class TimeStretchSpec:
    """Rate drawn per sample from [min_rate, max_rate]; seed 000 let stretched clips grow past 4 s."""

    min_rate: float = 0.8
    max_rate: float = 1.25
    copies: int = 1
    leave_length_unchanged: bool = False


@dataclass
class PitchShiftSpec:
    """Semitones drawn per sample from [min_semitones, max_semitones]."""

    min_semitones: float = -4.0
    max_semitones: float = 4.0
    copies: int = 1


@dataclass
class AugmentationSpec:
    """Offline augmented copies of the training split (seed 000 §6.2.4), written as train_aug shards."""

    gaussian_noise: Optional[GaussianNoiseSpec] = None
    time_stretch: Optional[TimeStretchSpec] = None
    pitch_shift: Optional[PitchShiftSpec] = None
    seed: int = 0


@dataclass
class LogmelSpec:
    """Precomputed log-mel shards for image backbones, repetitively padded to ``duration`` (seed 000 §6.2).

    hop_length None gives a square image as seed 000 did: 16 kHz x duration / n_mels.
    duration None means the duration filter's maximum.
    """

    n_mels: int = 128
    n_fft: int = 1024
    hop_length: Optional[int] = None
    duration: Optional[float] = None
    top_db: float = 80.0


@dataclass
class PrepareConfig:
    """Everything one preparation run needs; see configs/prepare/*.yaml."""

    corpora: list[CorpusSpec]
    output: str
    taxonomy: str = "four"
    min_class_share: float = 0.0
    filter: AudioFilter = field(default_factory=AudioFilter)
    trim: Optional[TrimSpec] = None  # cut leading/trailing silence from every kept clip (seed 000 §6.2.1); null: off
    split: SplitSpec = field(default_factory=SplitSpec)
    shard_max_samples: int = 1000
    codec: Literal["flac", "wav", "raw"] = "flac"  # shard audio: flac smallest, wav/raw int16 fastest to read
    workers: int = 0
    augmentation: Optional[AugmentationSpec] = None
    logmel: Optional[LogmelSpec] = None
    progress: bool = True
    overwrite: bool = False  # prepare again and replace what `output` holds, even an identical preparation


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="prepare_data.py", description="Corpora in, validated WebDataset shards out.")
    parser.add_argument("--config", action=ActionConfigFile, help="YAML file of the keys below")
    parser.add_class_arguments(PrepareConfig, nested_key=None, as_group=False)
    parser.add_argument("--corpus_root", action="append", type=str, default=[],
                        help="NAME=FOLDER: read the config's corpus NAME from FOLDER (repeat per corpus)")
    return parser


def parse_config(argv: Sequence[str] | None = None) -> PrepareConfig:
    """PrepareConfig from command-line arguments (``--config FILE``, dotted overrides, ``--corpus_root``).

    A bad ``--corpus_root`` raises ValueError naming it (the command prints one line, exit status 2).
    """
    parser = build_parser()
    namespace = parser.parse_args(lists_replace(sys.argv[1:] if argv is None else list(argv)))
    instantiate = getattr(parser, "instantiate", None) or parser.instantiate_classes
    values = instantiate(namespace).as_dict()
    values.pop("config", None)
    roots = corpus_roots(values.pop("corpus_root"))
    return validate(with_corpus_roots(_to_config(values), roots))


LIST_KEYS = ("corpora",)


def lists_replace(argv: list[str]) -> list[str]:
    """``argv`` with an empty list before each list override, so the override replaces the config's list.

    jsonargparse merges a list given after ``--config`` into the config's list item by item, so
    ``--corpora '[{name: ravdess, root: R}]'`` over a config whose first entry has options kept
    those options (``options: {name: demo}``: "unknown option(s) 'name'", issue 17).
    """
    out: list[str] = []
    for word in argv:
        key = word[2:].split("=", 1)[0] if word.startswith("--") else ""
        if key in LIST_KEYS:
            out += [f"--{key}", "[]"]
        out.append(word)
    return out


def name_value_pairs(items: Sequence[str], flag: str, expected: str) -> dict[str, str]:
    """Repeated ``--flag NAME=VALUE`` arguments as {name: value}; a malformed one is a ValueError naming it."""
    pairs: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            raise ValueError(f"{flag} {item!r}: expected {expected}")
        pairs[name] = value
    return pairs


def corpus_roots(pairs: Sequence[str]) -> dict[str, str]:
    """``--corpus_root NAME=FOLDER`` flags as {name: folder}."""
    return name_value_pairs(pairs, "--corpus_root", "NAME=FOLDER, e.g. ravdess=/data/RAVDESS")


def with_corpus_roots(config: PrepareConfig, roots: dict[str, str], what: str = "the config") -> PrepareConfig:
    """``config`` reading each named corpus from the user's folder; a name it does not read is refused."""
    names = [c.name for c in config.corpora]
    unknown = sorted(set(roots) - set(names))
    if unknown:
        raise ValueError(f"--corpus_root {unknown[0]}=...: {what} reads no corpus {unknown[0]!r}; "
                         f"its corpora: {', '.join(names)}")
    corpora = [replace(c, root=roots.get(c.name, c.root)) for c in config.corpora]
    return replace(config, corpora=corpora)


def _to_config(values: dict[str, Any]) -> PrepareConfig:
    """Rebuild the dataclass tree from plain values (as_dict flattens nested dataclasses)."""
    values = dict(values)
    values["corpora"] = [c if isinstance(c, CorpusSpec) else CorpusSpec(**c) for c in values["corpora"]]
    nested = {"filter": AudioFilter, "split": SplitSpec, "logmel": LogmelSpec, "trim": TrimSpec}
    for key, cls in nested.items():
        if isinstance(values.get(key), dict):
            values[key] = cls(**values[key])
    if isinstance(values["split"].folds, dict):
        values["split"].folds = FoldSpec(**values["split"].folds)
    augmentation = values.get("augmentation")
    if isinstance(augmentation, dict):
        kinds = {"gaussian_noise": GaussianNoiseSpec, "time_stretch": TimeStretchSpec, "pitch_shift": PitchShiftSpec}
        augmentation = {k: kinds[k](**v) if isinstance(v, dict) and k in kinds else v for k, v in augmentation.items()}
        values["augmentation"] = AugmentationSpec(**augmentation)
    return PrepareConfig(**values)


def validate(config: PrepareConfig) -> PrepareConfig:
    """Cross-field rules, each failing with the key at fault."""
    if not config.corpora:
        raise ValueError("corpora: name at least one corpus")
    names = [(c.name, c.root) for c in config.corpora]
    if len(set(names)) != len(names):
        raise ValueError(f"corpora: the same corpus and root are listed twice: {names}")
    if not 0 <= config.min_class_share < 1:
        raise ValueError(f"min_class_share must be in [0, 1), got {config.min_class_share}")
    limits = config.filter
    if not 0 <= limits.min_duration < limits.max_duration:
        raise ValueError(f"filter: need 0 <= min_duration < max_duration, got {limits.min_duration}, {limits.max_duration}")
    if limits.min_contrast_db < 0 or limits.noise_flatness_db > 0:
        raise ValueError(f"filter: need min_contrast_db >= 0 and noise_flatness_db <= 0 (dB), got "
                         f"{limits.min_contrast_db}, {limits.noise_flatness_db}")
    if config.trim is not None:
        _validate_trim(config.trim, limits)
    check_fractions(config.split.fractions)
    _validate_split(config)
    if config.shard_max_samples < 1:
        raise ValueError(f"shard_max_samples must be at least 1, got {config.shard_max_samples}")
    if config.augmentation is not None:
        _validate_augmentation(config.augmentation)
    if config.logmel is not None and min(config.logmel.n_mels, config.logmel.n_fft) < 1:
        raise ValueError("logmel: n_mels and n_fft must be positive")
    return config


def _validate_split(config: PrepareConfig) -> None:
    split = config.split
    if split.mode == "folds":
        if split.folds is None:
            raise ValueError("split.mode=folds needs split.folds (by, k, ...)")
        if config.augmentation is not None:
            raise ValueError("split.mode=folds: augmentation is not supported (a fold's train set changes per fold)")
        if set(split.pin) - {"train"}:
            raise ValueError(f"split.pin with split.mode=folds: only 'train' can be pinned, got {sorted(split.pin)}")
        if split.folds.by == "partition" and not split.folds.partition_dir:
            raise ValueError("split.folds.by=partition needs split.folds.partition_dir")
    if split.mode == "attribute" and not split.attribute:
        raise ValueError("split.mode=attribute needs split.attribute (e.g. meld_split)")


def _validate_trim(trim: TrimSpec, limits: AudioFilter) -> None:
    if trim.top_db <= 0:
        raise ValueError(f"trim.top_db must be positive (dB below the clip's loud frames), got {trim.top_db}")
    if trim.keep_margin < 0:
        raise ValueError(f"trim.keep_margin must be >= 0 seconds, got {trim.keep_margin}")
    if not 0 <= trim.min_duration <= limits.max_duration:
        raise ValueError(f"trim.min_duration must be in [0, filter.max_duration = {limits.max_duration:g}] seconds, "
                         f"got {trim.min_duration}")


def _validate_augmentation(spec: AugmentationSpec) -> None:
    ranges = {
        "gaussian_noise": ("min_amplitude", "max_amplitude"),
        "time_stretch": ("min_rate", "max_rate"),
        "pitch_shift": ("min_semitones", "max_semitones"),
    }
    for name, (low, high) in ranges.items():
        technique = getattr(spec, name)
        if technique is None:
            continue
        if getattr(technique, low) > getattr(technique, high):
            raise ValueError(f"augmentation.{name}: {low} must not exceed {high}")
        if technique.copies < 0:
            raise ValueError(f"augmentation.{name}.copies must be >= 0, got {technique.copies}")
    if spec.time_stretch is not None and spec.time_stretch.min_rate <= 0:
        raise ValueError("augmentation.time_stretch.min_rate must be positive")


def fingerprint(config: PrepareConfig) -> str:
    """Hash of every setting that changes the output (not workers/progress/overwrite)."""
    values = asdict(config)
    for key in ("workers", "progress", "overwrite", "output"):
        values.pop(key)
    folds = config.split.folds
    if config.split.mode == "folds" and folds is not None and folds.by == "partition" and folds.partition_dir:
        values["partition_files"] = _partition_digest(Path(folds.partition_dir))  # edited fold files: a new preparation
    if values["codec"] == "flac":  # the default before codecs existed: earlier preparations keep their stamp
        values.pop("codec")
    if values["trim"] is None:  # off, as before trimming existed: earlier preparations keep their stamp
        values.pop("trim")
    if values["split"].get("folds") and values["split"]["folds"]["val_by"] == "speaker":  # the default before val_by
        values["split"]["folds"].pop("val_by")
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _partition_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.glob("fold_*/*.jsonl")):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()
