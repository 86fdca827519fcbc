"""Every input file of every configured corpus, as one Entry each, with its class decided.

Corpus readers list files; the taxonomy turns native labels into classes. Files a reader could
not place become entries too (dropped, with the reader's reason), so the manifest accounts for
every file. An unknown native label stops everything here, before any audio is decoded.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import corpora
from corpora.record import AudioRecord, ReaderProblem
from corpora.taxonomy import Taxonomy, load_label_table, load_taxonomy, map_labels
from data_preparation.config import CorpusSpec
from data_preparation.quality.reasons import Reason

DROPPED = "dropped"
NO_ATTRIBUTES: Mapping[str, Any] = MappingProxyType({})  # one read-only empty mapping, shared by every entry without


def _no_attributes() -> Mapping[str, Any]:
    return NO_ATTRIBUTES


@dataclass(slots=True)
class Entry:
    """One input file on its way through preparation; ``reason`` set means it was set aside.

    The main process holds one per input file for the whole run (100,000 clips: issue 24), so an
    entry is kept small: slots, no per-instance dict; the file as a string under the corpus root
    that all entries of a corpus share, not a Path of its own (a Path keeps a list of its parts);
    interned speaker and label names; one shared empty mapping.
    """

    corpus: str
    root: Path
    source: str  # the path relative to ``root``, with forward slashes (absolute when outside it)
    native_label: str
    speaker: str
    attributes: Mapping[str, Any] = field(default_factory=_no_attributes)
    label: str | None = None
    reason: Reason | None = None
    duration: float | None = None  # seconds at 16 kHz, as decoded; None when nothing was decoded
    header_duration: float | None = None  # seconds the file's header declares (None: it does not say)
    truncated: bool = False  # its data ends before the header says
    trimmed: float = 0.0  # seconds of leading/trailing silence cut by ``trim:`` (duration + trimmed = as decoded)
    digest: str | None = None
    native_rate: int | None = None
    native_channels: int | None = None
    split: str | None = None
    key: str = ""

    @property
    def path(self) -> Path:
        return self.root / self.source

    @property
    def fate(self) -> str:
        return DROPPED if self.reason is not None else (self.split or "")

    @property
    def kept(self) -> bool:
        return self.reason is None


@dataclass
class Inputs:
    """What the readers found: entries in a reproducible order, and files skipped on purpose."""

    taxonomy: Taxonomy
    entries: list[Entry]
    skipped: dict[str, dict[str, int]]  # corpus -> reason -> count (not listed one by one)


def collect_inputs(specs: list[CorpusSpec], taxonomy_name: str) -> Inputs:
    """Read every corpus, decide every record's class; raises UnknownLabelError before decoding.

    Labels are mapped for all corpora at once, so one error lists every unknown label.
    """
    taxonomy = load_taxonomy(taxonomy_name)
    listings, tables, roots = [], {}, {}
    for spec in specs:
        listing = corpora.read_corpus(spec.name, spec.root, **spec.options)
        if listing.corpus in tables:
            raise ValueError(
                f"corpora: two entries produce corpus name {listing.corpus!r} ({roots[listing.corpus]} and "
                f"{spec.root}); give one of them options.name"
            )
        tables[listing.corpus] = load_label_table(spec.name, spec.label_overrides or None)
        roots[listing.corpus] = spec.root
        listings.append(listing)
    # Second listings of a recording are labelled too, so their dropped rows keep label and speaker.
    listed_twice = [p.record for listing in listings for p in listing.problems if p.record is not None]
    decisions = map_labels([r for listing in listings for r in listing.records] + listed_twice, taxonomy, tables)
    label_of = {id(d.record): d.label for d in decisions}
    twice = {id(r) for r in listed_twice}
    decisions = [d for d in decisions if id(d.record) not in twice]
    by_corpus: dict[str, list[Entry]] = {listing.corpus: [] for listing in listings}
    for listing in listings:
        by_corpus[listing.corpus] += [_from_problem(p, listing.root, label_of) for p in listing.problems]
    root_of = {listing.corpus: listing.root for listing in listings}
    for decision in decisions:
        corpus = decision.record.corpus
        by_corpus[corpus].append(_from_record(decision.record, root_of[corpus], decision.label, decision.reason))
    entries = [e for listing in listings for e in sorted(by_corpus[listing.corpus], key=lambda e: e.source)]
    skipped = {listing.corpus: dict(getattr(listing, "skipped", {}) or {}) for listing in listings}
    return Inputs(taxonomy, entries, skipped)


def _from_record(record: AudioRecord, root: Path, label: str | None, reason: str | None) -> Entry:
    return Entry(record.corpus, root, source_of(root, record.path), sys.intern(record.native_label),
                 sys.intern(record.speaker), _attributes(record), label=label,
                 reason=None if reason is None else _label_reason(reason))


def source_of(root: Path, path: Path | str) -> str:
    """``path`` relative to ``root`` with forward slashes; absolute when it is outside ``root``.

    >>> source_of(Path("corpus"), Path("corpus/spk01/a.wav")), source_of(Path("corpus"), "/elsewhere/b.wav")
    ('spk01/a.wav', '/elsewhere/b.wav')
    """
    path = Path(path)
    try:
        return path.relative_to(root).as_posix()
    except ValueError:  # absolute, so that ``root / source`` is the file again
        return path.absolute().as_posix()


def _attributes(record: AudioRecord) -> Mapping[str, Any]:
    return dict(record.attributes) if record.attributes else NO_ATTRIBUTES


def _label_reason(text: str) -> Reason:
    """The taxonomy's message as a category ("not in taxonomy", "excluded by label table") and detail."""
    category = "excluded by label table" if text.startswith("excluded by label table") else "not in taxonomy"
    return Reason(category, None, text)


def _from_problem(problem: ReaderProblem, root: Path, label_of: dict[int, str | None]) -> Entry:
    reason = Reason(problem.kind, None, problem.reason)
    record = problem.record
    if record is None:
        return Entry(problem.corpus, root, source_of(root, problem.path), "", "", reason=reason)
    return Entry(problem.corpus, root, source_of(root, problem.path), sys.intern(record.native_label),
                 sys.intern(record.speaker), _attributes(record), label=label_of.get(id(record)), reason=reason)
