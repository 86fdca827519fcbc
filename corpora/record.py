"""The one record type every corpus reader yields, so the rest of the pipeline never
needs to know which corpus a file came from."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Union

AttributeValue = Union[str, int, float, bool, None]


@dataclass(frozen=True)
class AudioRecord:
    """One audio file of a corpus, as its reader understood it.

    ``attributes`` holds whatever else the corpus encodes (gender, intensity, sentence,
    repetition, statement, ...); keys are lower_snake_case and values JSON-serialisable.
    """

    path: Path
    corpus: str
    native_label: str
    speaker: str
    attributes: Mapping[str, AttributeValue] = field(default_factory=dict)


@dataclass(frozen=True)
class ReaderProblem:
    """A file the reader saw but could not place in the corpus's convention.

    ``kind`` is the reason's category; a second listing of one recording ("duplicate", or
    "label conflict" when the listings disagree) keeps its ``record``, so its manifest row still
    shows the label and speaker it was listed with.
    """

    path: Path
    corpus: str
    reason: str
    kind: str = "reader"
    record: AudioRecord | None = None


@dataclass
class CorpusListing:
    """What a reader found under a corpus root: records it understood, problems it did not."""

    corpus: str
    root: Path
    records: list[AudioRecord] = field(default_factory=list)
    problems: list[ReaderProblem] = field(default_factory=list)
    # Files left out on purpose, reason -> count (an option such as RAVDESS song, macOS
    # metadata files), so the manifest can account for every file without listing them.
    skipped: dict[str, int] = field(default_factory=dict)
