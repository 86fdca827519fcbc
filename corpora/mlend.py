"""MLEnd Spoken Numerals (Requena-Carrion & Bajaj 2022, QMUL; kaggle.com/datasets/jesusrequena/mlend-spoken-numerals).

Speakers read English numerals ("zero" ... "billion") in four intonations: neutral, bored,
excited, question. Layout: ``MLEndSND_Public/00000.wav`` (five-digit public file number)
with ``MLEndSND_Audio_Attributes.csv`` (columns Public filename, Numeral, Intonation,
Speaker) and, optionally, ``MLEndSND_Speakers_Demographics.csv`` (Speaker, Language1,
Language2, Nationality, ...). The public numbering has gaps, so the CSV, not the folder,
says which files exist: an audio file without a row, and a row without a file, are reported.
The attributes CSV can be named with option ``csv_file`` (path relative to the root).
"""
from __future__ import annotations

from pathlib import Path

from corpora._common import ListingBuilder, audio_files, by_preference, read_csv_rows
from corpora.record import AttributeValue, CorpusListing
from corpora.registry import register_corpus

ATTRIBUTES_CSV = "MLEndSND_Audio_Attributes.csv"
DEMOGRAPHICS_CSV = "MLEndSND_Speakers_Demographics.csv"
REQUIRED = ("Public filename", "Intonation", "Speaker")


@register_corpus("mlend")
def read_mlend(root: Path, csv_file: str | None = None) -> CorpusListing:
    builder = ListingBuilder("mlend", root)
    table = root / csv_file if csv_file else _find(root, ATTRIBUTES_CSV)
    if table is None or not table.is_file():
        raise FileNotFoundError(f"corpus 'mlend': {csv_file or ATTRIBUTES_CSV} not found below {root} (option csv_file)")
    rows = _rows_by_number(table)
    demographics = _demographics(root)
    listed: set[int] = set()
    for path in by_preference(audio_files(builder, root)):
        if not path.stem.isdigit():
            builder.problem(path, "name is not an MLEnd public file number (e.g. 00042.wav)")
            continue
        number = int(path.stem)
        if number not in rows:
            builder.problem(path, f"no row for public file {number} in {table.name}")
            continue
        line, row = rows[number]
        attributes: dict[str, AttributeValue] = {"public_filename": number, "numeral": row.get("Numeral") or None}
        attributes.update(demographics.get(row["Speaker"], {}))
        if builder.add(path, row["Intonation"].lower(), row["Speaker"], attributes, identity=number):
            listed.add(number)
    for number, (line, _) in sorted(rows.items()):
        if number not in listed:
            builder.problem(table, f"line {line}: no audio file for public file {number:05d}")
    return builder.build()


def _find(root: Path, name: str) -> Path | None:
    matches = sorted((p for p in root.rglob("*.csv") if p.name.casefold() == name.casefold()), key=lambda p: p.as_posix())
    return matches[0] if matches else None


def _rows_by_number(table: Path) -> dict[int, tuple[int, dict[str, str]]]:
    """Public file number -> (CSV line, row); the column holds 42, 00042 or 00042.wav."""
    rows: dict[int, tuple[int, dict[str, str]]] = {}
    for line, row in read_csv_rows(table, required=REQUIRED):
        stem = Path(row["Public filename"]).stem
        if not stem.isdigit():
            raise ValueError(f"{table} line {line}: Public filename {row['Public filename']!r} is not a file number")
        rows[int(stem)] = (line, row)
    return rows


def _demographics(root: Path) -> dict[str, dict[str, AttributeValue]]:
    table = _find(root, DEMOGRAPHICS_CSV)
    if table is None:
        return {}
    return {
        row["Speaker"]: {"nationality": row.get("Nationality") or None, "language1": row.get("Language1") or None,
                         "language2": row.get("Language2") or None}
        for _, row in read_csv_rows(table, required=("Speaker",))
    }
