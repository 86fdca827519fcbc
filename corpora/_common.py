"""What every corpus reader shares: walking a tree, telling audio from other files,
matching folder names in any case, and collecting records, problems and skips.

Readers only list files; decoding happens once, later, in data preparation (which decodes
by content, so a FLAC stream named ``.wav`` is fine here).
"""
from __future__ import annotations

import csv
import os
from collections import Counter
from pathlib import Path
from typing import Callable, Hashable, Iterable, Iterator, TypeVar

from corpora.audio_suffixes import CORPUS_AUDIO_SUFFIXES, LOSSLESS_FIRST
from corpora.record import AttributeValue, AudioRecord, CorpusListing, ReaderProblem

# Operating-system litter that travels with downloaded copies; counted as skipped, not listed.
OS_LITTER = frozenset({".ds_store", "thumbs.db", "desktop.ini"})
MACOS_METADATA = "macOS metadata (__MACOSX/, ._*, .DS_Store, Thumbs.db)"
Parsed = TypeVar("Parsed")


class ConventionError(ValueError):
    """A file that does not fit its corpus's naming convention; the message says how."""


def is_audio(path: Path, suffixes: frozenset[str] = CORPUS_AUDIO_SUFFIXES) -> bool:
    """True when the file's extension (any case) names an audio container (``suffixes`` in lower case)."""
    return path.suffix.lower() in suffixes


def is_os_litter(path: Path) -> bool:
    """macOS AppleDouble files (``._x.wav``, ``__MACOSX/``) and desktop index files."""
    name = path.name.lower()
    return name.startswith("._") or name in OS_LITTER or "__MACOSX" in path.parts


def walk_files(root: Path, skipped: Callable[[Path, str], None] = lambda path, reason: None) -> list[Path]:
    """Every file below ``root``, sorted by path so listings are reproducible.

    Symbolic links to folders are followed (a corpus assembled from links is common), each real
    folder once: a link back to a folder already read (a loop) is not followed and is passed to
    ``skipped`` with its reason, as is a link that points nowhere.
    """
    files: list[Path] = []
    seen = {os.path.realpath(root)}
    for folder, dirs, names in os.walk(root, followlinks=True):
        here = Path(folder)
        for name in sorted(dirs):
            real = os.path.realpath(here / name)
            if real in seen:
                dirs.remove(name)
                skipped(here / name, f"symbolic link to {real}, a folder already read (a loop or a second link); "
                                     "not followed")
            else:
                seen.add(real)
        for name in names:
            path = here / name
            if path.is_file():
                files.append(path)
            elif path.is_symlink():
                skipped(path, f"broken symbolic link (points to {os.readlink(path)}, which does not exist)")
    return sorted(files, key=lambda p: p.as_posix())


def find_dirs(root: Path, name: str, recursive: bool = True) -> list[Path]:
    """Outermost folders below ``root`` named ``name`` in any letter case, sorted.

    Downloaded copies rename folders inconsistently (``AudioWAV`` / ``audiowav``), so a reader
    never trusts case. A match inside another match (``wav/wav/``) is left out: the outer one
    already contains it, and reading both would list its files twice.
    """
    wanted = name.casefold()
    candidates = root.rglob("*") if recursive else root.iterdir()
    found = sorted((p for p in candidates if p.is_dir() and p.name.casefold() == wanted), key=lambda p: p.as_posix())
    return [p for p in found if not any(other in p.parents for other in found)]


def read_csv_rows(path: Path, required: Iterable[str] = ()) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) for each data row of a CSV file, values stripped.

    Corpus CSVs come from spreadsheets: a BOM, stray spaces and non-UTF-8 bytes are common,
    so undecodable bytes are replaced rather than failing the whole corpus. A missing
    ``required`` column raises ``ValueError`` naming the file and the column.
    """
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None:
            raise ValueError(f"{path}: CSV file is empty (no header row)")
        reader.fieldnames = [name.strip() for name in reader.fieldnames]
        missing = [name for name in required if name not in reader.fieldnames]
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(reader.fieldnames)}")
        return [(reader.line_num, {k: (v or "").strip() for k, v in row.items() if k is not None}) for row in reader]


class ListingBuilder:
    """Collects a reader's records, problems and skips; drops a second copy of a recording.

    ``identity`` is what the corpus's naming convention says makes a recording unique (for
    example RAVDESS's seven-part stem); a second file with the same identity is reported as
    "listed twice" and the first one kept. Callers add files in preference order.
    """

    def __init__(self, corpus: str, root: Path) -> None:
        self.corpus = corpus
        self.root = root
        self._records: list[AudioRecord] = []
        self._problems: list[ReaderProblem] = []
        self._skipped: Counter[str] = Counter()
        self._seen: dict[Hashable, AudioRecord] = {}
        self._where: dict[Hashable, str] = {}

    def relative(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

    def problem(self, path: Path, reason: str) -> None:
        self._problems.append(ReaderProblem(path=path, corpus=self.corpus, reason=reason))

    def skip(self, reason: str, count: int = 1) -> None:
        self._skipped[reason] += count

    def add(
        self,
        path: Path,
        native_label: str,
        speaker: str,
        attributes: dict[str, AttributeValue] | None = None,
        identity: Hashable | None = None,
        where: str = "",
    ) -> bool:
        """Add a record unless its identity was already listed; returns whether it was added.

        ``where`` names the listing (``metadata.csv line 7``), so a second listing that gives the
        recording another label is reported with both rows and both labels.
        """
        key = identity if identity is not None else path
        record = AudioRecord(path=path, corpus=self.corpus, native_label=native_label, speaker=speaker,
                             attributes=dict(attributes or {}))
        if key in self._seen:
            self._listed_twice(key, record, where)
            return False
        self._seen[key] = record
        self._where[key] = where
        self._records.append(record)
        return True

    def _listed_twice(self, key: Hashable, record: AudioRecord, where: str) -> None:
        first, first_where = self._seen[key], self._where[key]
        first_at = f"{self.relative(first.path)}" + (f" ({first_where})" if first_where else "")
        if first.native_label == record.native_label:
            kind, reason = "duplicate", f"same recording as {first_at} (listed twice; that copy is kept)"
        else:
            kind = "label conflict"
            reason = (f"same recording as {first_at} labelled {first.native_label!r}; this listing"
                      + (f" ({where})" if where else "") + f" says {record.native_label!r}; the first is kept")
        self._problems.append(ReaderProblem(path=record.path, corpus=self.corpus, reason=reason, kind=kind, record=record))

    def build(self) -> CorpusListing:
        records = sorted(self._records, key=lambda r: r.path.as_posix())
        problems = sorted(self._problems, key=lambda p: (p.path.as_posix(), p.reason))
        return CorpusListing(corpus=self.corpus, root=self.root, records=records, problems=problems, skipped=dict(self._skipped))


def audio_files(
    builder: ListingBuilder,
    top: Path,
    companion: Callable[[Path], bool] = lambda path: False,
    suffixes: frozenset[str] = CORPUS_AUDIO_SUFFIXES,
) -> list[Path]:
    """Audio files below ``top``; reports the non-audio files that sit among them.

    A non-audio file counts as a problem only in a folder that also holds audio: metadata
    folders, video folders and documentation beside the audio are not the reader's business.
    ``companion`` names files the corpus ships next to its audio on purpose (transcripts).
    """
    files = walk_files(top, skipped=builder.problem)
    audio_dirs = {p.parent for p in files if is_audio(p, suffixes) and not is_os_litter(p)}
    found: list[Path] = []
    for path in files:
        if is_os_litter(path):
            builder.skip(MACOS_METADATA)
        elif is_audio(path, suffixes):
            found.append(path)
        elif path.parent in audio_dirs and not companion(path):
            builder.problem(path, f"not an audio file (extension {path.suffix or 'none'!r}) among the audio")
    return found


def by_preference(paths: Iterable[Path], order: tuple[str, ...] = LOSSLESS_FIRST) -> list[Path]:
    """Paths sorted so that, of two copies of one recording, the lossless one is listed first."""

    def rank(path: Path) -> tuple[int, str]:
        suffix = path.suffix.lower()
        return (order.index(suffix) if suffix in order else len(order), path.as_posix())

    return sorted(paths, key=rank)


def parsed_files(
    builder: ListingBuilder, files: Iterable[Path], parse: Callable[[Path], Parsed]
) -> Iterator[tuple[Path, Parsed]]:
    """Each file with what ``parse`` reads from its path, lossless copies first (``by_preference``).

    For readers whose files carry everything in their names: a file that breaks the corpus's naming
    convention (``parse`` raises ConventionError) is reported on ``builder`` with that reason and left out.
    """
    for path in by_preference(files):
        try:
            parsed = parse(path)
        except ConventionError as error:
            builder.problem(path, str(error))
            continue
        yield path, parsed
