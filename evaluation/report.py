"""Test-set report numbers and figures from labels and logits.

Every function takes plain arrays (class indices, logits or probabilities), so the training
callbacks, ``evaluate.py`` and the ensemble report compute the same numbers the same way.
sklearn does the arithmetic; this module only chooses what goes into a report and its layout.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

REPORT_JSON = "report.json"


def _as_indices(values: Sequence[int] | np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.int64).reshape(-1)


def classification_report_dict(
    y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray, class_names: Sequence[str]
) -> dict[str, Any]:
    """Per-class precision, recall, F1 and support plus accuracy, macro and weighted averages.

    Every class in ``class_names`` is listed, also when absent from both arrays (support 0,
    scores 0), so reports of different splits and models line up row by row.

    >>> report = classification_report_dict([0, 1, 1], [0, 1, 0], ["a", "b"])
    >>> report["b"]["recall"], round(report["accuracy"], 3)
    (0.5, 0.667)
    """
    from sklearn.metrics import classification_report

    labels = list(range(len(class_names)))
    report = classification_report(
        _as_indices(y_true), _as_indices(y_pred), labels=labels, target_names=list(class_names),
        output_dict=True, zero_division=0,
    )
    # sklearn reports "micro avg" instead of "accuracy" when labels omit a class present in y_pred;
    # keep one key for every report.
    if "accuracy" not in report:
        report["accuracy"] = float(np.mean(_as_indices(y_true) == _as_indices(y_pred))) if len(y_true) else 0.0
        report.pop("micro avg", None)
    return report


def confusion_counts(
    y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray, num_classes: int
) -> np.ndarray:
    """[num_classes, num_classes] int64 matrix; rows are true classes, columns predictions.

    >>> confusion_counts([0, 1, 1], [0, 1, 0], 2).tolist()
    [[1, 0], [1, 1]]
    """
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(_as_indices(y_true), _as_indices(y_pred), labels=list(range(num_classes))).astype(np.int64)


def normalize_rows(cm: np.ndarray) -> np.ndarray:
    """Row-normalised confusion matrix (recall per true class); rows without samples stay 0."""
    cm = np.asarray(cm, dtype=np.float64)
    totals = cm.sum(axis=1, keepdims=True)
    return np.divide(cm, totals, out=np.zeros_like(cm), where=totals > 0)


def plot_confusion_matrix(cm: np.ndarray, class_names: Sequence[str], path: str | Path, normalize: bool) -> Path:
    """Write the confusion matrix as a PNG: counts, or row-normalised shares when ``normalize``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    values = normalize_rows(cm) if normalize else np.asarray(cm)
    size = max(4.0, 0.6 * len(class_names) + 2.0)
    figure, axes = plt.subplots(figsize=(size + 1.0, size))
    ConfusionMatrixDisplay(values, display_labels=list(class_names)).plot(
        ax=axes, cmap="Blues", values_format=".2f" if normalize else "d", xticks_rotation=45, colorbar=True
    )
    axes.set_title("confusion matrix (row-normalised)" if normalize else "confusion matrix (counts)")
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of [N, C] logits in float64 (stable)."""
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def roc_auc_one_vs_rest(
    y_true: Sequence[int] | np.ndarray, probabilities: np.ndarray, class_names: Sequence[str]
) -> dict[str, Any]:
    """One-vs-rest ROC-AUC per class, and their macro and support-weighted means.

    A class with no positive or no negative sample has no AUC: it is reported as ``None`` and
    listed under ``undefined`` rather than dropped, and the means cover the defined classes.
    """
    from sklearn.metrics import roc_auc_score

    y_true = _as_indices(y_true)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    per_class: dict[str, float | None] = {}
    supports: dict[str, int] = {}
    for index, name in enumerate(class_names):
        positives = y_true == index
        supports[name] = int(positives.sum())
        if positives.all() or not positives.any():
            per_class[name] = None
            continue
        per_class[name] = float(roc_auc_score(positives, probabilities[:, index]))
    defined = {name: value for name, value in per_class.items() if value is not None}
    weights = np.array([supports[name] for name in defined], dtype=np.float64)
    values = np.array(list(defined.values()), dtype=np.float64)
    return {
        "per_class": per_class,
        "macro": float(values.mean()) if len(values) else None,
        "weighted": float((values * weights).sum() / weights.sum()) if len(values) and weights.sum() else None,
        "undefined": [name for name, value in per_class.items() if value is None],
    }


def per_corpus_accuracy(
    y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray, corpora: Sequence[str]
) -> dict[str, dict[str, float]]:
    """Accuracy, macro F1 and sample count for each corpus, sorted by corpus name.

    >>> per_corpus_accuracy([0, 1, 1], [0, 1, 0], ["x", "y", "y"])["y"]["accuracy"]
    0.5
    """
    from sklearn.metrics import f1_score

    y_true, y_pred = _as_indices(y_true), _as_indices(y_pred)
    corpora = np.asarray(list(corpora))
    table: dict[str, dict[str, float]] = {}
    for corpus in sorted(set(corpora.tolist())):
        mask = corpora == corpus
        table[corpus] = {
            "num_samples": int(mask.sum()),
            "accuracy": float(np.mean(y_true[mask] == y_pred[mask])),
            "macro_f1": float(f1_score(y_true[mask], y_pred[mask], average="macro", zero_division=0)),
        }
    return table


def top_confusions(cm: np.ndarray, class_names: Sequence[str], k: int = 10) -> list[dict[str, Any]]:
    """The ``k`` largest off-diagonal cells: which true class is most often taken for which.

    ``share_of_true`` is the count over the true class's support (the row-normalised cell).

    >>> top_confusions(np.array([[5, 3], [1, 4]]), ["a", "b"], k=1)
    [{'true': 'a', 'predicted': 'b', 'count': 3, 'share_of_true': 0.375}]
    """
    cm = np.asarray(cm)
    shares = normalize_rows(cm)
    cells = [(int(cm[t, p]), t, p) for t in range(len(cm)) for p in range(len(cm)) if t != p and cm[t, p] > 0]
    cells.sort(key=lambda cell: (-cell[0], cell[1], cell[2]))
    return [
        {"true": class_names[t], "predicted": class_names[p], "count": count, "share_of_true": float(shares[t, p])}
        for count, t, p in cells[:k]
    ]


def build_report(
    y_true: Sequence[int] | np.ndarray,
    logits: np.ndarray,
    class_names: Sequence[str],
    corpora: Sequence[str] | None = None,
    top_k_confusions: int = 10,
) -> dict[str, Any]:
    """Every number of a test-set report, JSON-serialisable, from labels and [N, C] logits."""
    logits = np.asarray(logits, dtype=np.float64)
    y_true = _as_indices(y_true)
    if logits.ndim != 2 or logits.shape[0] != len(y_true) or logits.shape[1] != len(class_names):
        raise ValueError(
            f"logits of shape {tuple(logits.shape)} do not match {len(y_true)} labels and {len(class_names)} classes"
        )
    y_pred = logits.argmax(axis=1)
    cm = confusion_counts(y_true, y_pred, len(class_names))
    report: dict[str, Any] = {
        "class_names": list(class_names),
        "num_samples": int(len(y_true)),
        "classification_report": classification_report_dict(y_true, y_pred, class_names),
        "confusion_matrix": cm.tolist(),
        "confusion_matrix_normalized": normalize_rows(cm).tolist(),
        "roc_auc_ovr": roc_auc_one_vs_rest(y_true, softmax(logits), class_names),
        "top_confusions": top_confusions(cm, class_names, top_k_confusions),
    }
    if corpora is not None:
        report["per_corpus"] = per_corpus_accuracy(y_true, y_pred, corpora)
    return report


def summary_row(report: dict[str, Any]) -> dict[str, float | None]:
    """The headline numbers of a report: accuracy, macro/weighted F1, macro recall (UAR), macro AUC."""
    classification = report["classification_report"]
    return {
        "accuracy": classification["accuracy"],
        "macro_f1": classification["macro avg"]["f1-score"],
        "weighted_f1": classification["weighted avg"]["f1-score"],
        "uar": classification["macro avg"]["recall"],
        "roc_auc_macro": report["roc_auc_ovr"]["macro"],
    }


def _write_per_corpus_csv(table: dict[str, dict[str, float]], path: Path) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["corpus", "num_samples", "accuracy", "macro_f1"])
        for corpus, row in table.items():
            writer.writerow([corpus, row["num_samples"], f"{row['accuracy']:.4f}", f"{row['macro_f1']:.4f}"])


def format_classification_report(report: dict[str, Any]) -> str:
    """The classification report as the fixed-width text table sklearn prints."""
    classification = report["classification_report"]
    lines = [f"{'':>16} {'precision':>9} {'recall':>9} {'f1-score':>9} {'support':>9}"]
    for name in [*report["class_names"], "macro avg", "weighted avg"]:
        row = classification[name]
        lines.append(f"{name:>16} {row['precision']:9.4f} {row['recall']:9.4f} {row['f1-score']:9.4f} "
                     f"{int(row['support']):9d}")
    lines.append(f"{'accuracy':>16} {'':>9} {'':>9} {classification['accuracy']:9.4f} {report['num_samples']:9d}")
    if "coverage" in report:  # evaluation/coverage.py: "scored N of M <split> samples (...)"
        lines.append(report["coverage"]["summary"])
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, Any], folder: str | Path) -> dict[str, Path]:
    """Write report.json, the text classification report, both confusion PNGs and per_corpus.csv."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cm = np.asarray(report["confusion_matrix"])
    names = report["class_names"]
    paths = {
        "json": folder / REPORT_JSON,
        "text": folder / "classification_report.txt",
        "confusion_counts": plot_confusion_matrix(cm, names, folder / "confusion_counts.png", normalize=False),
        "confusion_normalized": plot_confusion_matrix(cm, names, folder / "confusion_normalized.png", normalize=True),
    }
    paths["json"].write_text(json.dumps(report, indent=2, sort_keys=True))
    paths["text"].write_text(format_classification_report(report))
    if "per_corpus" in report:
        paths["per_corpus"] = folder / "per_corpus.csv"
        _write_per_corpus_csv(report["per_corpus"], paths["per_corpus"])
    return paths
