"""The field's scores of one fold, and their mean +- sample standard deviation over folds.

Names, as in the SER literature: UA (unweighted average recall = balanced accuracy: recall
averaged over classes), WA (weighted accuracy = plain accuracy), macro-F1 and weighted-F1.
Merged sets also get each corpus's scores and their macro average over corpora beside the
pooled score, because a large, easy corpus (TESS) otherwise lifts the pooled number alone.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

METRICS = ("ua", "wa", "macro_f1", "weighted_f1")
CORPUS_METRICS = ("ua", "wa", "macro_f1")
LABELS = {"ua": "UA", "wa": "WA", "macro_f1": "macro-F1", "weighted_f1": "weighted-F1"}


def scores_from_report(report: dict[str, Any]) -> dict[str, Any]:
    """Pooled, per-corpus and corpus-macro scores from an evaluation report (evaluation/report.py)."""
    classification = report["classification_report"]
    pooled = {"ua": classification["macro avg"]["recall"], "wa": classification["accuracy"],
              "macro_f1": classification["macro avg"]["f1-score"],
              "weighted_f1": classification["weighted avg"]["f1-score"]}
    per_corpus = {corpus: {m: row[m] for m in (*CORPUS_METRICS, "num_samples")}
                  for corpus, row in report.get("per_corpus", {}).items()}
    macro = {m: float(np.mean([row[m] for row in per_corpus.values()])) for m in CORPUS_METRICS} if per_corpus else {}
    return {"num_samples": report["num_samples"], **pooled, "per_corpus": per_corpus, "corpus_macro": macro}


def mean_std(values: Sequence[float]) -> dict[str, Any]:
    """Mean and sample standard deviation (n - 1 in the denominator; None for one value).

    >>> mean_std([0.5, 0.7, 0.9])
    {'mean': 0.7, 'std': 0.2, 'n': 3}
    """
    array = np.asarray(values, dtype=float)
    std = float(np.std(array, ddof=1)) if len(array) > 1 else None
    return {"mean": round(float(array.mean()), 10), "std": None if std is None else round(std, 10), "n": len(array)}


def aggregate(folds: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Mean +- std over folds: pooled metrics, each corpus (over the folds that test it), corpus macro."""
    corpora = sorted({c for fold in folds for c in fold["per_corpus"]})
    return {
        "folds": len(folds),
        "pooled": {m: mean_std([f[m] for f in folds]) for m in METRICS},
        "per_corpus": {c: {m: mean_std([f["per_corpus"][c][m] for f in folds if c in f["per_corpus"]])
                           for m in CORPUS_METRICS} for c in corpora},
        "corpus_macro": {m: mean_std([f["corpus_macro"][m] for f in folds if f["corpus_macro"]])
                         for m in CORPUS_METRICS} if any(f["corpus_macro"] for f in folds) else {},
    }


def format_mean_std(cell: dict[str, Any], percent: bool = True) -> str:
    """``71.2 ± 3.4`` (percent) from a mean_std cell; one fold shows its value alone.

    >>> format_mean_std({"mean": 0.7123, "std": 0.0345, "n": 4})
    '71.23 ± 3.45'
    """
    scale = 100.0 if percent else 1.0
    if cell["std"] is None:
        return f"{cell['mean'] * scale:.2f}"
    return f"{cell['mean'] * scale:.2f} ± {cell['std'] * scale:.2f}"
