"""The classical baseline on a protocol's folds: ``cross_validate.py --config P --classical C``.

The reviewers' reference row on acted corpora is openSMILE functionals with an SVM (classical/).
This runs it on exactly the folds the neural recipes see: the protocol is prepared once as usual
(same shards, same fold plan), each shard group's features are extracted once and cached
(classical.features), and each fold's grid search is fitted on every clip the fold does not test
(its train and val groups: the validation carve exists for a network's early stopping, while the
search picks its hyperparameters by K-fold CV inside those clips), then scored on its test groups.

Results use the neural protocol's files and names (protocol_fold.json per fold, results.json /
.csv / .md via protocols.results), in ``<output>/<name>-<config stem>/``, so the classical row lies
beside ``<output>/<name>/`` instead of over it. results.json also names the recipe, and each fold
its wall and CPU seconds and the load average, so a results page can show time per fold.
"""
from __future__ import annotations

import dataclasses
import json
import os
import resource
import time
from pathlib import Path
from typing import Any

import numpy as np

from classical.estimators import grid_search, log_probabilities, save_model
from classical.features import SplitFeatures, sample_speakers, split_features
from classical.speaker_norm import speaker_normalised
from classical.run_files import MODEL_FILE
from classical.train import ClassicalConfig, parse_args as parse_classical
from data_preparation.shards.shard_format import DatasetInfo
from protocols.config import Invocation, ProtocolConfig
from protocols.machine import machine
from protocols.results import write_results
from protocols.runner import FOLD_RESULT, TEST_REPORT, fold_count, fold_held_out, fold_name
from protocols.scores import scores_from_report


def classical_folder(protocol: ProtocolConfig, config: str) -> Path:
    """``<output>/<name>-<config stem>``: the classical row's own result folder."""
    return Path(protocol.output) / f"{protocol.name}-{Path(config).stem}"


def load_config(path: str, data_root: str) -> ClassicalConfig:
    """The classical config with the protocol's shards as data (its own ``data_root`` is not used)."""
    return parse_classical(["--config", path, f"--data_root={data_root}"])


def fold_groups(info: DatasetInfo, fold: int) -> tuple[list[str], list[str]]:
    """(groups the fold fits on: train and val, groups it tests); a plain preparation is one fold."""
    if not info.folds:
        return [s for s in ("train", "val") if s in info.splits], ["test"]
    plan = info.folds[fold]
    return [*plan["train"], *plan["val"]], list(plan["test"])


def _joined(parts: list[SplitFeatures]) -> SplitFeatures:
    parts = [p for p in parts if len(p.labels)]
    return SplitFeatures(np.concatenate([p.features for p in parts]), np.concatenate([p.labels for p in parts]),
                         [k for p in parts for k in p.keys], [c for p in parts for c in p.corpora])


def _cpu_seconds() -> float:
    """User + system time of this process and its finished children (feature workers, search jobs)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _loadavg() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def extract_groups(config: ClassicalConfig, info: DatasetInfo, data_root: str) -> tuple[dict[str, SplitFeatures], dict]:
    """Every shard group's features (cached: a rerun decodes nothing) and what extracting them cost."""
    wall, cpu = time.perf_counter(), _cpu_seconds()
    cache = Path(config.cache or Path(data_root) / "features")
    features = {group: split_features(data_root, group, config.feature_set, cache, config.workers, progress=False)
                for group in sorted(info.splits)}
    if config.speaker_norm:  # over each speaker's clips of the whole corpus: no labels, and no clip's split, used
        speaker_of = {k: v for group in features for k, v in sample_speakers(data_root, group).items()}
        features = _normalised_per_speaker(features, speaker_of)
    return features, {"wall_s": round(time.perf_counter() - wall, 2), "cpu_s": round(_cpu_seconds() - cpu, 2),
                      "loadavg": _loadavg(), "clips": sum(len(f.labels) for f in features.values())}


def _normalised_per_speaker(features: dict[str, SplitFeatures], speaker_of: dict[str, str]) -> dict[str, SplitFeatures]:
    """Every group's features z-scored per speaker over all of that speaker's clips (all groups at once)."""
    groups = sorted(features)
    whole = speaker_normalised(_joined([features[g] for g in groups]), speaker_of)
    out, start = {}, 0
    for group in groups:
        count = len(features[group].labels)
        out[group] = dataclasses.replace(features[group], features=whole.features[start:start + count])
        start += count
    return out


def run_fold(config: ClassicalConfig, info: DatasetInfo, features: dict[str, SplitFeatures], fold: int,
             run_dir: Path) -> dict[str, Any]:
    """Search and fit on the fold's training clips, score its test clips; the fold's result (also written)."""
    from evaluation.report import build_report, write_report

    wall, cpu, load = time.perf_counter(), _cpu_seconds(), _loadavg()
    fit_on, test_on = fold_groups(info, fold)
    train, test = _joined([features[g] for g in fit_on]), _joined([features[g] for g in test_on])
    search = grid_search(config.model, train.features, train.labels)
    report = build_report(test.labels, log_probabilities(search.best_estimator_, test.features, len(info.classes)),
                          info.classes, corpora=test.corpora)
    write_report(report, run_dir / TEST_REPORT.parent)
    save_model(search.best_estimator_, run_dir / MODEL_FILE)
    result = {"fold": fold_name(info, fold), "index": fold, "held_out": fold_held_out(info, fold), "run_dir": str(run_dir),
              **scores_from_report(report), "train_clips": int(len(train.labels)),
              "best_params": {k: str(v) for k, v in search.best_params_.items()},
              "cv_best_score": float(search.best_score_), "wall_s": round(time.perf_counter() - wall, 2),
              "cpu_s": round(_cpu_seconds() - cpu, 2), "loadavg_start": load, "loadavg_end": _loadavg(),
              "machine": machine()}
    partial = run_dir / (FOLD_RESULT + ".partial")
    partial.write_text(json.dumps(result, indent=2, sort_keys=True))
    partial.replace(run_dir / FOLD_RESULT)  # atomic: a half-written result never marks a fold done
    return result


def run_protocol(invocation: Invocation, data_root: str, info: DatasetInfo) -> int:
    """Every fold (or ``--fold``) of the protocol with the classical config, then the aggregate when complete."""
    protocol, path = invocation.protocol, invocation.classical
    folder = classical_folder(protocol, path)
    config = load_config(path, data_root)
    folds = fold_count(info)
    wanted = invocation.folds_to_run(folds)
    runs = {k: folder / "folds" / f"{folder.name}-fold{k}" for k in range(wanted)}
    todo = [] if invocation.aggregate_only else [invocation.fold] if invocation.fold is not None else list(range(wanted))
    features = extraction = None
    for fold in todo:
        runs.setdefault(fold, folder / "folds" / f"{folder.name}-fold{fold}")
        if (runs[fold] / FOLD_RESULT).is_file():
            print(f"{folder.name}: fold {fold} already finished ({runs[fold]})", flush=True)
            continue
        if features is None:
            features, extraction = extract_groups(config, info, data_root)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "features.json").write_text(json.dumps({"feature_set": config.feature_set, **extraction}, indent=2))
            print(f"{folder.name}: {config.feature_set} features of {extraction['clips']} clips in "
                  f"{extraction['wall_s']:.0f} s (load average {extraction['loadavg']})", flush=True)
        runs[fold].mkdir(parents=True, exist_ok=True)
        result = run_fold(config, info, features, fold, runs[fold])
        print(f"{folder.name}: fold {fold} ({result['fold']}): UA {result['ua'] * 100:.2f}, WA {result['wa'] * 100:.2f}, "
              f"macro-F1 {result['macro_f1'] * 100:.2f} in {result['wall_s']:.0f} s", flush=True)
    done = [runs[k] / FOLD_RESULT for k in range(wanted)]
    missing = [k for k, p in enumerate(done) if not p.is_file()]
    if missing:
        print(f"{folder.name}: {wanted - len(missing)} of {wanted} folds finished; missing {missing}: not aggregated yet")
        return 0 if invocation.fold is not None else 1
    results = [json.loads(p.read_text()) for p in done]
    cost = folder / "features.json"
    write_results(folder, protocol.name, results, protocol.source, folds,
                  extra={"recipe": path, "recipe_kind": "classical", "feature_set": config.feature_set,
                         "speaker_norm": config.speaker_norm,
                         "features": json.loads(cost.read_text()) if cost.is_file() else None})
    print((folder / "results.md").read_text())
    print(f"results: {folder}/results.md, results.csv, results.json")
    return 0
