"""Pretrained encoder weights as a safetensors file: written by pretraining, loaded before fine-tuning.

Greedy autoencoder pretraining (lightning_modules/autoencoder_pretraining.py, ``python pretrain.py``)
writes the conv encoder's tensors under the network's own key names (``encoder.body.0.conv.weight``,
...), with the input contract it was trained on in the file's metadata. ``EmotionClassifier``'s
``init_from`` loads such a file into its network when fitting starts. safetensors holds tensors
and string metadata only, so reading a file runs nothing from it (unlike a pickle).

A file that does not fit is refused, naming the file and the keys: keys the network lacks, shapes
that differ, or an input contract (sample rate, clip length, padding, features) that differs from
the fine-tuning run's. The classifier's head is not in the file; it starts from its initialisation.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

FORMAT = "ser-pretrained-encoder-v1"
CONTRACT_KEY = "input_contract"
# The contract entries that decide what an encoder saw; class names, taxonomy and eval crop do not.
MATCHED_KEYS = ("sample_rate", "clip_seconds", "padding", "features", "logmel")
SHOWN = 6  # keys listed in an error before "... and N more"


def save_encoder_weights(path: str | Path, tensors: Mapping[str, torch.Tensor], contract: Mapping[str, Any] | None,
                         details: Mapping[str, Any] | None = None) -> Path:
    """Write ``tensors`` (network key -> tensor) to ``path`` atomically, the contract and ``details`` as metadata."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {"format": FORMAT, CONTRACT_KEY: json.dumps(dict(contract) if contract else None),
                "details": json.dumps(dict(details or {}))}
    partial = path.with_name(path.name + ".partial")
    save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(partial), metadata=metadata)
    partial.replace(path)  # a killed run never leaves a half-written weights file under the real name
    return path


def read_encoder_weights(path: str | Path, key: str = "model.init_from") -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The tensors and the decoded metadata (``input_contract``, ``details``) of a weights file."""
    where = f"{key}={str(path)!r}"
    if not Path(path).is_file():
        raise FileNotFoundError(f"{where}: no such file; write it first with pretrain.py (e.g. "
                                "python pretrain.py --config configs/seeds/001/pretrain/cnn3_autoencoder.yaml)")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    except (SafetensorError, OSError, ValueError) as error:
        raise ValueError(f"{where}: not a readable safetensors weights file ({error})") from error
    if metadata.get("format") != FORMAT or not tensors:
        raise ValueError(f"{where}: not a pretrained-encoder file written by pretrain.py "
                         f"(format {metadata.get('format')!r}, {len(tensors)} tensors)")
    try:
        decoded = {name: json.loads(metadata.get(name, "null")) for name in (CONTRACT_KEY, "details")}
    except json.JSONDecodeError as error:
        raise ValueError(f"{where}: its metadata is not valid JSON ({error})") from error
    return tensors, decoded


def check_contract_fits(saved: Mapping[str, Any] | None, current: Mapping[str, Any] | None, where: str) -> None:
    """The pretraining's input contract must match the fine-tuning run's on every entry of MATCHED_KEYS."""
    if current is None:
        return  # a network built without a datamodule (e.g. in Python) has nothing to compare against
    if not saved:
        raise ValueError(f"{where}: the file records no input contract, so it cannot be checked against this run's")
    differing = [f"{k}={saved.get(k)!r} in the file, {current.get(k)!r} in this run"
                 for k in MATCHED_KEYS if saved.get(k) != current.get(k)]
    if differing:
        raise ValueError(f"{where}: pretrained on other inputs than this run's: {'; '.join(differing)}")


def _listed(items: list[str]) -> str:
    more = f" ... and {len(items) - SHOWN} more" if len(items) > SHOWN else ""
    return ", ".join(items[:SHOWN]) + more


def fit_errors(network: nn.Module, tensors: Mapping[str, torch.Tensor]) -> list[str]:
    """What keeps ``tensors`` from loading into ``network``: keys it lacks and shapes that differ."""
    own = network.state_dict()
    unknown = sorted(k for k in tensors if k not in own)
    shapes = [f"{k} {tuple(v.shape)} in the file vs {tuple(own[k].shape)} in the network"
              for k, v in sorted(tensors.items()) if k in own and own[k].shape != v.shape]
    errors = [f"keys the network does not have: {_listed(unknown)}"] if unknown else []
    return errors + ([f"shapes that differ: {_listed(shapes)}"] if shapes else [])


def load_encoder_weights(network: nn.Module, path: str | Path, contract: Mapping[str, Any] | None,
                         key: str = "model.init_from") -> list[str]:
    """Copy a pretrained-encoder file into ``network`` (its other parameters are left as they are).

    Returns the loaded key names. Raises ValueError naming ``path`` and the keys at fault when the file
    does not fit the network or was pretrained on another input contract than ``contract``.
    """
    where = f"{key}={str(path)!r}"
    tensors, metadata = read_encoder_weights(path, key)
    check_contract_fits(metadata[CONTRACT_KEY], contract, where)
    errors = fit_errors(network, tensors)
    if errors:
        raise ValueError(f"{where} does not fit model.net: {'; '.join(errors)}")
    network.load_state_dict(tensors, strict=False)
    return sorted(tensors)
