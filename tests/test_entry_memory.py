"""The main process holds one Entry per input file for the whole preparation, so an entry's size
sets how the preparation's memory grows with the corpus (issue 24: at 100,000 clips the process
tree's PSS was 1.7x that at 10,000, against a goal of 1.5x)."""
from __future__ import annotations

import csv
import gc
import tracemalloc
from pathlib import Path

from data_preparation.config import CorpusSpec
from data_preparation.inputs.entries import collect_inputs

CLIPS = 3000
SPEAKERS = 30


def _csv_corpus(root: Path) -> list[CorpusSpec]:
    """A csv corpus as users lay one out: audio/<speaker>/<file>, one metadata row each (empty files:
    listing reads no audio)."""
    rows = []
    for n in range(CLIPS):
        relative = f"audio/spk{n % SPEAKERS:02d}/session_{n // 100:02d}_clip_{n:06d}.wav"
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).touch()
        rows.append([relative, ("anger", "happy", "neutral", "sad")[n % 4], f"spk{n % SPEAKERS:02d}"])
    with (root / "metadata.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([["path", "label", "speaker"], *rows])
    return [CorpusSpec("csv", str(root), {"name": "users"})]


def _bytes_held(specs: list[CorpusSpec]) -> tuple[int, int]:
    """Traced bytes that the listed inputs keep alive once listing is over, and how many entries."""
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    inputs = collect_inputs(specs, "four")
    gc.collect()
    return tracemalloc.get_traced_memory()[0] - before, len(inputs.entries)


def test_an_input_entry_costs_the_main_process_a_few_hundred_bytes(tmp_path: Path) -> None:
    """Slots, the file as a string under the root its corpus shares, interned speaker and label names
    and no empty dict of attributes of its own: 265 B an entry here, where a dataclass with a
    __dict__, a Path per file (a list of its parts) and a dict each held 689 B."""
    specs = _csv_corpus(tmp_path)
    tracemalloc.start()
    try:
        _bytes_held(specs)  # the first listing also fills caches (imports, interned names) that stay
        held, entries = _bytes_held(specs)
    finally:
        tracemalloc.stop()
    assert entries == CLIPS
    assert held / entries < 450, f"{held / entries:.0f} bytes per entry"
