"""Per-speaker statistics of the split being scored, for models trained with per-speaker normalisation.

train.py's test step normalises each held-out speaker's features by the statistics of that
speaker's clips in the test split (lightning_modules/classifier.py, ``on_test_start``). Scoring the
same split with the training population's statistics gives another, lower score: the scratch_cpu
recipe's EMOVO folds scored 32.3% UA that way against train.py's 35.5%. So evaluate.py (and the
ensemble builder, which fits on the validation split) first collect each speaker's statistics over
the split, as the test step did: one extra decoding pass, every decodable clip of the split shaped
by the model's input contract as in the scoring pass, through the network's front-end only, with no
label read. ``population`` keeps the statistics the checkpoint holds, which is what a recording of
an unknown speaker gets from predict.py and serve.py.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from lightning_modules.speaker_statistics import SpeakerStatistics, batch_stats, speakers_of
from prediction.predictor import ModelPredictor
from prediction.protocol import Predictor

SPEAKER_STATS = ("split", "population")  # evaluate.py --speaker_stats
Table = dict[str, tuple[Tensor, Tensor]]


def check_speaker_stats(value: str) -> None:
    if value not in SPEAKER_STATS:
        raise ValueError(f"--speaker_stats {value!r}: expected one of {', '.join(SPEAKER_STATS)}")


def speaker_normalising(predictor: Predictor) -> list[ModelPredictor]:
    """The checkpoints inside ``predictor`` (itself, or an ensemble's members) that normalise by speaker."""
    if isinstance(predictor, ModelPredictor):
        return [predictor] if getattr(predictor.module, "normalises_speakers", False) else []
    return [model for member in getattr(predictor, "members", ()) for model in speaker_normalising(member)]


@dataclass
class SplitSpeakers:
    """Each speaker-normalising model's statistics of the split's speakers; :meth:`select` before each batch."""

    models: list[ModelPredictor]
    statistics: list[SpeakerStatistics] = field(init=False)
    tables: list[Table] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.statistics = [SpeakerStatistics() for _ in self.models]

    def add(self, inputs: tuple[Tensor, Tensor], speakers: Sequence[str], features: str) -> None:
        """One batch of the statistics pass: ``inputs`` as the scoring pass will feed them, through the
        front-end the test step's pass uses (``EmotionClassifier.features_of``)."""
        signal_key = "audio" if features == "waveform" else "features"
        with torch.inference_mode():
            for model, statistics in zip(self.models, self.statistics):
                signal, lengths = (part.to(model.device) for part in inputs)
                statistics.add(*model.module.features_of({signal_key: signal, "lengths": lengths}), speakers)

    def finish(self) -> "SplitSpeakers":
        self.tables = [statistics.table() for statistics in self.statistics]
        return self

    def select(self, speakers: Sequence[str]) -> None:
        """Every model normalises the next batch's rows by their speakers' statistics."""
        for model, table in zip(self.models, self.tables):
            norm = model.module.net.speaker_norm
            model.speaker_stats = batch_stats(table, speakers, (norm.population_mean, norm.population_std),
                                              torch.device("cpu"))

    def clear(self) -> None:
        for model in self.models:
            model.speaker_stats = None


def batch_speakers(metas: Iterable) -> list[str]:
    """``corpus/speaker`` of each sample's metadata, keyed as the test step keys them."""
    metas = list(metas)
    return speakers_of({"corpus": [m.corpus for m in metas], "speaker": [m.speaker for m in metas]})
