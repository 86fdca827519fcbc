"""Can a model trained on one taxonomy be scored on shards prepared with another?

Same class names (in any order): yes, logits are reordered to the data's order. Different names:
only when a class mapping is declared, ``{model_class: data_class or None}``. Model classes mapped
to the same data class are merged (their probabilities add up); a class mapped to None is dropped
(its probability mass is left out and the rest renormalised). Data classes that no model class
reaches cannot be predicted: their samples are excluded from scoring and counted in the report.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import torch


class TaxonomyMismatchError(ValueError):
    """Model and data classes differ and no mapping says how to relate them."""


@dataclass(frozen=True)
class ClassMapping:
    """How model logits become logits over the data's classes."""

    data_classes: list[str]
    # sources[j]: model class indices whose probabilities make up data class j (empty: unreachable)
    sources: list[list[int]]
    dropped_model_classes: list[str] = field(default_factory=list)

    @property
    def unreachable(self) -> list[str]:
        return [name for name, src in zip(self.data_classes, self.sources) if not src]

    @property
    def is_identity(self) -> bool:
        return all(src == [index] for index, src in enumerate(self.sources)) and not self.dropped_model_classes

    def apply(self, logits: torch.Tensor) -> torch.Tensor:
        """[B, C_model] logits -> [B, C_data] log-probabilities (up to a constant per row).

        Grouped classes are combined with logsumexp (= adding probabilities); unreachable data
        classes get -inf, so they are never predicted and their probability is 0.
        """
        if self.is_identity:
            return logits
        columns = [
            torch.logsumexp(logits[:, src], dim=1) if src else torch.full_like(logits[:, 0], float("-inf"))
            for src in self.sources
        ]
        return torch.stack(columns, dim=1)


def _difference_message(model_classes: Sequence[str], data_classes: Sequence[str], where: str) -> str:
    only_model = [c for c in model_classes if c not in data_classes]
    only_data = [c for c in data_classes if c not in model_classes]
    return (
        f"the model's classes do not match the classes of {where}: "
        f"only in the model: {only_model or 'none'}; only in the data: {only_data or 'none'} "
        f"(model: {list(model_classes)}, data: {list(data_classes)}). "
        "Declare a class mapping (class_mapping: {model_class: data_class or null}) to evaluate across taxonomies."
    )


def resolve_class_mapping(
    model_classes: Sequence[str], data_classes: Sequence[str],
    mapping: Mapping[str, str | None] | None = None, where: str = "the data",
) -> ClassMapping:
    """The ClassMapping from a model's classes to the data's, or TaxonomyMismatchError naming the differences.

    >>> resolve_class_mapping(["b", "a"], ["a", "b"]).sources
    [[1], [0]]
    >>> m = resolve_class_mapping(["joy", "anger", "boredom"], ["anger", "happy"], {"joy": "happy", "boredom": None})
    >>> m.sources, m.dropped_model_classes
    ([[1], [0]], ['boredom'])
    """
    mapping = dict(mapping or {})
    if not mapping:
        if sorted(model_classes) != sorted(data_classes) or len(set(model_classes)) != len(model_classes):
            raise TaxonomyMismatchError(_difference_message(model_classes, data_classes, where))
        return ClassMapping(list(data_classes), [[list(model_classes).index(c)] for c in data_classes])
    unknown_keys = [key for key in mapping if key not in model_classes]
    if unknown_keys:
        raise TaxonomyMismatchError(f"class_mapping names {unknown_keys}, which are not model classes {list(model_classes)}")
    sources: list[list[int]] = [[] for _ in data_classes]
    dropped: list[str] = []
    for index, name in enumerate(model_classes):
        target = mapping.get(name, name)
        if target is None:
            dropped.append(name)
        elif target in data_classes:
            sources[list(data_classes).index(target)].append(index)
        else:
            raise TaxonomyMismatchError(
                f"model class {name!r} maps to {target!r}, which is not a class of {where} {list(data_classes)}; "
                f"map it to one of those or to null to drop it"
            )
    return ClassMapping(list(data_classes), sources, dropped)

