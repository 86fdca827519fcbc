"""Build an ensemble from trained checkpoints: collect logits, fit, compare, save one artefact.

The output folder is itself the artefact (``ensemble.json`` at its root, loadable by
``load_predictor``) and also holds the evidence: the logits, one report folder per system, and
``comparison.{json,csv,md}`` with every base model, both averages and the meta-learner side by
side on the test split.
"""
from __future__ import annotations

import csv
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from data_preparation.input_contract import InputOverrides
from ensemble.averaging import average_logits
from ensemble.meta_learner import MetaLearnerConfig, fit_meta_learner
from evaluation.report import build_report, summary_row, write_report
from prediction.combiners import normalized_weights
from prediction.ensemble_artefact import COMBINERS, common_contract, save_ensemble
from prediction.predictor import load_predictor
from prediction.split_logits import SplitLogits, collect_logits

log = logging.getLogger(__name__)
WEIGHT_METRICS = ("ua", "wa", "macro_f1", "weighted_f1")


@dataclass
class EnsembleFit:
    """Test logits of every system, the fitted meta-learner and how it was chosen."""

    test_logits: dict[str, np.ndarray]  # system name -> [N_test, C]
    val_scores: dict[str, dict[str, float | None]]  # base model -> validation summary
    weights: list[float]
    meta_learner: nn.Module
    meta_summary: dict[str, Any] = field(default_factory=dict)


def check_aligned(val: SplitLogits, test: SplitLogits) -> None:
    if val.class_names != test.class_names:
        raise ValueError(f"validation classes {val.class_names} differ from test classes {test.class_names}")
    if list(val.logits) != list(test.logits):
        raise ValueError(f"validation logits are of {list(val.logits)}, test logits of {list(test.logits)}")


def fit_ensemble(val: SplitLogits, test: SplitLogits, config: MetaLearnerConfig,
                 weight_metric: str = "weighted_f1") -> EnsembleFit:
    """Fit averaging weights and the meta-learner on validation logits only; score all systems on test."""
    if weight_metric not in WEIGHT_METRICS:
        raise ValueError(f"weight_metric={weight_metric!r}: expected one of {WEIGHT_METRICS}")
    check_aligned(val, test)
    names, classes = list(val.logits), val.class_names
    val_scores = {n: summary_row(build_report(val.labels, val.logits[n], classes)) for n in names}
    weights = normalized_weights(len(names), [val_scores[n][weight_metric] or 0.0 for n in names])
    meta, meta_summary = fit_meta_learner(
        np.concatenate([val.logits[n] for n in names], axis=1), val.labels, len(classes), config
    )
    with torch.no_grad():
        stacked = meta(torch.as_tensor(np.concatenate([test.logits[n] for n in names], axis=1))).numpy()
    test_logits = {n: test.logits[n] for n in names}
    test_logits["mean"] = average_logits([test.logits[n] for n in names])
    test_logits["weighted_mean"] = average_logits([test.logits[n] for n in names], weights)
    test_logits[f"stacked_{config.select}"] = stacked
    meta_summary["weights"] = dict(zip(names, weights))
    meta_summary["weight_metric"] = weight_metric
    return EnsembleFit(test_logits, val_scores, weights, meta, meta_summary)


def comparison_rows(test: SplitLogits, fit: EnsembleFit, output: Path) -> list[dict[str, Any]]:
    """Write one report folder per system and return the side-by-side rows (test split)."""
    rows = []
    for system, logits in fit.test_logits.items():
        report = build_report(test.labels, logits, test.class_names, test.corpora)
        report["skipped_samples"] = test.skipped
        write_report(report, output / "reports" / system)
        kind = "base" if system in fit.val_scores else "ensemble"
        val_f1 = fit.val_scores[system]["weighted_f1"] if kind == "base" else None
        rows.append({"system": system, "kind": kind, **summary_row(report), "val_weighted_f1": val_f1})
    return rows


def write_comparison(rows: list[dict[str, Any]], output: Path) -> None:
    """comparison.json, comparison.csv and a Markdown table for the README or a W&B note."""
    (output / "comparison.json").write_text(json.dumps(rows, indent=2))
    columns = list(rows[0])
    with (output / "comparison.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row[c]) for c in columns) + " |" for row in rows]
    (output / "comparison.md").write_text("\n".join(lines) + "\n")


def _cell(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else ("" if value is None else str(value))


def build_ensemble(
    members: Mapping[str, str], data_root: str, output_dir: str, meta_learner: MetaLearnerConfig,
    combiner: str = "stacked", weight_metric: str = "weighted_f1", val_split: str = "val", test_split: str = "test",
    batch_size: int = 16, device: str = "auto", overrides: InputOverrides | None = None, copy_members: bool = True,
) -> list[dict[str, Any]]:
    """Collect val/test logits of ``members`` (name -> checkpoint), fit, report, and save the artefact.

    Clips are shaped by the members' common input contract (``overrides`` departs from it)."""
    if combiner not in COMBINERS:
        raise ValueError(f"combiner={combiner!r}: expected one of {COMBINERS}")
    if len(members) < 2:
        raise ValueError(f"an ensemble needs at least two members, got {list(members)}")
    output = Path(output_dir)
    predictors = {name: load_predictor(path, device=device) for name, path in members.items()}
    common_contract(list(predictors.values()), list(predictors))  # refuse before minutes of logit collection
    splits = {}
    for split in (val_split, test_split):
        log.info("collecting %s logits of %s", split, ", ".join(predictors))
        splits[split] = collect_logits(predictors, data_root, split, batch_size, overrides)
        splits[split].save(output / "logits" / f"{split}.npz")
    fit = fit_ensemble(splits[val_split], splits[test_split], meta_learner, weight_metric)
    rows = comparison_rows(splits[test_split], fit, output)
    write_comparison(rows, output)
    (output / "meta_learner_folds.json").write_text(json.dumps(fit.meta_summary, indent=2))
    save_ensemble(
        output, list(members.items()), splits[val_split].class_names, combiner,
        weights=fit.weights if combiner == "weighted_mean" else None,
        meta_learner=fit.meta_learner if combiner == "stacked" else None,
        meta_config=asdict(meta_learner) if combiner == "stacked" else None, copy_members=copy_members,
        extra={"data_root": data_root, "fit_on": val_split, "meta_learner_summary": fit.meta_summary,
               "validation_scores": fit.val_scores, "config": asdict(meta_learner)},
    )
    return rows
