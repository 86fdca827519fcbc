"""Which pretrained hub weights train.py configs and cross_validate.py protocols read, resolved as those commands do.

A train.py config is parsed by train.py's own CLI (training/cli.py) without building anything; a
protocol (configs/protocols/*.yaml) by cross_validate.py's parser (protocols/config.py), then its
``train`` config with its ``train_args``. The networks of the resolved ``model.net`` declare what they
read (lightning_modules/hub_weights.py). fetch_weights.py downloads that list, and cross_validate.py
checks it before it prepares anything, so neither keeps a list of model names of its own.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Sequence

import yaml

from lightning_modules.hub_weights import HubWeights, import_class, require_weights, weights_of_config
from protocols.config import ProtocolConfig, parse_args

FETCH_PROGRAM = "fetch_weights.py"


def is_protocol(path: str) -> bool:
    """A protocol file (cross_validate.py's) names a ``train`` config and a ``data`` preparation."""
    try:
        content = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return False  # not a readable file: train.py's resolution reports it
    return isinstance(content, dict) and {"name", "data", "train"} <= set(content)


def train_argvs(config: str, overrides: Sequence[str]) -> list[list[str]]:
    """train.py argument lists for ``config``: itself, or a protocol's ``train`` config and ``train_args``."""
    from training.config_files import resolve_config_name

    path = resolve_config_name(config)
    if not is_protocol(path):
        return [["--config", path, *overrides]]
    protocol = parse_args(["--config", path]).protocol
    return [["--config", protocol.train, *protocol.train_args, *overrides]]


def weights_of_train_args(argv: list[str]) -> list[HubWeights]:
    """The hub weights of train.py's config for ``argv``, parsed by train.py's own CLI, nothing built."""
    from training.cli import SERLightningCLI  # here, not at the top: cross_validate.py --help needs no Lightning

    class ParseOnly(SERLightningCLI):
        def _set_seed(self) -> None:  # nothing runs, so nothing to seed (and no "Seed set" line)
            pass

        def instantiate_classes(self) -> None:
            pass

    command_line, sys.argv[1:] = sys.argv[1:], []  # LightningCLI warns when given args beside a command line
    try:
        cli = ParseOnly(args=argv)
    finally:
        sys.argv[1:] = command_line
    return weights_of_config((cli.resolved.get("model") or {}).get("net"))


def weights_of(configs: Sequence[str], overrides: Sequence[str]) -> list[HubWeights]:
    """The hub weights of every config (train.py's or a protocol's), ``overrides`` applied to each, once per repository."""
    found: dict[tuple, HubWeights] = {}
    for config in configs:
        for argv in train_argvs(config, overrides):
            for weights in weights_of_train_args(argv):
                found.setdefault((weights.repo_id, weights.library, weights.revision, weights.cache_folder), weights)
    return list(found.values())


def check_protocol_weights(protocol: ProtocolConfig) -> None:
    """cross_validate.py's check before it prepares anything: the hub weights every fold reads are cached
    or downloadable (else MissingWeightsError, one line naming the fetch command for the protocol)."""
    sources = weights_of_train_args(["--config", protocol.train, *protocol.train_args])
    require_weights(sources, fetch=f"python {FETCH_PROGRAM} --config {protocol.train}")


def load_offline(specs: list[dict[str, Any]]) -> None:
    """Build each network (``{"network": class path, "init_args": ...}``) as train.py would: run with HF_HUB_OFFLINE=1."""
    for spec in specs:
        import_class(spec["network"])(num_classes=2, **spec["init_args"])
