"""End-to-end preparation: real-world mess, reproducibility, duplicates, manifest reconciliation,
shards read back against the manifest, the mixed fixture tree, and errors from the command."""
from __future__ import annotations

import csv
import hashlib
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from data_preparation import command as prepare_command
from data_preparation.config import (
    parse_config, AugmentationSpec, CorpusSpec, GaussianNoiseSpec, LogmelSpec, PrepareConfig, SplitSpec, TimeStretchSpec, validate,
)
from data_preparation.demo_corpus import generate
from data_preparation.inputs.manifest import read_manifest
from data_preparation.pipeline import prepare
from data_preparation.shards.shard_format import load_dataset_info
from data_preparation.shards.tar_writer import read_samples
from data_preparation.verify import verify
from tests.corpus_fixtures import write_audio, write_mixed_fixture
from tests.in_process import run_command

REPO = Path(__file__).resolve().parents[1]


def write_metadata(root: Path, rows: list[tuple[str, str, str]]) -> None:
    with (root / "metadata.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "label", "speaker"])
        writer.writerows(rows)


def config_for(corpora: list[CorpusSpec], out: Path, **changes) -> PrepareConfig:
    return validate(PrepareConfig(corpora=corpora, output=str(out), **{"workers": 2, "progress": False, **changes}))


def by_path(rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    return {row["path"]: row for row in rows}


def write_mess_corpus(root: Path) -> list[tuple[str, str, str]]:
    """A csv corpus of 24 kHz clips plus every kind of file that turns up in real downloads."""
    rows = []
    for n in range(8):
        label = ("neutral", "sad")[n % 2]
        write_audio(root / f"ok/clip{n}.wav", 1.5 + 0.2 * n, 24_000)
        rows.append((f"ok/clip{n}.wav", label, f"s{n % 4}"))
    write_audio(root / "odd/hi_96k.wav", 2.0, 96_000)
    write_audio(root / "odd/pcm8.wav", 1.5, 24_000, subtype="PCM_U8")
    write_audio(root / "odd/pcm24.wav", 1.5, 24_000, subtype="PCM_24")
    write_audio(root / "odd/three_channels.wav", 1.5, 24_000, channels=3)
    write_audio(root / "odd/flac_named.wav", 1.5, 24_000, container="FLAC")
    write_audio(root / "odd/clip.aiff", 1.5, 24_000)
    write_audio(root / "odd/clip.mp3", 2.0, 24_000)
    full = write_audio(root / "odd/truncated.wav", 3.0, 24_000).read_bytes()
    (root / "odd/truncated.wav").write_bytes(full[: len(full) // 2])  # cut mid-stream: ~1.5 s survive
    (root / "odd/zero.wav").write_bytes(b"")
    (root / "odd/text.wav").write_text("this is a transcript, not audio\n")
    nan = np.full(24_000 * 2, 0.1, np.float32)
    nan[100:200] = np.nan
    sf.write(root / "odd/nan.wav", nan, 24_000, subtype="FLOAT")
    sf.write(root / "odd/silent.wav", np.zeros(24_000 * 2, np.float32), 24_000)
    write_audio(root / "odd/short.wav", 0.4, 24_000)
    with sf.SoundFile(root / "odd/forty_minutes.wav", "w", 8_000, 1, "PCM_U8") as handle:
        block = (0.2 * np.sin(np.arange(8_000 * 60) / 3)).astype(np.float32)
        for _ in range(40):  # written a minute at a time: 40 minutes at 8 kHz, 19 MB
            handle.write(block)
    shutil.copy(root / "ok/clip3.wav", root / "odd/copy_of_clip3.wav")
    odd = ["hi_96k.wav", "pcm8.wav", "pcm24.wav", "three_channels.wav", "flac_named.wav", "clip.aiff", "clip.mp3",
           "truncated.wav", "zero.wav", "text.wav", "nan.wav", "silent.wav", "short.wav", "forty_minutes.wav",
           "copy_of_clip3.wav"]
    rows += [(f"odd/{name}", ("neutral", "sad")[i % 2], f"s{i % 4}") for i, name in enumerate(odd)]
    write_metadata(root, rows)
    return rows


def test_real_world_mess_ends_well(tmp_path: Path) -> None:
    corpus = tmp_path / "mess"
    rows = write_mess_corpus(corpus)
    out = tmp_path / "out"
    info = prepare(config_for([CorpusSpec("csv", str(corpus), {"name": "mess"})], out,
                              split=SplitSpec(mode="stratified")))
    manifest = by_path(read_manifest(out / "manifest.csv"))
    assert len(manifest) == len(rows) == info.extra["input_files"]  # every input file accounted for
    expected_drops = {
        "odd/zero.wav": "empty file", "odd/text.wav": "unreadable", "odd/nan.wav": "non-finite samples",
        "odd/silent.wav": "silent", "odd/short.wav": "too short", "odd/forty_minutes.wav": "too long",
        "odd/truncated.wav": "truncated",
    }
    # Of two identical files the first in path order is kept, the other names it; the copy was
    # listed as neutral and the original as sad, so it is a label conflict naming both labels.
    assert manifest["ok/clip3.wav"]["fate"] == "dropped"
    assert manifest["ok/clip3.wav"]["reason"] == "label conflict"
    assert manifest["ok/clip3.wav"]["reason_detail"] == (
        "same audio as mess/odd/copy_of_clip3.wav labelled 'neutral'; this file is labelled 'sad'; the first is kept")
    assert (manifest["ok/clip3.wav"]["label"], manifest["ok/clip3.wav"]["speaker"]) == ("sad", "s3")
    assert [c["path"] for c in info.extra["label_conflicts"]] == ["ok/clip3.wav"]
    expected_drops["ok/clip3.wav"] = "label conflict"
    for path, category in expected_drops.items():
        assert manifest[path]["fate"] == "dropped" and manifest[path]["reason"] == category, manifest[path]
    assert manifest["odd/forty_minutes.wav"]["reason_detail"] == "> 4 s (from header)"
    assert info.extra["dropped_by_reason"]["too long"] == 1
    kept = {p: r for p, r in manifest.items() if p not in expected_drops}
    assert all(r["fate"] in ("train", "val", "test") and not r["reason"] for r in kept.values()), kept
    assert float(manifest["odd/hi_96k.wav"]["duration"]) == pytest.approx(2.0, abs=1e-3)
    assert manifest["odd/hi_96k.wav"]["native_rate"] == "96000"
    assert manifest["odd/three_channels.wav"]["native_channels"] == "3"
    assert 1.2 < float(manifest["odd/truncated.wav"]["duration"]) < 1.8
    assert float(manifest["odd/truncated.wav"]["header_duration"]) == pytest.approx(3.0, abs=1e-3)
    assert manifest["odd/truncated.wav"]["truncated"] == "yes"
    assert float(manifest["odd/forty_minutes.wav"]["header_duration"]) == pytest.approx(2400.0)
    assert float(manifest["odd/forty_minutes.wav"]["reason_value"]) == pytest.approx(2400.0)
    check = verify(out)
    assert check.problems == []
    assert sum(sum(c.values()) for c in check.counts.values()) == len(kept)
    for png in ("duration_long", "duration_short", "labels_initial", "labels_final"):
        assert (out / "plots" / f"{png}.png").stat().st_size > 1000


def tar_digests(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*.tar"))}


def test_rerun_is_byte_identical_with_augmentation_and_logmel(tmp_path: Path) -> None:
    corpus = tmp_path / "demo"
    generate(corpus, speakers=4, clips_per_class=3, seed=5, workers=2, progress=False)
    settings = dict(
        split=SplitSpec(mode="speaker", seed=1), shard_max_samples=7,
        augmentation=AugmentationSpec(gaussian_noise=GaussianNoiseSpec(copies=2), time_stretch=TimeStretchSpec()),
        logmel=LogmelSpec(n_mels=32, n_fft=256),
    )
    spec = [CorpusSpec("csv", str(corpus), {"name": "demo"})]
    first, second = tmp_path / "a", tmp_path / "b"
    info = prepare(config_for(spec, first, **settings))
    prepare(config_for(spec, second, workers=1, **settings))
    digests = tar_digests(first)
    assert len(digests) > 6 and digests == tar_digests(second)
    for name in ("manifest.csv", "stats.json"):
        assert (first / name).read_bytes() == (second / name).read_bytes()
    train = info.splits["train"].num_samples
    assert info.splits["train_aug"].num_samples == 3 * train
    assert info.logmel["splits"]["train_aug"].num_samples == 3 * train and info.logmel["frames"] > 0
    assert len(info.splits["train"].shards) == -(-train // 7)
    assert verify(first).problems == []
    augmented = [s for s in read_samples([first / p for p in info.splits["train_aug"].shards])]
    assert Counter(s["__key__"].rsplit("-", 1)[1] for s in augmented) == {
        "gaussian_noise0": train, "gaussian_noise1": train, "time_stretch0": train}
    # Idempotent: same settings -> nothing rewritten; other settings -> refuses to overwrite.
    stamp = (first / "stats.json").stat().st_mtime_ns
    prepare(config_for(spec, first, **settings))
    assert (first / "stats.json").stat().st_mtime_ns == stamp
    with pytest.raises(FileExistsError, match="other settings or inputs"):
        prepare(config_for(spec, first, **{**settings, "shard_max_samples": 8}))
    changed = sorted((corpus / "audio").rglob("*.wav"))[0]
    write_audio(changed, 3.9, 22_050)  # a changed input is a new preparation too
    with pytest.raises(FileExistsError, match="other settings or inputs"):
        prepare(config_for(spec, first, **settings))
    assert prepare(config_for(spec, first, overwrite=True, **settings)).extra["fingerprint"] != info.extra["fingerprint"]
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "notes.txt").write_text("not a dataset")
    with pytest.raises(FileExistsError, match="not a prepared dataset"):
        prepare(config_for(spec, tmp_path / "elsewhere", overwrite=True, **settings))
    assert (tmp_path / "elsewhere" / "notes.txt").is_file()


def test_duplicates_kept_once_and_rare_classes_dropped(tmp_path: Path) -> None:
    corpus = tmp_path / "dups"
    rows = []
    for n in range(12):
        write_audio(corpus / f"a/{n}.wav", 1.5, 16_000)
        rows.append((f"a/{n}.wav", "happy", f"s{n % 3}"))
    shutil.copy(corpus / "a/4.wav", corpus / "b_copy.wav")
    data, rate = sf.read(corpus / "a/4.wav", dtype="float32")
    sf.write(corpus / "c_copy.flac", data, rate, subtype="PCM_16")  # same audio, other container
    write_audio(corpus / "rare.wav", 1.5, 16_000)
    rows += [("b_copy.wav", "happy", "s0"), ("c_copy.flac", "happy", "s1"), ("rare.wav", "anger", "s2")]
    write_metadata(corpus, rows)
    out = tmp_path / "out"
    info = prepare(config_for([CorpusSpec("csv", str(corpus))], out, min_class_share=0.1,
                              split=SplitSpec(mode="stratified")))
    manifest = by_path(read_manifest(out / "manifest.csv"))
    for copy in ("b_copy.wav", "c_copy.flac"):
        assert manifest[copy]["reason"] == "duplicate" and manifest[copy]["reason_detail"] == "same audio as csv/a/4.wav"
        assert (manifest[copy]["label"], manifest[copy]["speaker"]) == ("happy", {"b_copy.wav": "s0"}.get(copy, "s1"))
    assert manifest["a/4.wav"]["fate"] != "dropped"
    assert manifest["rare.wav"]["reason"] == "rare class" and manifest["rare.wav"]["reason_detail"].startswith("'anger'")
    assert info.classes == ["happy"] and info.extra["dropped_classes"] == {"anger": 1}
    assert info.extra["duplicates"] == 2 and sum(s.num_samples for s in info.splits.values()) == 12


def test_unknown_labels_stop_the_command_with_a_readable_message(tmp_path: Path, capfd, monkeypatch) -> None:
    corpus = tmp_path / "labels"
    rows = [(f"{n}.wav", label, "s1") for n, label in enumerate(["happy", "joyful", "joyful", "grumpy", "sad"])]
    for path, _, _ in rows:
        write_audio(corpus / path, 1.5)
    write_metadata(corpus, rows)
    config = tmp_path / "c.yaml"
    config.write_text(f"corpora:\n  - {{name: csv, root: {corpus}}}\noutput: {tmp_path / 'out'}\nprogress: false\n")
    result = run_command(prepare_command.run, ["--config", str(config)], capfd, monkeypatch, cwd=REPO)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "'joyful' x2" in result.stderr and "'grumpy' x1" in result.stderr
    assert str(corpus / "1.wav") in result.stderr and "'happy'" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_mixed_fixture_tree_end_to_end(tmp_path: Path) -> None:
    roots = write_mixed_fixture(tmp_path / "mixed")
    out = tmp_path / "out"
    text = (REPO / "configs/prepare/mixed_fixture.yaml").read_text().replace("data/fixtures/mixed", str(tmp_path / "mixed"))
    (tmp_path / "mixed.yaml").write_text(text)
    config = parse_config(["--config", str(tmp_path / "mixed.yaml"), "--output", str(out), "--progress", "false"])
    assert {c.name: Path(c.root) for c in config.corpora} == roots
    info = prepare(config)
    rows = read_manifest(out / "manifest.csv")
    audio_files = [p for root in roots.values() for p in root.rglob("*") if p.suffix.lower() == ".wav"]
    skipped = sum(n for counts in info.extra["skipped_by_readers"].values() for n in counts.values())
    assert len(rows) + skipped == len(audio_files) == 112
    assert Counter(r["corpus"] for r in rows) == {"crema_d": 24, "ravdess": 32, "tess": 28, "emodb": 28}
    boredom = [r for r in rows if r["corpus"] == "emodb" and r["native_label"] == "L"]
    assert len(boredom) == 4 and all(r["reason"] == "not in taxonomy" for r in boredom)
    assert info.classes == ["anger", "disgust", "fear", "happy", "neutral", "sad", "surprise"]
    speakers = {}
    for row in rows:
        if row["fate"] != "dropped":
            assert speakers.setdefault((row["corpus"], row["speaker"]), row["fate"]) == row["fate"]
    assert len(set(speakers.values())) == 3
    assert verify(out).problems == []
    assert set(info.splits["train"].per_corpus) == {"crema_d", "ravdess", "tess", "emodb"}
    assert load_dataset_info(str(out)).classes == info.classes
