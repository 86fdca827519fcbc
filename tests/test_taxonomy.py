"""Label tables, taxonomies, the unknown-label error and the rare-class drop."""
from __future__ import annotations

from pathlib import Path

import pytest

from corpora import list_corpora
from corpora.record import AudioRecord
from corpora.taxonomy import (
    GENERIC_READERS,
    Taxonomy,
    UnknownLabelError,
    apply_rare_drop,
    canonical_emotions,
    drop_rare_classes,
    load_label_table,
    load_taxonomy,
    map_labels,
)


def record(corpus: str, label: str, name: str = "a.wav") -> AudioRecord:
    return AudioRecord(path=Path(f"/data/{corpus}/{name}"), corpus=corpus, native_label=label, speaker="s1")


@pytest.mark.parametrize(
    ("name", "classes"),
    [
        ("nine", ["anger", "boredom", "disgust", "fear", "happy", "neutral", "question", "sad", "surprise"]),
        ("seven", ["anger", "disgust", "fear", "happy", "neutral", "sad", "surprise"]),
        ("four", ["anger", "happy", "neutral", "sad"]),
    ],
)
def test_taxonomy_sizes(name: str, classes: list[str]) -> None:
    taxonomy = load_taxonomy(name)
    assert taxonomy.name == name
    assert taxonomy.classes == classes


def test_every_corpus_reader_has_a_valid_label_table() -> None:
    for corpus in list_corpora():
        table = load_label_table(corpus)
        assert table, corpus
        assert {v for v in table.values() if v is not None} <= set(canonical_emotions())
    assert set(load_label_table("csv").values()) == set(canonical_emotions())
    assert GENERIC_READERS <= set(list_corpora())


@pytest.mark.parametrize(
    ("corpus", "native", "taxonomy", "expected"),
    [
        ("meld", "joy", "seven", "happy"),
        ("tess", "ps", "seven", "surprise"),
        ("emodb", "W", "nine", "anger"),
        ("emodb", "L", "nine", "boredom"),
        ("savee", "sa", "seven", "sad"),
        ("mlend", "question", "nine", "question"),
        ("mlend", "excited", "four", "happy"),
        ("iemocap", "exc", "four", "happy"),
        ("ravdess", "fearful", "seven", "fear"),
        ("esd", "surprise", "seven", "surprise"),  # native labels match in any case
        ("jl_corpus", "angry", "four", "anger"),
        ("crema_d", "NEU", "four", "neutral"),
        ("urdu", "S", "four", "sad"),
        ("emovo", "gio", "seven", "happy"),
    ],
)
def test_native_labels_map_to_canonical_classes(corpus: str, native: str, taxonomy: str, expected: str) -> None:
    (decision,) = map_labels([record(corpus, native)], load_taxonomy(taxonomy), {corpus: load_label_table(corpus)})
    assert (decision.label, decision.reason) == (expected, None)


def test_calm_is_merged_or_dropped_as_configured() -> None:
    tables = {"ravdess": load_label_table("ravdess")}
    (seven,) = map_labels([record("ravdess", "calm")], load_taxonomy("seven"), tables)
    (nine,) = map_labels([record("ravdess", "calm")], load_taxonomy("nine"), tables)
    (kept,) = map_labels([record("ravdess", "calm")], Taxonomy("with_calm", ["calm", "neutral"]), tables)
    assert seven.label == "neutral"
    assert nine.label is None and nine.reason == "class 'calm' not in taxonomy 'nine'"
    assert kept.label == "calm"


def test_excluded_and_out_of_taxonomy_labels_carry_reasons() -> None:
    tables = {"iemocap": load_label_table("iemocap"), "jl_corpus": load_label_table("jl_corpus")}
    decisions = map_labels(
        [record("iemocap", "xxx"), record("iemocap", "oth"), record("jl_corpus", "apologetic"), record("iemocap", "fru")],
        load_taxonomy("four"),
        tables,
    )
    assert [d.label for d in decisions] == [None, None, None, None]
    assert decisions[0].reason == "excluded by label table (iemocap: 'xxx' -> null)"
    assert "excluded by label table" in decisions[1].reason
    assert decisions[2].reason == "class 'apologetic' not in taxonomy 'four'"
    assert decisions[3].reason == "class 'frustration' not in taxonomy 'four'"


def test_unknown_labels_are_all_listed_with_counts_and_an_example() -> None:
    records = [record("meld", "joy")] + [record("meld", "contempt", f"c{i}.wav") for i in range(3)]
    records += [record("csv", "angry", "mine.wav"), record("csv", "happy")]
    tables = {"meld": load_label_table("meld"), "csv": load_label_table("csv")}
    with pytest.raises(UnknownLabelError) as caught:
        map_labels(records, load_taxonomy("seven"), tables)
    message = str(caught.value)
    assert "2 native label(s)" in message
    assert "meld: 'contempt' x3 (e.g. /data/meld/c0.wav)" in message
    assert "csv: 'angry' x1 (e.g. /data/csv/mine.wav)" in message
    assert caught.value.unknown[("meld", "contempt")][0] == 3
    assert isinstance(caught.value, ValueError)


def test_overrides_extend_and_exclude() -> None:
    table = load_label_table("folder", {"Angry": "anger", "happy": None})
    decisions = map_labels([record("folder", "angry"), record("folder", "happy")], load_taxonomy("four"), {"folder": table})
    assert decisions[0].label == "anger"
    assert decisions[1].label is None and "excluded by label table" in decisions[1].reason
    with pytest.raises(ValueError, match="not canonical emotion name.*furious"):
        load_label_table("csv", {"mad": "furious"})


def test_missing_table_and_bad_taxonomy_fail_with_names(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no label table for corpus 'demo'"):
        map_labels([record("demo", "happy")], load_taxonomy("four"), {"csv": load_label_table("csv")})
    with pytest.raises(ValueError, match="unknown taxonomy 'eleven'.*four"):
        load_taxonomy("eleven")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nclasses: [anger, rage]\n")
    with pytest.raises(ValueError, match="taxonomy 'bad' classes: not canonical emotion name\\(s\\): rage"):
        load_taxonomy(str(bad))
    bad.write_text("name: bad\nclasses: [anger]\nmerge_rules: {}\n")
    with pytest.raises(ValueError, match="unknown key\\(s\\) merge_rules"):
        load_taxonomy(str(bad))


def test_rare_classes_are_dropped_below_the_share() -> None:
    labels = ["happy"] * 60 + ["sad"] * 37 + ["calm"] * 2 + ["excited"]
    assert drop_rare_classes(labels, 0.025) == {"calm", "excited"}
    assert drop_rare_classes(labels, 0.0) == set()
    assert drop_rare_classes([], 0.1) == set()
    with pytest.raises(ValueError, match="min_share"):
        drop_rare_classes(labels, 1.5)


def test_all_taxonomy_with_rare_drop_gives_seed_000_nine() -> None:
    """Seed 000: 16 labels, the rare ones (~2.5% together) dropped, nine left."""
    counts = {"anger": 80, "boredom": 70, "disgust": 60, "fear": 60, "happy": 120, "neutral": 150, "question": 70,
              "sad": 80, "surprise": 40, "calm": 3, "excited": 3, "anxious": 3, "apologetic": 3, "assertive": 3,
              "concerned": 3, "encouraging": 3}
    records = [record("csv", label, f"{label}{i}.wav") for label, n in counts.items() for i in range(n)]
    decisions = map_labels(records, load_taxonomy("all"), {"csv": load_label_table("csv")})
    kept, rare = apply_rare_drop(decisions, min_share=0.01)
    assert sorted({d.label for d in kept if d.label}) == load_taxonomy("nine").classes
    assert rare == {"calm", "excited", "anxious", "apologetic", "assertive", "concerned", "encouraging"}
    dropped = [d for d in kept if d.label is None]
    assert len(dropped) == 21 and "class 'calm' is rare (0.40% < 1.00% of the data)" in {d.reason for d in dropped}

