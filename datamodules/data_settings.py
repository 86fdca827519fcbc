"""ShardDataModule's settings: four typed groups, and the flat ``data:`` section that sets them by name.

The config and the command line name every setting on its own (``data: {batch_size: 32}``,
``--data.batch_size=8``), as Lightning datamodules usually do and as every shipped config, protocol
and doc already does; nesting them (``data.loading.batch_size``) would make users learn which group
holds a setting. The datamodule itself takes the groups, so each part of it reads only the group it
needs and a group's rules are checked in one place. ``shard_data_module``
(datamodules/shard_datamodule.py) is the bridge: its parameters are the ``data:`` keys (LightningCLI
reads them from its signature), and it builds the groups and the datamodule.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class ClipShape:
    """What every batch row looks like: the part of a model's input contract the datamodule decides.

    Clips longer than ``clip_seconds`` are cropped (random offset in training, ``eval_crop`` at
    evaluation); shorter ones are padded (``"zero"``, or ``"repeat"``: the clip tiled).
    ``features``: ``"waveform"``, or ``"logmel"`` for the precomputed log-mel shards.
    ``eval_seconds``: evaluation rows of this length instead (longer clips cropped by ``eval_crop``),
    scored by the model over ``clip_seconds`` windows (lightning_modules/window_scores.py)."""

    clip_seconds: float = 4.0
    padding: Literal["zero", "repeat"] = "zero"
    eval_crop: Literal["center", "start"] = "center"
    features: Literal["waveform", "logmel"] = "waveform"
    eval_seconds: float | None = None

    def __post_init__(self) -> None:
        if self.clip_seconds <= 0:
            raise ValueError(f"data.clip_seconds={self.clip_seconds}: must be positive")
        if self.eval_seconds is not None and not self.eval_seconds > self.clip_seconds:
            raise ValueError(f"data.eval_seconds={self.eval_seconds}: must exceed data.clip_seconds={self.clip_seconds} "
                             "(evaluation scores clip_seconds windows of clips up to that length), or be null")
        if self.eval_seconds is not None and self.features != "waveform":
            raise ValueError(f"data.eval_seconds={self.eval_seconds}: windowed evaluation needs data.features=waveform, "
                             f"not {self.features!r}")


@dataclass(frozen=True)
class SplitChoice:
    """Which splits of stats.json each stage streams; ``fold``: the fold of a ``split.mode: folds`` dataset."""

    train_splits: tuple[str, ...] = ("train",)
    val_split: str = "val"
    test_split: str = "test"
    fold: int | None = None


@dataclass(frozen=True)
class TrainingStream:
    """How training draws its samples: shuffle buffer, epoch length, shards with replacement, seed."""

    shuffle_buffer: int = 1000
    samples_per_epoch: int | None = None
    resampled: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        if self.shuffle_buffer <= 0:
            raise ValueError(f"data.shuffle_buffer={self.shuffle_buffer}: must be positive")
        if self.samples_per_epoch is not None and self.samples_per_epoch <= 0:
            raise ValueError(f"data.samples_per_epoch={self.samples_per_epoch}: must be positive (or null)")


@dataclass(frozen=True)
class Loading:
    """The loaders: batch size and worker processes per rank, and what bad samples may cost a score."""

    batch_size: int = 16
    num_workers: int = 2
    persistent_workers: bool = False
    pin_memory: bool = True
    max_bad_samples: int = 100
    allow_incomplete: bool = False
    read_log: str | None = None  # a folder: each rank records the sample keys it read (datamodules/read_record.py)

    def __post_init__(self) -> None:
        if self.batch_size <= 0:
            raise ValueError(f"data.batch_size={self.batch_size}: must be positive")
        if self.num_workers < 0:
            raise ValueError(f"data.num_workers={self.num_workers}: must be 0 or more")


def flat_settings(*groups: Any) -> dict[str, Any]:
    """The groups as the flat ``data:`` keys (what checkpoints store as the datamodule's hyperparameters)."""
    return {key: value for group in groups for key, value in asdict(group).items()}
