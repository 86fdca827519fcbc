"""One interface for everything that turns audio into emotion logits.

A single checkpoint, a stacked or averaged ensemble, and (in tests) any ``nn.Module`` that maps
``(audio [B, T], lengths [B]) -> logits [B, C]`` are all a ``Predictor``; evaluate.py, predict.py
and the web page load one with ``load_predictor(path)`` and never ask which kind it is.
"""
from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from classical.run_files import MODEL_FILE, is_classical_run
from data_preparation.input_contract import InputContract
from data_preparation.shards.shard_format import SAMPLE_RATE
from prediction.ensemble_artefact import ENSEMBLE_MANIFEST, is_ensemble, load_ensemble
from prediction.protocol import Predictor

log = logging.getLogger(__name__)
CHECKPOINT_SUFFIXES = (".ckpt",)
RUN_CHECKPOINTS = "checkpoints"  # train.py's checkpoint folder inside a run folder


def resolve_device(device: str | torch.device) -> torch.device:
    """``auto`` picks the first GPU when there is one, else the CPU."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class ModelPredictor:
    """A module called as ``module(audio, lengths)`` in eval mode without gradients."""

    def __init__(
        self, module: nn.Module, class_names: Sequence[str], device: str | torch.device = "cpu",
        sample_rate: int = SAMPLE_RATE, name: str = "", input_contract: InputContract | None = None,
    ) -> None:
        self.device = resolve_device(device)
        self.module = module.eval().to(self.device)
        self.class_names = list(class_names)
        self.sample_rate = sample_rate
        self.name = name or type(module).__name__
        self.input_contract = input_contract
        # (mean, std) for a model with per-speaker normalisation: [*rows], the one speaker every row of
        # the next batch belongs to (predict.py --speaker_groups, prediction/speaker_groups.py), or
        # [B, *rows], each row's own speaker (evaluate.py, prediction/split_speakers.py); None: the
        # population statistics its checkpoint holds
        self.speaker_stats: tuple[torch.Tensor, torch.Tensor] | None = None

    @torch.inference_mode()
    def predict_logits(self, audio: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        audio, lengths = audio.to(self.device, torch.float32), lengths.to(self.device)
        stats = self._band_stats(audio.shape[0])
        if stats is None:
            return self._checked(self.module(audio, lengths))
        return self._checked(self.module(audio, lengths, band_stats=stats))

    @torch.inference_mode()
    def predict_features(self, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Precomputed log-mel [B, n_mels, frames] and valid frames [B] -> logits (features="logmel" models)."""
        features, lengths = features.to(self.device, torch.float32), lengths.to(self.device)
        stats = self._band_stats(features.shape[0])
        if stats is None:
            return self._checked(self.module.logits_of({"features": features, "lengths": lengths}))
        return self._checked(self.module.net.forward_features(features, lengths, band_stats=stats))

    def _band_stats(self, rows: int) -> tuple[torch.Tensor, torch.Tensor] | None:
        """``speaker_stats`` as one (mean, std) row per clip of a batch of ``rows``."""
        if self.speaker_stats is None:
            return None
        mean, std = (part.to(self.device) for part in self.speaker_stats)
        if mean.dim() == self.module.net.speaker_norm.population_mean.dim():  # one speaker for the whole batch
            return mean.expand(rows, *mean.shape), std.expand(rows, *std.shape)
        if mean.shape[0] != rows:
            raise ValueError(f"{self.name}: speaker statistics for {mean.shape[0]} clips, the batch has {rows}")
        return mean, std

    def _checked(self, logits: torch.Tensor) -> torch.Tensor:
        if logits.ndim != 2 or logits.shape[1] != len(self.class_names):
            raise ValueError(
                f"{self.name}: model returned logits of shape {tuple(logits.shape)}, "
                f"expected [batch, {len(self.class_names)}] for classes {self.class_names}"
            )
        return logits.float().cpu()


def load_checkpoint_predictor(path: str | Path, device: str | torch.device = "cpu") -> ModelPredictor:
    """A Lightning checkpoint of ``lightning_modules.EmotionClassifier`` as a predictor."""
    from lightning_modules import EmotionClassifier
    from training.safe_load import refuse_unsafe

    with refuse_unsafe(path):  # weights_only explicitly, so TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD cannot undo it
        model = EmotionClassifier.load_from_checkpoint(str(path), map_location="cpu", weights_only=True)
    class_names = list(model.hparams.get("class_names") or [])
    if not class_names:
        raise ValueError(f"{path}: checkpoint has no hparams.class_names; was it trained by train.py?")
    contract = model.contract
    if contract is None:
        log.warning("%s carries no input contract (clip length, padding, crop): clips are fed whole unless "
                    "overridden; pass --max_seconds / --pad_to_seconds / --padding as in its training", path)
    return ModelPredictor(model, class_names, device, sample_rate=int(model.hparams.sample_rate),
                          name=Path(path).name, input_contract=contract)


def _best_checkpoint_of_run(folder: Path) -> Path | None:
    """The best checkpoint recorded in a train.py run folder (or its checkpoints/); None for other folders.

    training/ (and so Lightning) is imported only here: ensembles and classical runs do not need it.
    """
    from training.last_checkpoint import LAST_NAME
    from training.resume import best_checkpoint

    for checkpoints in (folder / RUN_CHECKPOINTS, folder):
        if (checkpoints / LAST_NAME).is_file():
            best = best_checkpoint(checkpoints)
            log.info("run folder: its best checkpoint is %s", best)
            return best
    return None


def load_predictor(path: str | Path, device: str | torch.device = "cpu") -> Predictor:
    """A checkpoint (``*.ckpt``), a train.py run folder (or its ``checkpoints/``: the best checkpoint
    its ModelCheckpoint recorded), an ensemble folder (``ensemble.json``) or a classical run folder
    (``model.skops``, classical/) as a Predictor."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no model at {path}: expected a .ckpt checkpoint or an ensemble folder")
    if is_ensemble(path):
        member_loader = partial(load_predictor, device=resolve_device(device))
        return load_ensemble(path.parent if path.is_file() else path, member_loader)
    if path.is_dir():
        path = _best_checkpoint_of_run(path) or path
    if is_classical_run(path):
        from classical.predictor import ClassicalPredictor  # scikit-learn and openSMILE only when needed

        return ClassicalPredictor(path)
    if path.is_file() and path.suffix in CHECKPOINT_SUFFIXES:
        return load_checkpoint_predictor(path, device)
    raise ValueError(
        f"{path} is neither a Lightning checkpoint ({', '.join(CHECKPOINT_SUFFIXES)}) "
        f"nor an ensemble folder with {ENSEMBLE_MANIFEST}, nor a classical run folder with {MODEL_FILE}"
    )
