"""The protocol file (configs/protocols/*.yaml) and the cross_validate.py command line.

A protocol names a preparation config (``data``, with ``data_overrides`` merged over its
top-level keys, e.g. ``split: {mode: folds, folds: {by: speaker, k: 5}}``), a train.py config
(``train``, with ``train_args`` appended), and where its runs and results go.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from jsonargparse import ActionConfigFile, ArgumentParser


@dataclass
class ProtocolConfig:
    """One benchmark protocol.

    name: names the result folder ``<output>/<name>/``, the fold runs ``<name>-fold<k>`` and the W&B group.
    data / data_overrides: the preparation (prepare_data.py config; overrides replace or merge top-level keys).
    train / train_args: the train.py config every fold trains with, and extra ``--key=value`` arguments.
    wandb_project: the W&B project of the fold runs and of the summary run.
    """

    name: str
    data: str
    train: str
    data_overrides: dict[str, Any] = field(default_factory=dict)
    train_args: list[str] = field(default_factory=list)
    output: str = "runs/protocols"
    wandb_project: str = "ser"

    @property
    def folder(self) -> Path:
        return Path(self.output) / self.name

    def prepare_argv(self) -> list[str]:
        """prepare_data.py arguments: the data config, then each override as one JSON value."""
        argv = ["--config", self.data]
        for key, value in self.data_overrides.items():
            argv += [f"--{key}", value if isinstance(value, str) else json.dumps(value)]
        return argv + ["--progress", "false"]


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="cross_validate.py", description="Train and test every fold of a protocol; aggregate.")
    parser.add_argument("--config", action=ActionConfigFile, help="a configs/protocols/*.yaml file")
    parser.add_class_arguments(ProtocolConfig, nested_key=None, as_group=False)
    parser.add_argument("--fold", type=int | None, default=None, help="run only this fold (a SLURM array task)")
    parser.add_argument("--prepare_only", action="store_true", help="prepare the shards, print the fold count, stop")
    parser.add_argument("--aggregate_only", action="store_true", help="aggregate the finished folds, train nothing")
    parser.add_argument("--extra_train_args", type=list[str], default=[],
                        help="train.py arguments appended after the protocol's train_args (JSON list)")
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


def parse_args(argv: Sequence[str] | None = None) -> Invocation:
    """The protocol and what to do with it; jsonargparse exits 2 naming a bad key."""
    parser = build_parser()
    values = parser.parse_args(argv).as_dict()
    values.pop("config", None)
    options = {k: values.pop(k) for k in ("fold", "prepare_only", "aggregate_only", "launcher")}
    values["train_args"] = [*values["train_args"], *values.pop("extra_train_args")]
    return Invocation(ProtocolConfig(**values), **options)
