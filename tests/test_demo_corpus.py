"""The embedded demo corpus: deterministic, in the csv reader's layout, emotion-like class
differences, learnable across speakers but not trivially, and prepared end to end."""
from __future__ import annotations

import csv
import hashlib
from collections import Counter
from pathlib import Path

import librosa
import numpy as np
import pytest

from corpora import read_corpus
from data_preparation import demo_corpus
from data_preparation.inputs.manifest import read_manifest
from data_preparation.verify import verify
from tests.conftest import PreparedDemo



def digests(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*.*"))}


def test_generator_is_deterministic_and_readable_by_the_csv_reader(tmp_path: Path) -> None:
    demo_corpus.main(["--out", str(tmp_path / "a"), "--speakers", "3", "--clips-per-class", "2", "--workers", "1"])
    demo_corpus.generate(tmp_path / "b", speakers=3, clips_per_class=2, workers=2, progress=False)
    demo_corpus.generate(tmp_path / "c", speakers=3, clips_per_class=2, seed=1, workers=2, progress=False)
    assert digests(tmp_path / "a") == digests(tmp_path / "b") != digests(tmp_path / "c")
    listing = read_corpus("csv", tmp_path / "a", name="demo")
    assert listing.problems == [] and len(listing.records) == 3 * 4 * 2
    assert Counter(r.native_label for r in listing.records) == {c: 6 for c in demo_corpus.CLASSES}
    assert {r.speaker for r in listing.records} == {"spk01", "spk02", "spk03"}
    assert {r.attributes["gender"] for r in listing.records} == {"female", "male"}
    for record in listing.records:
        info = librosa.get_duration(path=record.path)
        assert 1.0 < info < 4.0


def _class_measures(speakers: list[demo_corpus.Speaker], emotion: str) -> tuple[float, float]:
    """Mean RMS level (dBFS) and mean voiced F0 (Hz) of a few clips per speaker."""
    levels, pitches = [], []
    for s, speaker in enumerate(speakers):
        for take in range(2):
            wave = demo_corpus.synthesize(speaker, emotion, np.random.default_rng([9, s, take]))
            levels.append(20 * np.log10(np.sqrt(np.mean(wave ** 2))))
            f0 = librosa.yin(wave, fmin=60, fmax=600, sr=demo_corpus.RATE, frame_length=2048)
            pitches.append(float(np.median(f0)) / speaker.f0)  # relative to the speaker's own pitch
    return float(np.mean(levels)), float(np.mean(pitches))


def test_classes_differ_the_way_emotions_do() -> None:
    speakers = demo_corpus.make_speakers(4, seed=0)
    measures = {e: _class_measures(speakers, e) for e in demo_corpus.CLASSES}
    level = {e: m[0] for e, m in measures.items()}
    pitch = {e: m[1] for e, m in measures.items()}
    assert level["anger"] > level["neutral"] > level["sad"], level
    assert pitch["happy"] > pitch["neutral"] > pitch["sad"] and pitch["anger"] > pitch["neutral"], pitch


def _features(path: Path) -> np.ndarray:
    wave, rate = librosa.load(path, sr=16_000)
    mfcc = librosa.feature.mfcc(y=wave, sr=rate, n_mfcc=13)
    return np.concatenate([mfcc.mean(axis=1), mfcc.std(axis=1), [np.log(np.sqrt(np.mean(wave ** 2)))]])


@pytest.mark.slow
def test_learnable_on_unseen_speakers_but_not_trivially(tmp_path: Path) -> None:
    """Nearest class mean on MFCC statistics, trained on 6 speakers, tested on 2 others."""
    demo_corpus.generate(tmp_path, speakers=8, clips_per_class=6, seed=0, workers=2, progress=False)
    with (tmp_path / "metadata.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    features = np.stack([_features(tmp_path / r["path"]) for r in rows])
    labels = np.array([r["label"] for r in rows])
    held_out = np.isin([r["speaker"] for r in rows], ["spk07", "spk08"])
    mean, std = features[~held_out].mean(axis=0), features[~held_out].std(axis=0) + 1e-9
    z = (features - mean) / std
    classes = sorted(set(labels))
    centroids = np.stack([z[~held_out][labels[~held_out] == c].mean(axis=0) for c in classes])
    distances = ((z[held_out][:, None, :] - centroids[None]) ** 2).sum(axis=-1)
    accuracy = float((np.array(classes)[distances.argmin(axis=1)] == labels[held_out]).mean())
    assert 0.40 < accuracy < 0.95, accuracy  # chance is 0.25


@pytest.mark.slow
def test_demo_config_prepares_the_demo_corpus_end_to_end(prepared_demo: PreparedDemo) -> None:
    """configs/prepare/demo.yaml unchanged but for the folders, on the generated corpus (tests/conftest.py)."""
    info, out = prepared_demo.info, prepared_demo.prepared
    assert info.classes == list(demo_corpus.CLASSES) and info.extra["split"]["mode"] == "speaker"
    rows = read_manifest(out / "manifest.csv")
    assert len(rows) == 12 * 4 * 18 and all(r["fate"] != "dropped" for r in rows)
    splits_of = {}
    for row in rows:
        splits_of.setdefault(row["speaker"], set()).add(row["fate"])
    assert all(len(s) == 1 for s in splits_of.values())
    assert sorted(Counter(next(iter(s)) for s in splits_of.values()).values()) == [2, 2, 8]
    assert verify(out).problems == []
