"""torchmetrics for emotion classification, synchronised across ranks by torchmetrics itself.

Names follow ``{stage}/{metric}`` with the SER literature's metrics, one name each: ``ua``
(unweighted average recall = balanced accuracy), ``wa`` (weighted accuracy = accuracy),
``macro_f1`` and ``weighted_f1`` (the seeds' headline score and the default checkpoint monitor),
plus macro and weighted precision. Macro recall is UA and weighted recall equals WA for
single-label classification, so neither is logged twice under another name.
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
    """UA, WA, macro/weighted F1 and precision; keys like ``val/ua``, ``val/weighted_f1``."""
    kwargs = {"num_classes": num_classes}
    return MetricCollection(
        {
            "ua": MulticlassRecall(average="macro", **kwargs),
            "wa": MulticlassAccuracy(average="micro", **kwargs),
            "macro_f1": MulticlassF1Score(average="macro", **kwargs),
            "weighted_f1": MulticlassF1Score(average="weighted", **kwargs),
            "precision_macro": MulticlassPrecision(average="macro", **kwargs),
            "precision_weighted": MulticlassPrecision(average="weighted", **kwargs),
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
