"""Train a classical baseline on a prepared dataset: ``python -m classical.train --config configs/seeds/000/classical/table5_7_svm.yaml``.

Features are extracted once per split (classical.features, cached), the grid search runs under K-fold
CV of the training split only (classical.estimators), the best pipeline is refitted on all training
features and scored on the validation and test splits. The run folder matches the neural runs'
(``<run.root>/<run.name>/reports/<split>/`` with report.json, classification report, confusion PNGs and
per_corpus.csv) plus ``model.skops`` and ``model.json`` (classes, feature set, search results), which
``python -m classical.evaluate`` and ``python -m classical.predict`` read.
"""
from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from classical.estimators import SearchSpec, grid_search, log_probabilities, save_model
from classical.features import FEATURE_SETS, SplitFeatures, sample_speakers, split_features
from classical.speaker_norm import speaker_normalised
from classical.run_files import MODEL_FILE, RECORD_FILE



@dataclass
class ClassicalConfig:
    """A classical run: data, features, the search, and where the run goes."""

    data_root: str
    feature_set: str = "librosa"
    cache: str | None = None            # None: <data_root>/features
    workers: int = 0                    # 0: every core
    eval_splits: list[str] = field(default_factory=lambda: ["val", "test"])
    model: SearchSpec = field(default_factory=SearchSpec)
    speaker_norm: bool = False          # z-score each speaker's features by their own statistics (speaker_norm.py)
    run_root: str = "runs"
    run_name: str = "classical"


def parse_args(argv: list[str] | None) -> ClassicalConfig:
    """ClassicalConfig from ``--config FILE`` and dotted overrides (unknown keys fail naming them)."""
    from jsonargparse import ActionConfigFile, ArgumentParser

    parser = ArgumentParser(description=__doc__.split("\n\n")[0], exit_on_error=True)
    parser.add_argument("--config", action=ActionConfigFile)
    parser.add_class_arguments(ClassicalConfig, as_group=False)
    namespace = parser.parse_args(argv)
    config = parser.instantiate_classes(namespace)
    values = {k: v for k, v in vars(config).items() if k in ClassicalConfig.__dataclass_fields__}
    if values["feature_set"] not in FEATURE_SETS:
        parser.error(f"feature_set={values['feature_set']!r}: expected one of {list(FEATURE_SETS)}")
    return ClassicalConfig(**values)


def record(config: ClassicalConfig, search: Any, class_names: list[str], sample_rate: int) -> dict[str, Any]:
    """What the model was trained on and how it was chosen (travels beside model.skops)."""
    return {
        "kind": "classical", "class_names": class_names, "sample_rate": sample_rate,
        "feature_set": config.feature_set, "speaker_norm": config.speaker_norm, "search": asdict(config.model),
        "best_params": search.best_params_,
        "cv_best_score": float(search.best_score_), "cv_folds": config.model.folds,
    }


def run(config: ClassicalConfig, progress: bool = True) -> dict[str, dict[str, Any]]:
    """Extract, search, refit, report; returns the report of every evaluated split."""
    from data_preparation.shards.shard_format import SAMPLE_RATE, STATS_FILE, DatasetInfo
    from evaluation.report import build_report, write_report

    info = DatasetInfo.from_dict(json.loads((Path(config.data_root) / STATS_FILE).read_text()))
    cache = Path(config.cache or Path(config.data_root) / "features")

    def extract(split: str) -> SplitFeatures:
        data = split_features(config.data_root, split, config.feature_set, cache, config.workers, progress)
        return speaker_normalised(data, sample_speakers(config.data_root, split)) if config.speaker_norm else data

    train = extract("train")
    search = grid_search(config.model, train.features, train.labels)
    run_dir = Path(config.run_root) / config.run_name
    save_model(search.best_estimator_, run_dir / MODEL_FILE)
    meta = record(config, search, list(info.classes), SAMPLE_RATE)
    meta["cv_train_size"] = int(len(train.labels))
    (run_dir / RECORD_FILE).write_text(json.dumps(meta, indent=2, default=str))
    reports = {}
    for split in config.eval_splits:
        if split not in info.splits:
            continue
        data = extract(split)
        logits = log_probabilities(search.best_estimator_, data.features, len(info.classes))
        reports[split] = build_report(data.labels, logits, info.classes, corpora=data.corpora)
        write_report(reports[split], run_dir / "reports" / split)
    return reports


def main(argv: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Parse, run and print one line per evaluated split; a user error is one line and exit status 2."""
    config = parse_args(argv)
    try:
        reports = run(config)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    for split, report in reports.items():
        summary = report["classification_report"]
        print(f"{split}: accuracy {summary['accuracy']:.4f}, weighted F1 {summary['weighted avg']['f1-score']:.4f}, "
              f"macro F1 {summary['macro avg']['f1-score']:.4f}")
    print(f"run: {Path(config.run_root) / config.run_name}")
    return reports


if __name__ == "__main__":
    main(sys.argv[1:])
