"""One taxonomy for all corpora: native labels -> canonical emotions -> a taxonomy's classes.

Three configs drive it, so a study changes classes without touching code:

* ``configs/labels/canonical.yaml``: the canonical emotion vocabulary, spelled once.
* ``configs/labels/<corpus>.yaml``: one table per corpus, native label -> canonical emotion,
  or null for "excluded on purpose" (IEMOCAP xxx/oth). Native labels match in any case.
* ``configs/taxonomy/<name>.yaml``: the classes a model predicts, plus ``merge`` rules applied
  after the table (``calm: neutral`` folds RAVDESS calm into neutral, as seed 004 did).

A native label that no table knows stops preparation: guessing would silently mislabel data.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Mapping

import yaml

from corpora.record import AudioRecord

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"
LABELS_DIR = CONFIG_DIR / "labels"
TAXONOMY_DIR = CONFIG_DIR / "taxonomy"
# Readers whose labels are already canonical names (the user's own data, the demo corpus).
GENERIC_READERS = frozenset({"folder", "csv"})

LabelTable = dict[str, "str | None"]


class UnknownLabelError(ValueError):
    """Native labels that no label table knows, with how often each occurs and one example file."""

    def __init__(self, unknown: Mapping[tuple[str, str], tuple[int, Path]]) -> None:
        self.unknown = dict(unknown)
        lines = [
            f"  {corpus}: {label!r} x{count} (e.g. {example})"
            for (corpus, label), (count, example) in sorted(self.unknown.items())
        ]
        super().__init__(
            f"{len(self.unknown)} native label(s) missing from the label tables "
            f"(add them to configs/labels/<corpus>.yaml or to the corpus's label overrides; "
            f"null excludes a label on purpose):\n" + "\n".join(lines)
        )


@dataclass
class Taxonomy:
    """The classes a model predicts, in output order, and the merges applied before choosing."""

    name: str
    classes: list[str]
    merge: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        vocabulary = set(canonical_emotions())
        where = f"taxonomy {self.name!r}"
        _check_canonical(self.classes, vocabulary, f"{where} classes")
        if len(set(self.classes)) != len(self.classes):
            duplicates = sorted(c for c, n in Counter(self.classes).items() if n > 1)
            raise ValueError(f"{where}: class(es) listed twice: {', '.join(duplicates)}")
        _check_canonical(list(self.merge) + list(self.merge.values()), vocabulary, f"{where} merge")


@dataclass(frozen=True)
class LabelDecision:
    """What the taxonomy made of one record: its class, or None and why it was left out."""

    record: AudioRecord
    label: str | None
    reason: str | None = None


@lru_cache(maxsize=1)
def canonical_emotions() -> tuple[str, ...]:
    """The canonical emotion names of configs/labels/canonical.yaml, in file order."""
    path = LABELS_DIR / "canonical.yaml"
    emotions = _read_yaml(path).get("emotions")
    if not isinstance(emotions, list) or not all(isinstance(e, str) for e in emotions):
        raise ValueError(f"{path}: 'emotions' must be a list of names")
    return tuple(emotions)


def load_taxonomy(name_or_path: str) -> Taxonomy:
    """A taxonomy by name (configs/taxonomy/<name>.yaml) or by path to a YAML file."""
    path = Path(name_or_path)
    if path.suffix not in {".yaml", ".yml"}:
        path = TAXONOMY_DIR / f"{name_or_path}.yaml"
        if not path.is_file():
            known = sorted(p.stem for p in TAXONOMY_DIR.glob("*.yaml"))
            raise ValueError(f"unknown taxonomy {name_or_path!r}; known: {', '.join(known)} (or give a path to a .yaml)")
    data = _read_yaml(path)
    unknown_keys = set(data) - {"name", "classes", "merge"}
    if unknown_keys:
        raise ValueError(f"{path}: unknown key(s) {', '.join(sorted(unknown_keys))}; expected name, classes, merge")
    classes = data.get("classes")
    if not isinstance(classes, list) or not classes:
        raise ValueError(f"{path}: 'classes' must be a non-empty list of canonical emotion names")
    merge = data.get("merge") or {}
    if not isinstance(merge, dict):
        raise ValueError(f"{path}: 'merge' must map canonical emotion -> canonical emotion")
    return Taxonomy(name=str(data.get("name", path.stem)), classes=[str(c) for c in classes], merge=dict(merge))


def load_label_table(corpus: str, overrides: Mapping[str, str | None] | None = None) -> LabelTable:
    """Native label -> canonical emotion (None = excluded on purpose) for one corpus.

    ``corpus`` is a reader name. The generic readers ("folder", "csv") expect canonical names
    already, so their table is the identity over the canonical vocabulary. ``overrides`` replace
    or add entries (matched in any case), e.g. ``{"angry": "anger"}`` for a user's folders.
    """
    vocabulary = canonical_emotions()
    if corpus in GENERIC_READERS:
        table: LabelTable = {emotion: emotion for emotion in vocabulary}
        source = f"identity table of reader {corpus!r}"
    else:
        path = LABELS_DIR / f"{corpus}.yaml"
        if not path.is_file():
            known = sorted(p.stem for p in LABELS_DIR.glob("*.yaml") if p.stem != "canonical")
            raise ValueError(f"no label table for corpus {corpus!r} ({path} missing); tables exist for: {', '.join(known)}")
        labels = _read_yaml(path).get("labels")
        if not isinstance(labels, dict) or not labels:
            raise ValueError(f"{path}: 'labels' must map native label -> canonical emotion or null")
        table = {str(k): (None if v is None else str(v)) for k, v in labels.items()}
        source = str(path)
    for native, canonical in (overrides or {}).items():
        for existing in [k for k in table if k.casefold() == str(native).casefold()]:
            del table[existing]
        table[str(native)] = None if canonical is None else str(canonical)
    _check_canonical([v for v in table.values() if v is not None], set(vocabulary), f"label table of {corpus!r} ({source})")
    folded = Counter(k.casefold() for k in table)
    clashes = sorted(k for k in table if folded[k.casefold()] > 1)
    if clashes:
        raise ValueError(f"label table of {corpus!r} ({source}): labels differ only in case: {', '.join(clashes)}")
    return table


def map_labels(records: Iterable[AudioRecord], taxonomy: Taxonomy, tables: Mapping[str, Mapping[str, str | None]]) -> list[LabelDecision]:
    """Decide every record's class; raise UnknownLabelError listing all unknown native labels.

    ``tables`` is keyed by ``record.corpus``. All records are examined before raising, so one
    run reports every label a user has to add, with counts and an example file each.
    """
    folded = {corpus: {k.casefold(): v for k, v in table.items()} for corpus, table in tables.items()}
    classes = set(taxonomy.classes)
    decisions: list[LabelDecision] = []
    unknown: dict[tuple[str, str], tuple[int, Path]] = {}
    for record in records:
        if record.corpus not in folded:
            raise ValueError(f"no label table for corpus {record.corpus!r} (tables given for: {', '.join(sorted(folded)) or 'none'})")
        table = folded[record.corpus]
        key = record.native_label.casefold()
        if key not in table:
            count, example = unknown.get((record.corpus, record.native_label), (0, record.path))
            unknown[(record.corpus, record.native_label)] = (count + 1, example)
            continue
        canonical = table[key]
        if canonical is None:
            decisions.append(LabelDecision(record, None, f"excluded by label table ({record.corpus}: {record.native_label!r} -> null)"))
            continue
        label = taxonomy.merge.get(canonical, canonical)
        if label in classes:
            decisions.append(LabelDecision(record, label, None))
        else:
            decisions.append(LabelDecision(record, None, f"class {label!r} not in taxonomy {taxonomy.name!r}"))
    if unknown:
        raise UnknownLabelError(unknown)
    return decisions


def drop_rare_classes(labels: Iterable[str], min_share: float) -> set[str]:
    """Classes whose share of ``labels`` is below ``min_share`` (seed 000 dropped ~2.5% this way).

    >>> sorted(drop_rare_classes(["happy"] * 98 + ["calm", "excited"], 0.02))
    ['calm', 'excited']
    """
    if not 0.0 <= min_share < 1.0:
        raise ValueError(f"min_share must be in [0, 1), got {min_share}")
    counts = Counter(labels)
    total = sum(counts.values())
    return {label for label, count in counts.items() if count / total < min_share} if total else set()


def apply_rare_drop(decisions: Iterable[LabelDecision], min_share: float) -> tuple[list[LabelDecision], set[str]]:
    """Decisions with rare classes turned into drops (reason names the share), and those classes."""
    decisions = list(decisions)
    kept = [d.label for d in decisions if d.label is not None]
    rare = drop_rare_classes(kept, min_share)
    counts, total = Counter(kept), len(kept)
    result = [
        LabelDecision(d.record, None, f"class {d.label!r} is rare ({counts[d.label] / total:.2%} < {min_share:.2%} of the data)")
        if d.label in rare
        else d
        for d in decisions
    ]
    return result, rare


def _check_canonical(names: Iterable[str], vocabulary: set[str], where: str) -> None:
    bad = sorted({str(n) for n in names} - vocabulary)
    if bad:
        raise ValueError(f"{where}: not canonical emotion name(s): {', '.join(bad)}; canonical: {', '.join(sorted(vocabulary))}")


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return data
