"""Score a trained classical model on a split: ``python -m classical.evaluate RUN_DIR --data_root D [--split test]``.

Reads ``RUN_DIR/model.skops`` (skops, no pickle) and ``model.json`` (classes, feature set), extracts the
split's features (cached beside the data), checks the dataset's classes match the model's, and writes the
same report folder as the neural evaluation under ``RUN_DIR/reports/<split>-eval/``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from classical.estimators import load_model, log_probabilities
from classical.features import sample_speakers, split_features
from classical.speaker_norm import speaker_normalised
from classical.run_files import MODEL_FILE, RECORD_FILE


def load_run(run_dir: Path) -> tuple[Any, dict[str, Any]]:
    """The fitted pipeline and its record; a missing file is a one-line error naming it."""
    for name in (MODEL_FILE, RECORD_FILE):
        if not (run_dir / name).is_file():
            raise FileNotFoundError(f"{run_dir / name}: no such file (is {run_dir} a classical run folder?)")
    return load_model(run_dir / MODEL_FILE), json.loads((run_dir / RECORD_FILE).read_text())


def evaluate(run_dir: Path, data_root: str, split: str = "test", workers: int = 0) -> dict[str, Any]:
    from data_preparation.shards.shard_format import STATS_FILE, DatasetInfo
    from evaluation.report import build_report, write_report

    model, record = load_run(run_dir)
    info = DatasetInfo.from_dict(json.loads((Path(data_root) / STATS_FILE).read_text()))
    if list(info.classes) != record["class_names"]:
        raise ValueError(f"{data_root}: classes {list(info.classes)} differ from the model's {record['class_names']}")
    data = split_features(data_root, split, record["feature_set"], Path(data_root) / "features", workers)
    if record.get("speaker_norm"):
        data = speaker_normalised(data, sample_speakers(data_root, split))
    report = build_report(data.labels, log_probabilities(model, data.features, len(info.classes)),
                          info.classes, corpora=data.corpora)
    write_report(report, run_dir / "reports" / f"{split}-eval")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--data_root", required=True)
    parser.add_argument("--split", default="test")
    parser.add_argument("--workers", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        report = evaluate(args.run_dir, args.data_root, args.split, args.workers)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    summary = report["classification_report"]
    print(f"{args.split}: accuracy {summary['accuracy']:.4f}, weighted F1 {summary['weighted avg']['f1-score']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
