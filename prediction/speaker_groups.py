"""predict.py --speaker_groups: recordings of one speaker normalised by that speaker's own statistics.

A model trained with per-speaker normalisation (model.net.init_args.speaker_norm) was tested with
each held-out speaker's features normalised by that speaker's clips. A recording on its own has no
speaker, so by default (``none``) it gets the training population's statistics, and a speaker
recorded much quieter or on another microphone than the training speakers loses what the
normalisation bought (real SAVEE, speaker KL: 30.0% UA under cross_validate.py, 14.3%, all neutral,
from predict.py without groups). ``folder`` treats each folder's recordings as one speaker (the
layout of most corpora and of one interview per folder), ``all`` treats every input as one speaker.
The statistics are read from the recordings themselves, with no label, in one extra decoding pass.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from lightning_modules.speaker_statistics import SpeakerStatistics
from prediction.predictor import ModelPredictor
from prediction.protocol import Predictor
from prediction.recording import RecordingError, decoded_blocks, open_recording

GROUPINGS = ("none", "folder", "all")
CHUNK = 16_000 * 10  # samples per front-end call: decoder blocks joined, so no call sees a sliver shorter than the FFT
log = logging.getLogger(__name__)


def group_of(path: Path, grouping: str) -> str:
    """The speaker a recording is taken to be: its folder, or one for all inputs."""
    return str(path.parent) if grouping == "folder" else "all"


def check_groupable(predictor: Predictor, grouping: str, model: str) -> None:
    """``--speaker_groups`` other than none needs a checkpoint trained with per-speaker normalisation."""
    if grouping not in GROUPINGS:
        raise ValueError(f"--speaker_groups {grouping!r}: expected one of {', '.join(GROUPINGS)}")
    if grouping == "none":
        return
    module = getattr(predictor, "module", None)
    if not isinstance(predictor, ModelPredictor) or not getattr(module, "normalises_speakers", False):
        raise ValueError(f"--speaker_groups {grouping}: {model} was not trained with per-speaker normalisation "
                         "(model.net.init_args.speaker_norm); leave --speaker_groups at none")


def group_statistics(predictor: ModelPredictor, paths: Sequence[Path], grouping: str,
                     max_duration: float | None) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Each group's feature statistics over every decodable recording in it (the others fail, named,
    when they are predicted); a group with no decodable recording is left out (population)."""
    statistics = SpeakerStatistics()
    net = predictor.module.net
    with torch.inference_mode():
        for path in paths:
            try:
                chunks = list(_chunks(decoded_blocks(path, open_recording(path, max_duration), max_duration)))
            except RecordingError:
                continue
            for chunk in chunks:
                audio = torch.from_numpy(chunk)[None].to(predictor.device)
                features, frames = net.features_of(audio, torch.tensor([chunk.shape[-1]], device=predictor.device))
                statistics.add(features, frames, [group_of(path, grouping)])
    for group, sums in statistics.sums.items():
        log.info("speaker group %s: statistics of %.0f frames", group, sums.frames)
    return statistics.table()


def _chunks(blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """Decoded blocks joined into runs of at least CHUNK samples (the last one holds what is left)."""
    pending: list[np.ndarray] = []
    for block in blocks:
        pending.append(block)
        if sum(len(part) for part in pending) >= CHUNK:
            yield np.concatenate(pending)
            pending = []
    if pending:
        yield np.concatenate(pending)
