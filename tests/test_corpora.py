"""Every corpus reader on a fixture tree in the corpus's real layout (tests/corpus_fixtures/)."""
from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

import pytest

from corpora import CorpusListing, list_corpora, read_corpus
from corpora.taxonomy import load_label_table, load_taxonomy, map_labels
from tests.corpus_fixtures import ALL_FIXTURES, FixtureExpectation, ffmpeg_available, write_audio, write_mixed_fixture


def relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def check_listing(listing: CorpusListing, expected: FixtureExpectation) -> None:
    """The listing agrees with the fixture's expectation in records, problems, skips, attributes."""
    root = expected.root
    records = {relative(r.path, root): r for r in listing.records}
    assert len(listing.records) == expected.records, sorted(records)
    assert Counter(r.native_label for r in listing.records) == Counter(expected.labels)
    assert {r.speaker for r in listing.records} == expected.speakers
    assert all(r.corpus == expected.corpus and r.path.is_file() for r in listing.records)
    problems = sorted((relative(p.path, root), p.reason) for p in listing.problems)
    assert [path for path, _ in problems] == sorted(expected.problems), problems
    for path, reason in problems:
        assert expected.problems[path] in reason, (path, reason)
    for fragment, count in expected.skipped.items():
        assert sum(n for reason, n in listing.skipped.items() if fragment in reason) == count, listing.skipped
    assert sum(listing.skipped.values()) == sum(expected.skipped.values()), listing.skipped
    for path, attributes in expected.attributes.items():
        assert path in records, path
        assert {k: records[path].attributes.get(k, "<absent>") for k in attributes} == attributes, path


@pytest.mark.parametrize("corpus", sorted(ALL_FIXTURES))
def test_reader_on_fixture(corpus: str, tmp_path: Path) -> None:
    expected = ALL_FIXTURES[corpus](tmp_path / corpus)
    check_listing(read_corpus(corpus, expected.root, **expected.options), expected)


def test_every_registered_reader_has_a_fixture() -> None:
    assert set(list_corpora()) <= set(ALL_FIXTURES)


def test_ravdess_song_is_listed_only_when_asked(tmp_path: Path) -> None:
    expected = ALL_FIXTURES["ravdess"](tmp_path)
    listing = read_corpus("ravdess", tmp_path, include_song=True)
    songs = [r for r in listing.records if r.attributes["vocal_channel"] == "song"]
    assert len(listing.records) == expected.records + 1 and len(songs) == 1
    assert songs[0].native_label == "happy" and listing.skipped == {}


def test_folder_reader_speaker_pattern(tmp_path: Path) -> None:
    ALL_FIXTURES["folder"](tmp_path)
    listing = read_corpus("folder", tmp_path, speaker_pattern=r"^(?P<speaker>[a-z])\.")
    assert {relative(r.path, tmp_path): r.speaker for r in listing.records}["sad/spk2/z.flac"] == "z"
    with pytest.raises(ValueError, match="speaker_pattern"):
        read_corpus("folder", tmp_path, speaker_pattern="(")
    listing = read_corpus("folder", tmp_path, speaker_pattern=r"^q")
    assert not listing.records and sum("does not match speaker_pattern" in p.reason for p in listing.problems) == 6


def test_csv_reader_rejects_a_bad_table(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="metadata.csv"):
        read_corpus("csv", tmp_path)
    (tmp_path / "meta.csv").write_text("file,label\na.wav,happy\n")
    with pytest.raises(ValueError, match="meta.csv: missing column\\(s\\) path, speaker"):
        read_corpus("csv", tmp_path, csv_file="meta.csv")


def test_mixed_fixture_maps_onto_seven_classes(tmp_path: Path) -> None:
    roots = write_mixed_fixture(tmp_path)
    listings = {name: read_corpus(name, root) for name, root in roots.items()}
    assert {name: len(l.records) for name, l in listings.items()} == {"crema_d": 24, "ravdess": 32, "tess": 28, "emodb": 28}
    assert all(not l.problems and not l.skipped for l in listings.values())
    records = [r for l in listings.values() for r in l.records]
    decisions = map_labels(records, load_taxonomy("seven"), {name: load_label_table(name) for name in roots})
    per_class = Counter(d.label for d in decisions)
    # RAVDESS calm merges into neutral; EmoDB boredom is outside the seven classes.
    assert per_class == Counter({"anger": 16, "disgust": 16, "fear": 16, "happy": 16, "neutral": 20, "sad": 16, "surprise": 8, None: 4})
    speakers = {(r.corpus, r.speaker) for r in records}
    assert len(speakers) == 14


def test_esd_speaker_selection(tmp_path: Path) -> None:
    ALL_FIXTURES["esd"](tmp_path)
    everyone = read_corpus("esd", tmp_path, speakers="all")
    assert "0001" in {r.speaker for r in everyone.records} and everyone.skipped == {}
    one = read_corpus("esd", tmp_path, speakers=["0012", 13])
    assert {r.speaker for r in one.records} == {"0012", "0013"}
    with pytest.raises(ValueError, match="speakers='klingon'"):
        read_corpus("esd", tmp_path, speakers="klingon")


def test_iemocap_dialog_selection(tmp_path: Path) -> None:
    expected = ALL_FIXTURES["iemocap"](tmp_path)
    everything = read_corpus("iemocap", tmp_path, dialogs="all")
    scripted = read_corpus("iemocap", tmp_path, dialogs="scripted")
    assert len(everything.records) == expected.records + 2
    assert Counter(r.native_label for r in scripted.records) == Counter({"sad": 1, "hap": 1})
    assert {r.speaker for r in scripted.records} == {"Ses01F", "Ses01M"}
    assert len(read_corpus("iemocap", tmp_path, sessions=[2]).records) == 1
    with pytest.raises(ValueError, match="dialogs='some'"):
        read_corpus("iemocap", tmp_path, dialogs="some")


def test_corpora_without_their_metadata_fail_naming_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="train_sent_emo.csv"):
        read_corpus("meld", tmp_path)
    with pytest.raises(FileNotFoundError, match="MLEndSND_Audio_Attributes.csv"):
        read_corpus("mlend", tmp_path)
    with pytest.raises(FileNotFoundError, match="no Session1..Session5"):
        read_corpus("iemocap", tmp_path)


def test_meld_mp4_clips_need_ffmpeg(tmp_path: Path) -> None:
    if not ffmpeg_available():
        pytest.skip("ffmpeg is not installed: the MELD fixture writes no mp4 clips")
    ALL_FIXTURES["meld"](tmp_path)
    clips = [r for r in read_corpus("meld", tmp_path).records if r.path.suffix == ".mp4"]
    assert [(r.attributes["needs_ffmpeg"], r.attributes["meld_split"]) for r in clips] == [(True, "test")]
    decoded = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(clips[0].path), "-f", "s16le", "-ac", "1", "-"],
                             capture_output=True, check=True)
    assert len(decoded.stdout) > 1000  # the clip carries real audio that preparation can decode


def test_unknown_native_label_from_a_reader_is_reported_with_its_file(tmp_path: Path) -> None:
    ALL_FIXTURES["folder"](tmp_path)
    (tmp_path / "furious").mkdir()
    (tmp_path / "sad/spk1/w.WAV").rename(tmp_path / "furious/w.wav")
    listing = read_corpus("folder", tmp_path)
    with pytest.raises(ValueError, match=r"folder: 'furious' x1 \(e\.g\. .*furious/w\.wav\)"):
        map_labels(listing.records, load_taxonomy("four"), {"folder": load_label_table("folder")})


def test_nested_audio_folder_is_read_once(tmp_path: Path) -> None:
    write_audio(tmp_path / "wav/03a01Wa.wav", 0.2)
    write_audio(tmp_path / "wav/wav/08a02Fa.wav", 0.2)  # a copy unpacked inside itself
    listing = read_corpus("emodb", tmp_path)
    assert sorted(r.native_label for r in listing.records) == ["F", "W"] and not listing.problems


def test_a_mistyped_reader_option_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"'include_songs'.*accepted: include_song"):
        read_corpus("ravdess", tmp_path, include_songs=True)
