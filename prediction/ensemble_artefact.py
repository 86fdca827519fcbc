"""An ensemble saved as one folder that ``load_predictor`` opens like a single checkpoint.

    ENSEMBLE/
      ensemble.json        class names, combiner, member paths (relative when copied), weights
      meta_learner.pt      the stacked meta-learner's state dict (combiner "stacked" only)
      members/NN_name.ckpt copies of the base checkpoints (or absolute references: copy_members=False)

Members are any predictors ``load_predictor`` opens, so they must share class names in the same
order (the meta-learner's input is their logits concatenated in manifest order) and the same input
contract (the ensemble feeds one batch to all of them; data_preparation/input_contract.py).

The format is read and written here; ensemble/ fits what goes into it. ``load_ensemble`` takes
the loader of its members, so this module needs no loader of its own and prediction/predictor.py
can open ensembles without an import circle.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import nn

from data_preparation.input_contract import InputContract
from prediction.combiners import build_combiner, normalized_weights
from prediction.protocol import Predictor

ENSEMBLE_MANIFEST = "ensemble.json"
COMBINERS = ("stacked", "mean", "weighted_mean")
META_WEIGHTS = "meta_learner.pt"
FORMAT_VERSION = 1
MemberLoader = Callable[[Path], Predictor]  # a member's checkpoint (or folder) -> its predictor


def is_ensemble(path: str | Path) -> bool:
    """True for an ensemble folder or its ``ensemble.json``."""
    path = Path(path)
    return (path.is_dir() and (path / ENSEMBLE_MANIFEST).is_file()) or path.name == ENSEMBLE_MANIFEST


class EnsemblePredictor:
    """Combines member logits: a meta-learner over their concatenation, or a weighted mean."""

    def __init__(
        self, members: Sequence[Predictor], combiner: str, weights: Sequence[float] | None = None,
        meta_learner: nn.Module | None = None, names: Sequence[str] | None = None,
    ) -> None:
        if combiner not in COMBINERS:
            raise ValueError(f"combiner {combiner!r} is not one of {COMBINERS}")
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.names = list(names or [f"member{i}" for i in range(len(members))])
        check_same_classes(members, self.names)
        self.input_contract = common_contract(members, self.names)
        if combiner == "stacked" and meta_learner is None:
            raise ValueError("combiner 'stacked' needs a meta_learner")
        self.members = list(members)
        self.combiner = combiner
        self.weights = normalized_weights(len(members), weights if combiner == "weighted_mean" else None)
        self.meta_learner = meta_learner.eval() if meta_learner is not None else None
        self.class_names = list(members[0].class_names)
        self.sample_rate = members[0].sample_rate

    @torch.inference_mode()
    def predict_logits(self, audio: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.combine([member.predict_logits(audio, lengths) for member in self.members])

    @torch.inference_mode()
    def predict_features(self, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.combine([member.predict_features(features, lengths) for member in self.members])

    @torch.inference_mode()
    def combine(self, member_logits: Sequence[torch.Tensor]) -> torch.Tensor:
        """Member logits (each [B, C], CPU) -> ensemble logits [B, C]."""
        if self.combiner == "stacked":
            return self.meta_learner(torch.cat(list(member_logits), dim=1).float())
        return sum(w * logits.float() for w, logits in zip(self.weights, member_logits))


def check_same_classes(members: Sequence[Predictor], names: Sequence[str]) -> None:
    """Raise naming the first member whose classes differ from the first member's."""
    reference = list(members[0].class_names)
    for name, member in zip(names, members):
        if list(member.class_names) != reference:
            raise ValueError(
                f"ensemble member {name!r} has classes {list(member.class_names)}, but {names[0]!r} has "
                f"{reference}: members must be trained on the same taxonomy, in the same class order"
            )


def common_contract(members: Sequence[Predictor], names: Sequence[str]) -> InputContract | None:
    """The members' shared input contract; members whose clips would be shaped differently are refused."""
    def shape(member: Predictor) -> dict | None:
        contract = member.input_contract
        return None if contract is None else {k: v for k, v in contract.to_dict().items() if k != "taxonomy"}

    reference = shape(members[0])
    for name, member in zip(names, members):
        if shape(member) != reference:
            raise ValueError(
                f"ensemble member {name!r} was trained on other inputs than {names[0]!r} "
                f"({member.input_contract.describe() if member.input_contract else 'no input contract'} vs "
                f"{members[0].input_contract.describe() if members[0].input_contract else 'no input contract'}): "
                "the ensemble feeds every member the same clips"
            )
    return members[0].input_contract


def save_ensemble(
    folder: str | Path, members: Sequence[tuple[str, str | Path]], class_names: Sequence[str], combiner: str,
    weights: Sequence[float] | None = None, meta_learner: nn.Module | None = None,
    meta_config: Mapping[str, Any] | None = None, copy_members: bool = True, extra: dict[str, Any] | None = None,
) -> Path:
    """Write the artefact folder; ``members`` are (name, checkpoint path) pairs in meta-learner input order.

    ``meta_config``: the meta-learner's hyperparameters (``asdict(MetaLearnerConfig)``); loading
    reads its ``select``, ``hidden``, ``dropout`` and ``folds`` to rebuild the network's shape."""
    folder = Path(folder)
    (folder / "members").mkdir(parents=True, exist_ok=True)
    entries = []
    for index, (name, source) in enumerate(members):
        source = Path(source).resolve()
        if copy_members:
            target = Path("members") / f"{index:02d}_{name}{source.suffix}"
            copy = shutil.copytree if source.is_dir() else shutil.copy2
            if (folder / target).exists():
                shutil.rmtree(folder / target) if (folder / target).is_dir() else (folder / target).unlink()
            copy(source, folder / target)
            entries.append({"name": name, "path": str(target), "source": str(source)})
        else:
            entries.append({"name": name, "path": str(source), "source": str(source)})
    manifest: dict[str, Any] = {
        "format_version": FORMAT_VERSION, "class_names": list(class_names), "combiner": combiner,
        "members": entries, "weights": list(weights) if weights is not None else None, "extra": extra or {},
    }
    if combiner == "stacked":
        if meta_learner is None or meta_config is None:
            raise ValueError("combiner 'stacked' needs meta_learner and meta_config to be saved")
        manifest["meta_learner"] = dict(meta_config)
        torch.save(meta_learner.state_dict(), folder / META_WEIGHTS)
    (folder / ENSEMBLE_MANIFEST).write_text(json.dumps(manifest, indent=2))
    return folder


def read_manifest(folder: Path) -> dict[str, Any]:
    """``ensemble.json`` of ``folder``, refused when its format is not the one this code reads."""
    manifest = json.loads((folder / ENSEMBLE_MANIFEST).read_text())
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{folder / ENSEMBLE_MANIFEST}: format_version {manifest.get('format_version')!r}, "
                         f"expected {FORMAT_VERSION}")
    return manifest


def load_combiner(folder: Path, manifest: Mapping[str, Any], num_models: int) -> nn.Module:
    """The saved meta-learner, its weights loaded with ``weights_only=True`` (a state dict, no pickle)."""
    config = manifest["meta_learner"]
    try:
        meta = build_combiner(config["select"], num_models, len(manifest["class_names"]),
                              hidden=config["hidden"], dropout=config["dropout"], folds=config["folds"])
    except KeyError as error:
        raise ValueError(f"{folder / ENSEMBLE_MANIFEST}: meta_learner has no {error.args[0]!r}") from error
    meta.load_state_dict(torch.load(folder / META_WEIGHTS, map_location="cpu", weights_only=True))
    return meta


def load_ensemble(folder: str | Path, load_member: MemberLoader) -> EnsemblePredictor:
    """The EnsemblePredictor saved in ``folder``; ``load_member`` opens each member (on its device)."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    members, names = [], []
    for entry in manifest["members"]:
        path = Path(entry["path"])
        path = path if path.is_absolute() else folder / path
        if not path.exists():
            raise FileNotFoundError(f"{folder / ENSEMBLE_MANIFEST}: member {entry['name']!r} is missing at {path}")
        members.append(load_member(path))
        names.append(entry["name"])
    meta = load_combiner(folder, manifest, len(members)) if manifest["combiner"] == "stacked" else None
    predictor = EnsemblePredictor(members, manifest["combiner"], manifest.get("weights"), meta, names)
    if predictor.class_names != manifest["class_names"]:
        raise ValueError(f"{folder}: members predict {predictor.class_names}, the manifest says {manifest['class_names']}")
    return predictor
