"""The interface every model that turns audio into emotion logits offers (checkpoint, ensemble,
classical run, or in tests any module), kept apart from the loaders so that the ensemble
artefact can name it without importing the loader that opens ensembles."""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

from data_preparation.input_contract import InputContract


@runtime_checkable
class Predictor(Protocol):
    """Maps padded audio at ``sample_rate`` to logits; ``class_names[i]`` names logit ``i``.

    ``input_contract`` says how clips must be shaped for it (None: no record, e.g. a bare module).
    """

    class_names: list[str]
    sample_rate: int
    input_contract: InputContract | None

    def predict_logits(self, audio: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """audio float32 [B, T] at ``sample_rate``, lengths int64 [B] (valid samples) -> float32 [B, C] on CPU."""
        ...
