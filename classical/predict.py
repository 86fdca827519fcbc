"""Top-3 emotions of audio files with a classical model: ``python -m classical.predict RUN_DIR a.wav [b.wav ...]``.

The file is decoded, resampled to 16 kHz mono as data preparation does, and featurised with the feature set the model was
trained on (model.json), so the same numbers reach the pipeline as in training.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from classical.estimators import log_probabilities
from classical.evaluate import load_run
from classical.features import extractor


def predict_file(model: object, record: dict, path: Path, top: int = 3) -> list[tuple[str, float]]:
    """[(class, probability)] of the ``top`` classes for one audio file."""
    from data_preparation.decode.audio_io import probe, read_audio

    wave = read_audio(path, probe(path))  # mono float32 at 16 kHz, the rate every shard holds
    features = extractor(record["feature_set"])(np.asarray(wave, dtype=np.float32), record["sample_rate"])
    probs = np.exp(log_probabilities(model, features[None, :], len(record["class_names"]))[0])
    order = np.argsort(-probs)[:top]
    return [(record["class_names"][i], float(probs[i])) for i in order]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("files", type=Path, nargs="+")
    args = parser.parse_args(argv)
    try:
        model, record = load_run(args.run_dir)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for path in args.files:
        print(json.dumps({"file": str(path), "top": predict_file(model, record, path)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
