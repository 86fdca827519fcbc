"""torchmetrics for emotion classification, synchronised across ranks by torchmetrics itself.

Names follow ``{stage}/{metric}``: ``val/f1_weighted`` (the seeds' headline score and the default
checkpoint monitor), ``val/f1_macro``, ``val/recall_macro`` (UAR, the SER literature's score).
"""
from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor
from torchmetrics import MetricCollection
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassConfusionMatrix,
    MulticlassF1Score,
    MulticlassPrecision,
    MulticlassRecall,
)


def summary_metrics(num_classes: int, prefix: str) -> MetricCollection:
    """Accuracy, weighted and macro F1, precision and recall; keys like ``val/f1_weighted``."""
    kwargs = {"num_classes": num_classes}
    return MetricCollection(
        {
            "acc": MulticlassAccuracy(average="micro", **kwargs),
            "f1_weighted": MulticlassF1Score(average="weighted", **kwargs),
            "f1_macro": MulticlassF1Score(average="macro", **kwargs),
            "precision_weighted": MulticlassPrecision(average="weighted", **kwargs),
            "precision_macro": MulticlassPrecision(average="macro", **kwargs),
            "recall_weighted": MulticlassRecall(average="weighted", **kwargs),
            "recall_macro": MulticlassRecall(average="macro", **kwargs),
        },
        prefix=f"{prefix}/",
    )


def per_class_metrics(num_classes: int) -> MetricCollection:
    """Per-class F1 (vector) and the confusion matrix: computed at epoch end, not per step."""
    return MetricCollection(
        {
            "f1_per_class": MulticlassF1Score(num_classes=num_classes, average=None),
            "confusion": MulticlassConfusionMatrix(num_classes=num_classes),
        }
    )


def per_class_scalars(prefix: str, f1: Tensor, class_names: Sequence[str]) -> dict[str, float]:
    """``{prefix}/f1/{class}`` -> value, for loggers that take scalars only."""
    return {f"{prefix}/f1/{name}": float(value) for name, value in zip(class_names, f1)}
