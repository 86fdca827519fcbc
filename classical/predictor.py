"""A classical run folder as a ``Predictor``, so evaluate.py, predict.py, serve.py and the ensemble load it.

``load_predictor(run_dir)`` opens a folder holding model.skops through this class, like a
checkpoint. Each clip (its valid samples only) is featurised with the feature set the model was
trained on and scored by the fitted pipeline; the "logits" are its log-probabilities. Classes the
training split lacked get a floor instead of -inf so that softmax, averaging and the stacked
ensemble stay finite. Classical models were fitted on whole clips, so there is no input contract:
clips are fed whole unless a command's flags crop them.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from classical.estimators import log_probabilities
from classical.evaluate import load_run
from classical.features import extractor

LOG_PROBABILITY_FLOOR = float(np.log(1e-12))


class ClassicalPredictor:
    """``predict_logits(audio [B, T], lengths [B]) -> [B, C]`` log-probabilities of a fitted sklearn pipeline."""

    input_contract = None  # fitted on whole clips

    def __init__(self, run_dir: str | Path) -> None:
        self.model, record = load_run(Path(run_dir))
        if record.get("speaker_norm"):
            raise ValueError(f"{run_dir}: fitted on speaker-normalised features (speaker_norm: true), which need each "
                             "speaker's statistics over many clips; it scores prepared splits only (classical.evaluate)")
        self.class_names: list[str] = list(record["class_names"])
        self.sample_rate = int(record["sample_rate"])
        self.name = Path(run_dir).name
        self._extract = extractor(record["feature_set"])

    def predict_logits(self, audio: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        rows = [audio[i, : int(lengths[i])].float().cpu().numpy() for i in range(audio.shape[0])]
        features = np.stack([self._extract(row, self.sample_rate) for row in rows])
        scores = log_probabilities(self.model, features, len(self.class_names))
        return torch.from_numpy(np.maximum(scores, LOG_PROBABILITY_FLOOR)).float()
