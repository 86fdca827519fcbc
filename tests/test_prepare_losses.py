"""Preparation's silent losses (issue 9): truncated WAVs, silence against the noise floor, audio
written to a pipe, symlinked label folders, label conflicts, and reasons as category plus value.
Each test fails on the code before the fix."""
from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import corpora
from data_preparation.decode.audio_io import UNKNOWN_FRAMES, DurationLimitError, probe, read_audio
from data_preparation.config import CorpusSpec, PrepareConfig, SplitSpec, validate
from data_preparation.decode.decode import AudioFilter, DecodeTask, decode_file
from data_preparation.demo_corpus import make_speakers, synthesize
from data_preparation.inputs.entries import collect_inputs
from data_preparation.inputs.manifest import read_manifest, write_manifest
from data_preparation.pipeline import prepare
from tests.corpus_fixtures import write_audio


def decode(path: Path, tmp_path: Path, **limits) -> object:
    return decode_file(DecodeTask(0, path, tmp_path / "spool.flac", AudioFilter(**limits)))


def dbfs(wave: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(np.square(wave, dtype=np.float64)))))


def test_truncated_wav_is_flagged_and_dropped_unless_kept_by_config(tmp_path: Path) -> None:
    full = write_audio(tmp_path / "full.wav", 3.0, 16_000).read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(full[: len(full) * 2 // 3])  # 2/3 of the bytes: ~2 s of a header that says 3 s
    dropped = decode(cut, tmp_path)
    assert dropped.reason.category == "truncated" and dropped.truncated
    assert dropped.header_duration == pytest.approx(3.0) and dropped.duration == pytest.approx(2.0, abs=0.01)
    assert dropped.reason.value == pytest.approx(dropped.duration, abs=1e-3)
    kept = decode(cut, tmp_path, keep_truncated=True)
    assert kept.reason is None and kept.truncated and kept.header_duration == pytest.approx(3.0)
    whole = decode(tmp_path / "full.wav", tmp_path)
    assert whole.reason is None and not whole.truncated


def quiet_speech(level_db: float) -> np.ndarray:
    """A synthetic utterance (syllables and pauses, demo_corpus) scaled to ``level_db`` dBFS RMS."""
    wave = synthesize(make_speakers(1, seed=3)[0], "sad", np.random.default_rng(1)).astype(np.float64)
    return wave * 10 ** (level_db / 20) / np.sqrt(np.mean(wave**2))


def test_silence_is_judged_against_the_noise_floor_after_removing_dc(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    sf.write(tmp_path / "quiet.wav", quiet_speech(-60.3), 16_000, subtype="PCM_16")
    sf.write(tmp_path / "dc.wav", np.full(32_000, 0.2), 16_000, subtype="PCM_16")
    sf.write(tmp_path / "hiss.wav", rng.normal(0, 10 ** (-50 / 20), 32_000), 16_000, subtype="PCM_16")
    spectrum = np.fft.rfft(rng.normal(0, 1, 32_000)) / np.sqrt(np.arange(16_001) + 1)  # pink: -3 dB/octave
    pink = np.fft.irfft(spectrum, 32_000)
    sf.write(tmp_path / "pink.wav", pink / pink.std() * 10 ** (-45 / 20), 16_000, subtype="PCM_16")
    quiet_wave, _ = sf.read(tmp_path / "quiet.wav")
    assert -61 < dbfs(quiet_wave) < -60  # what an absolute -60 dBFS RMS test called silent
    assert decode(tmp_path / "quiet.wav", tmp_path).reason is None
    dc = decode(tmp_path / "dc.wav", tmp_path).reason
    assert dc.category == "silent" and "constant signal" in dc.detail
    for noise in ("hiss.wav", "pink.wav"):
        reason = decode(tmp_path / noise, tmp_path).reason
        assert reason is not None and reason.category == "noise only", (noise, reason)
        assert reason.value < 6  # dB of contrast between loud frames and the noise floor
    # Speech in white noise at 5 dB SNR is speech, not a noise floor.
    loud = quiet_speech(-26.0)
    sf.write(tmp_path / "noisy.wav", loud + rng.normal(0, 10 ** (-31 / 20), loud.size), 16_000, subtype="PCM_16")
    assert decode(tmp_path / "noisy.wav", tmp_path).reason is None
    # A steady tone (the test fixtures' clips) is not silence, and digital silence still is.
    assert decode(write_audio(tmp_path / "tone.wav", 2.0, 16_000), tmp_path).reason is None
    sf.write(tmp_path / "zeros.wav", np.zeros(32_000), 16_000)
    assert decode(tmp_path / "zeros.wav", tmp_path).reason.category == "silent"
    # Quiet speech is kept (issue 17; tests/test_quiet_speech.py); only what the 16-bit samples the
    # shards store hold as digital silence is silent (here every peak is under half a step).
    sf.write(tmp_path / "faint.wav", quiet_speech(-110.0), 16_000, subtype="FLOAT")
    faint = decode(tmp_path / "faint.wav", tmp_path).reason
    assert faint.category == "silent" and faint.value == -200.0 and "stored as 16-bit samples" in faint.detail


def speech(seconds: float) -> np.ndarray:
    """``seconds`` of the synthetic utterance at -20 dBFS, repeated as needed."""
    wave = quiet_speech(-20.0)
    return np.tile(wave, int(np.ceil(seconds * 16_000 / wave.size)))[: int(seconds * 16_000)]


def flac_without_length(path: Path, seconds: float) -> Path:
    """A FLAC whose STREAMINFO says "total samples unknown", as a FLAC encoder writing to a pipe leaves it."""
    sf.write(path, speech(seconds), 16_000, format="FLAC")
    data = bytearray(path.read_bytes())
    assert data[:4] == b"fLaC" and data[4] & 0x7F == 0  # STREAMINFO is the first metadata block
    field = int.from_bytes(data[18:26], "big") & ~((1 << 36) - 1)  # low 36 bits: total samples
    data[18:26] = field.to_bytes(8, "big")
    path.write_bytes(bytes(data))
    return path


def streamed_wav(path: Path, seconds: float, size_field: int) -> Path:
    """A WAV whose RIFF and data sizes say 0 or 0xFFFFFFFF, as writers that cannot seek back leave them."""
    sf.write(path, speech(seconds), 16_000, subtype="PCM_16")
    data = bytearray(path.read_bytes())
    at = data.find(b"data")
    data[4:8] = data[at + 4:at + 8] = size_field.to_bytes(4, "little")
    path.write_bytes(bytes(data))
    return path


def test_audio_written_to_a_pipe_is_read_to_its_end_and_the_limit_holds_while_reading(tmp_path: Path) -> None:
    short = flac_without_length(tmp_path / "piped.flac", 2.5)
    assert sf.info(str(short)).frames == UNKNOWN_FRAMES  # what soundfile reports: "576460752303423.50 s"
    result = decode(short, tmp_path)
    assert result.reason is None and result.duration == pytest.approx(2.5) and result.header_duration is None
    for size in (0, 0xFFFFFFFF):
        wav = decode(streamed_wav(tmp_path / f"piped_{size}.wav", 2.0, size), tmp_path)
        assert wav.reason is None and wav.duration == pytest.approx(2.0), (size, wav)
    long = flac_without_length(tmp_path / "long.flac", 30.0)
    too_long = decode(long, tmp_path).reason
    assert too_long.category == "too long" and 5.0 < too_long.value <= 6.0  # stopped reading past 4 s + 1 s slack
    with pytest.raises(DurationLimitError) as stopped:  # the shared reader, as prediction calls it
        read_audio(long, probe(long), max_duration=3.0)
    assert 3.0 < stopped.value.seconds <= 4.0


def test_folder_reader_follows_symlinked_label_folders_and_lists_what_it_skips(tmp_path: Path) -> None:
    root, elsewhere = tmp_path / "corpus", tmp_path / "elsewhere"
    write_audio(root / "happy/spk1/a.wav", 1.5)
    write_audio(elsewhere / "sad/spk2/b.wav", 1.5)
    os.symlink(elsewhere / "sad", root / "sad")  # a label folder assembled from another disk
    os.symlink(root / "happy", root / "happy/spk1/loop")  # a loop back to an ancestor
    os.symlink(tmp_path / "gone.wav", root / "happy/spk1/gone.wav")  # points nowhere
    listing = corpora.read_corpus("folder", root)
    assert {(r.path.relative_to(root).as_posix(), r.native_label, r.speaker) for r in listing.records} == {
        ("happy/spk1/a.wav", "happy", "spk1"), ("sad/spk2/b.wav", "sad", "spk2")}
    problems = {p.path.relative_to(root).as_posix(): p.reason for p in listing.problems}
    assert set(problems) == {"happy/spk1/loop", "happy/spk1/gone.wav"}
    assert "already read" in problems["happy/spk1/loop"] and "broken symbolic link" in problems["happy/spk1/gone.wav"]


def test_two_listings_of_one_file_with_different_labels_are_a_reported_conflict(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    write_audio(root / "a.wav", 1.5)
    write_audio(root / "b.wav", 1.5)
    with (root / "metadata.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([["path", "label", "speaker"], ["a.wav", "happy", "s1"], ["b.wav", "sad", "s1"],
                                      ["a.wav", "sad", "s2"], ["b.wav", "sad", "s1"]])
    entries = collect_inputs([CorpusSpec("csv", str(root))], "four").entries
    write_manifest(entries, tmp_path / "manifest.csv")
    rows = read_manifest(tmp_path / "manifest.csv")
    dropped = {(r["path"], r["label"], r["speaker"]): r for r in rows if r["fate"] == "dropped"}
    assert set(dropped) == {("a.wav", "sad", "s2"), ("b.wav", "sad", "s1")}  # label and speaker kept
    conflict = dropped["a.wav", "sad", "s2"]
    assert conflict["reason"] == "label conflict" and conflict["native_label"] == "sad"
    assert conflict["reason_detail"] == ("same recording as a.wav (metadata.csv line 2) labelled 'happy'; "
                                         "this listing (metadata.csv line 4) says 'sad'; the first is kept")
    assert dropped["b.wav", "sad", "s1"]["reason"] == "duplicate"


def test_reasons_are_one_category_with_the_number_in_its_own_column(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    rows = []
    for n in range(6):
        write_audio(root / f"ok{n}.wav", 1.5 + 0.1 * n)
        rows.append([f"ok{n}.wav", ("happy", "sad")[n % 2], f"s{n % 3}"])
    for n, seconds in enumerate((4.1, 4.3, 4.6)):
        write_audio(root / f"long{n}.wav", seconds)
        rows.append([f"long{n}.wav", "happy", "s0"])
    with (root / "metadata.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([["path", "label", "speaker"], *rows])
    out = tmp_path / "out"
    info = prepare(validate(PrepareConfig(corpora=[CorpusSpec("csv", str(root))], output=str(out), workers=1,
                                          progress=False, split=SplitSpec(mode="stratified"))))
    manifest = {r["path"]: r for r in read_manifest(out / "manifest.csv")}
    long = [manifest[f"long{n}.wav"] for n in range(3)]
    assert {r["reason"] for r in long} == {"too long"} and {r["reason_detail"] for r in long} == {"> 4 s"}
    assert [float(r["reason_value"]) for r in long] == pytest.approx([4.1, 4.3, 4.6])
    assert info.extra["dropped_by_reason"] == {"too long": 3}
    assert len(manifest) == info.extra["input_files"] == 9
