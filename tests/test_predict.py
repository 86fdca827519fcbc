"""Long-recording prediction: windowing, decoding any format, top-3 per segment, predict.py end to end."""
import csv
import json
import shutil

import numpy as np
import pytest
import soundfile as sf
import torch

from prediction import command as predict
from prediction.ensemble_artefact import save_ensemble
from prediction.predictor import ModelPredictor
from prediction.recording import RecordingError, load_recording, predict_wave
from prediction.segments import SegmentSpec, segment_bounds
from tests.shard_factory import synth_clip
from tests.standin_models import BandEnergyModel
from tests.trained_models import session_base, trained_checkpoint

SR = 16_000
NAMES = [f"class{c}" for c in range(4)]


@pytest.mark.parametrize("spec, expected", [
    (SegmentSpec(5, 5), [(0, 5), (5, 10), (10, 12)]),
    (SegmentSpec(5, 5, final="merge"), [(0, 5), (5, 12)]),
    (SegmentSpec(5, 5, final="drop"), [(0, 5), (5, 10)]),
    (SegmentSpec(5, 2.5), [(0, 5), (2.5, 7.5), (5, 10), (7.5, 12)]),
    (SegmentSpec(5, 5, min_final=3), [(0, 5), (5, 12)]),  # a 2 s tail under min_final is merged
])
def test_segment_bounds(spec, expected):
    bounds = segment_bounds(12 * SR, SR, spec)
    assert [(s / SR, e / SR) for s, e in bounds] == expected
    assert bounds[-1][1] == 12 * SR or spec.final == "drop"


def test_short_and_empty_recordings_and_bad_specs():
    assert segment_bounds(SR, SR, SegmentSpec(5, 5, final="drop")) == [(0, SR)]
    assert segment_bounds(0, SR, SegmentSpec()) == []
    with pytest.raises(ValueError, match="final segment policy 'pad_end'"):
        SegmentSpec(final="pad_end")
    with pytest.raises(ValueError, match="hop=0"):
        SegmentSpec(hop=0)


def tone_recording(labels, seconds, seed=0):
    rng = np.random.default_rng(seed)
    return np.concatenate([synth_clip(label, len(NAMES), s, rng) for label, s in zip(labels, seconds)])


def test_each_segment_gets_its_own_top3_and_the_tail_its_true_length():
    wave = tone_recording([2, 0, 3, 1], [5, 5, 5, 1.7])
    predictor = ModelPredictor(BandEnergyModel(len(NAMES)), NAMES)
    segments = predict_wave(predictor, wave, SegmentSpec(), batch_size=3)
    assert [s.top[0]["label"] for s in segments] == ["class2", "class0", "class3", "class1"]
    assert [(s.start, s.end) for s in segments] == [(0, 5), (5, 10), (10, 15), (15, len(wave) / SR)]
    for segment in segments:
        probabilities = [entry["probability"] for entry in segment.top]
        assert len(segment.top) == 3 and probabilities == sorted(probabilities, reverse=True)
        assert sum(segment.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    # The 1.7 s tail is zero-padded to the 5 s window and carries its true length.
    recorder = Recorder(len(NAMES))
    predict_wave(ModelPredictor(recorder, NAMES), wave, SegmentSpec(), batch_size=2)
    tail = len(wave) - 15 * SR
    assert [(tuple(audio.shape), lengths.tolist()) for audio, lengths in recorder.calls] == [
        ((2, 5 * SR), [5 * SR] * 2), ((2, 5 * SR), [5 * SR, tail])]
    assert torch.count_nonzero(recorder.calls[1][0][1, tail:]) == 0
    # A merged tail (a longer window) goes in a batch of its own.
    recorder.calls.clear()
    predict_wave(ModelPredictor(recorder, NAMES), wave, SegmentSpec(final="merge"), batch_size=8)
    assert [tuple(audio.shape) for audio, _ in recorder.calls] == [(2, 5 * SR), (1, len(wave) - 10 * SR)]


class Recorder(BandEnergyModel):
    """The stand-in, keeping every (audio, lengths) it is called with."""

    def __init__(self, num_classes):
        super().__init__(num_classes)
        self.calls = []

    def forward(self, audio, lengths):
        self.calls.append((audio.clone(), lengths.clone()))
        return super().forward(audio, lengths)


@pytest.mark.parametrize("suffix, rate, channels, fmt", [
    (".wav", 44_100, 2, None), (".flac", 8_000, 1, None), (".mp3", 22_050, 2, "MP3"), (".ogg", 48_000, 1, None),
])
def test_any_rate_channels_and_format_decode_to_16k_mono(tmp_path, suffix, rate, channels, fmt):
    seconds = 2.5
    t = np.arange(int(seconds * rate)) / rate
    tone = 0.3 * np.sin(2 * np.pi * 440 * t)
    data = np.stack([tone] * channels, axis=1) if channels > 1 else tone
    path = tmp_path / f"clip{suffix}"
    sf.write(path, data, rate, format=fmt)
    wave, native_rate, native_channels = load_recording(path)
    assert (native_rate, native_channels) == (rate, channels)
    assert abs(len(wave) / SR - seconds) < 0.1  # mp3 adds encoder delay padding
    assert 0.15 < np.sqrt(np.mean(wave[SR // 2: SR] ** 2)) < 0.25  # a 0.3 sine has RMS 0.21


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed (scripts/setup_system.sh)")
def test_container_soundfile_cannot_read_goes_through_ffmpeg(tmp_path):
    import subprocess

    source = tmp_path / "tone.wav"
    sf.write(source, 0.3 * np.sin(2 * np.pi * 440 * np.arange(SR * 2) / SR), SR)
    target = tmp_path / "tone.m4a"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(source), str(target)], check=True)
    wave, _, _ = load_recording(target)
    assert abs(len(wave) / SR - 2.0) < 0.1


def test_unreadable_and_too_long_files_are_named_errors(tmp_path):
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"RIFF\x00\x00 definitely not audio" * 10)
    with pytest.raises(RecordingError, match="garbage.wav: unreadable"):
        load_recording(garbage)
    empty = tmp_path / "empty.flac"
    empty.write_bytes(b"")
    with pytest.raises(RecordingError, match="empty.flac: empty file"):
        load_recording(empty)
    long = tmp_path / "long.wav"
    sf.write(long, np.zeros(SR * 3), SR)
    with pytest.raises(RecordingError, match="long.wav: 3.0 s is longer than the limit of 2 s"):
        load_recording(long, max_duration=2)


@pytest.fixture(scope="module")
def cnn_checkpoint(tmp_path_factory):
    return trained_checkpoint(session_base(tmp_path_factory), "small_cnn")


@pytest.mark.slow  # trains tiny checkpoints through train.py (memoised per session)
def test_predict_cli_on_checkpoint_and_ensemble(cnn_checkpoint, tmp_path):
    folder = tmp_path / "inputs"
    folder.mkdir()
    sf.write(folder / "a.wav", tone_recording([0, 1, 2], [5, 5, 3]), SR)
    sf.write(folder / "b.flac", tone_recording([3], [2.0]), SR)
    (folder / "broken.mp3").write_bytes(b"ID3 but nothing else")
    out = tmp_path / "out"
    status = predict.main(["--model", str(cnn_checkpoint), "--inputs", str(folder),
                           "--output_dir", str(out), "--device", "cpu", "--batch_size", "2"])
    assert status == 1  # one file failed, and the run still wrote everything else
    document = json.loads((out / "predictions.json").read_text())
    assert [r["path"].rsplit("/", 1)[-1] for r in document["recordings"]] == ["a.wav", "b.flac"]
    assert [len(r["segments"]) for r in document["recordings"]] == [3, 1]
    assert document["errors"][0]["path"].endswith("broken.mp3") and "unreadable" in document["errors"][0]["reason"]
    assert document["settings"]["segment"] == {"length": 5.0, "hop": 5.0, "final": "pad", "min_final": 0.5}
    rows = list(csv.DictReader((out / "predictions.csv").open()))
    assert len(rows) == 4 and rows[2]["end_s"] == "13.000" and rows[0]["label_1"] in NAMES
    first = document["recordings"][0]["segments"][0]
    assert rows[0]["label_1"] == first["top"][0]["label"]

    # An ensemble folder is accepted wherever a checkpoint is; two copies of one model average to itself.
    ensemble = save_ensemble(tmp_path / "ens", [("m1", cnn_checkpoint), ("m2", cnn_checkpoint)], NAMES, "mean")
    out2 = tmp_path / "out2"
    assert predict.main(["--model", str(ensemble), "--inputs", str(folder / "a.wav"),
                         "--output_dir", str(out2), "--device", "cpu"]) == 0
    again = json.loads((out2 / "predictions.json").read_text())["recordings"][0]["segments"]
    for mine, theirs in zip(again, document["recordings"][0]["segments"]):
        assert mine["probabilities"] == pytest.approx(theirs["probabilities"], abs=1e-5)


@pytest.mark.slow  # trains tiny checkpoints through train.py (memoised per session)
def test_a_run_folder_stands_for_its_best_checkpoint(cnn_checkpoint):
    from prediction.predictor import load_predictor

    run_dir = cnn_checkpoint.parent.parent  # runs/<name>/checkpoints/<best>.ckpt
    for path in (run_dir, run_dir / "checkpoints"):
        assert load_predictor(path).name == cnn_checkpoint.name
