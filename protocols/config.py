"""The protocol file (configs/protocols/*.yaml) and the cross_validate.py command line.

A protocol names a preparation config (``data``, with ``data_overrides`` merged over its
top-level keys, e.g. ``split: {mode: folds, folds: {by: speaker, k: 5}}``), a train.py config
(``train``, with ``train_args`` appended), and where its runs and results go.

A user points a shipped protocol at their own copies without editing it (docs/protocols.md):
``--corpus_root ravdess=/data/RAVDESS`` (once per corpus), ``--partition_dir`` (a published
partition's folder, e.g. EmoBox's ``data/ravdess``) and ``--prepared_dir`` (where the shards go).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

from jsonargparse import ActionConfigFile, ArgumentParser

from data_preparation.config import corpus_roots


@dataclass
class ProtocolConfig:
    """One benchmark protocol.

    name: names the result folder ``<output>/<name>/``, the fold runs ``<name>-fold<k>`` and the W&B group.
    source: where the protocol comes from (paper, partition files), printed at the top of results.md.
    data / data_overrides: the preparation (prepare_data.py config; overrides replace or merge top-level keys).
    train / train_args: the train.py config every fold trains with, and extra ``--key=value`` arguments.
    wandb_project: the W&B project of the fold runs and of the summary run.
    """

    name: str
    data: str
    train: str
    source: str = ""
    data_overrides: dict[str, Any] = field(default_factory=dict)
    train_args: list[str] = field(default_factory=list)
    output: str = "runs/protocols"
    wandb_project: str = "ser"

    @property
    def folder(self) -> Path:
        return Path(self.output) / self.name

    def prepare_argv(self) -> list[str]:
        """prepare_data.py arguments: the data config, then each override as one JSON value.

        A list override (``corpora``) replaces the data config's list (data_preparation.config.lists_replace):
        merged item by item, a protocol's ``{name: ravdess}`` inherited the demo entry's
        ``options: {name: demo}`` (issue 17).
        """
        argv = ["--config", self.data]
        for key, value in self.data_overrides.items():
            argv += [f"--{key}", value if isinstance(value, str) else json.dumps(value)]
        return argv + ["--progress", "false"]


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="cross_validate.py", description="Train and test every fold of a protocol; aggregate.")
    parser.add_argument("--config", action=ActionConfigFile, help="a configs/protocols/*.yaml file")
    parser.add_class_arguments(ProtocolConfig, nested_key=None, as_group=False)
    parser.add_argument("--corpus_root", action="append", type=str, default=[],
                        help="NAME=FOLDER: read the protocol's corpus NAME from FOLDER (repeat per corpus)")
    parser.add_argument("--partition_dir", type=str | None, default=None,
                        help="the published partition's folder (EmoBox: data/<dataset> with fold_<k>/)")
    parser.add_argument("--prepared_dir", type=str | None, default=None,
                        help="where the prepared shards go (default: the protocol's data_overrides.output)")
    parser.add_argument("--fold", type=int | None, default=None, help="run only this fold, 0..K-1 (a SLURM array task)")
    parser.add_argument("--limit_folds", type=int | None, default=None,
                        help="a shakedown: run and aggregate only the first N folds (results.md says so)")
    parser.add_argument("--prepare_only", action="store_true", help="prepare the shards, print the fold count, stop")
    parser.add_argument("--aggregate_only", action="store_true", help="aggregate the finished folds, train nothing")
    parser.add_argument("--extra_train_args", type=list[str], default=[],
                        help="train.py arguments appended after the protocol's train_args (JSON list)")
    parser.add_argument("--classical", type=str | None, default=None,
                        help="a classical baseline config (configs/classical/*.yaml) to run on the protocol's folds "
                             "instead of its train.py config; results in <output>/<name>-<config stem>/")
    parser.add_argument("--launcher", type=str, default="",
                        help="command that starts train.py, e.g. 'srun --kill-on-bad-exit=1' (split like a shell would)")
    return parser


@dataclass
class Invocation:
    protocol: ProtocolConfig
    fold: int | None
    prepare_only: bool
    aggregate_only: bool
    launcher: str
    limit_folds: int | None = None
    classical: str | None = None  # a classical baseline config run on the folds instead of the train.py config

    def folds_to_run(self, folds: int) -> int:
        """How many of the protocol's ``folds`` this run trains and aggregates (``--limit_folds``: the first N)."""
        return min(folds, self.limit_folds or folds)


@dataclass
class Locations:
    """The user's own copies: corpus name -> root, a partition folder, a shard folder."""

    corpus_roots: dict[str, str] = field(default_factory=dict)
    partition_dir: str | None = None
    prepared_dir: str | None = None


def parse_args(argv: Sequence[str] | None = None) -> Invocation:
    """The protocol and what to do with it; jsonargparse exits 2 naming a bad key.

    A bad ``--corpus_root`` / ``--partition_dir`` raises ValueError naming the flag (the command
    prints it as one line, exit status 2).
    """
    parser = build_parser()
    values = parser.parse_args(argv).as_dict()
    values.pop("config", None)
    options = {k: values.pop(k) for k in ("fold", "prepare_only", "aggregate_only", "launcher", "limit_folds", "classical")}
    where = Locations(corpus_roots(values.pop("corpus_root")), values.pop("partition_dir"), values.pop("prepared_dir"))
    values["train_args"] = [*values["train_args"], *values.pop("extra_train_args")]
    if options["limit_folds"] is not None and options["limit_folds"] < 1:
        raise ValueError(f"--limit_folds {options['limit_folds']}: need at least 1")
    if options["classical"] is not None and not Path(options["classical"]).is_file():
        raise ValueError(f"--classical {options['classical']}: no such file (e.g. configs/classical/egemaps_svm.yaml)")
    return Invocation(relocate(ProtocolConfig(**values), where), **options)


def relocate(protocol: ProtocolConfig, where: Locations) -> ProtocolConfig:
    """The protocol with the user's roots, partition folder and shard folder written into its overrides."""
    overrides = dict(protocol.data_overrides)
    if where.corpus_roots:
        overrides["corpora"] = _rooted_corpora(protocol, where.corpus_roots)
    if where.partition_dir is not None:
        overrides["split"] = _with_partition_dir(overrides.get("split"), where.partition_dir, protocol.name)
    if where.prepared_dir is not None:
        overrides["output"] = where.prepared_dir
    return ProtocolConfig(**{**asdict(protocol), "data_overrides": overrides})


def _rooted_corpora(protocol: ProtocolConfig, roots: dict[str, str]) -> list[dict[str, Any]]:
    """The protocol's corpus list (its override, else its data config's) with the given roots."""
    from data_preparation.config import parse_config, with_corpus_roots

    config = with_corpus_roots(parse_config(protocol.prepare_argv()), roots, what=f"protocol {protocol.name!r}")
    return [asdict(c) for c in config.corpora]


def _with_partition_dir(split: Any, folder: str, name: str) -> dict[str, Any]:
    folds = (split or {}).get("folds") or {}
    if folds.get("by") != "partition":
        raise ValueError(f"--partition_dir {folder}: protocol {name!r} does not use a published partition "
                         "(its split.folds.by is not 'partition')")
    return {**split, "folds": {**folds, "partition_dir": folder}}
