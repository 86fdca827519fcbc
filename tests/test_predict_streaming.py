"""Streaming prediction and limits on decoded audio (issue 9, "Security" 3 and "Streaming prediction").

The streamed path (predict_file: blocks decoded, resampled, windowed and scored as they come) gives
the same segments as the whole-file path (decode everything, then predict_wave); its memory does
not grow with the recording; a header that understates the length cannot get past a duration
limit; a folder with one broken file still writes every good one, and an empty folder is an error.
"""
from __future__ import annotations

import io
import json
import shutil
import struct
import subprocess
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import prediction.audio_stream
from prediction import command as predict
from data_preparation.decode.audio_io import probe, read_audio
from prediction.predictor import ModelPredictor
from prediction.recording import RecordingError, load_recording, predict_file, predict_wave
from prediction.segments import SegmentSpec
from serving.app import PredictionService, UploadError, UploadLimits
from tests.shard_factory import synth_clip
from tests.standin_models import BandEnergyModel

SR = 16_000
NAMES = [f"class{c}" for c in range(4)]
needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed (scripts/setup_system.sh)")


def predictor() -> ModelPredictor:
    return ModelPredictor(BandEnergyModel(len(NAMES)), NAMES)


@pytest.fixture(autouse=True)
def standin_model(monkeypatch):
    """predict.py's model: the deterministic stand-in (loading a checkpoint is tested in test_predict.py)."""
    monkeypatch.setattr(predict, "load_predictor", lambda path, device="cpu": predictor())


def stereo_recording(path: Path, seconds: float, rate: int = 44_100, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    labels = [int(rng.integers(len(NAMES))) for _ in range(int(seconds // 3) + 1)]
    mono = np.concatenate([synth_clip(label, len(NAMES), 3.0, rng) for label in labels])
    mono = np.interp(np.arange(int(seconds * rate)) * SR / rate, np.arange(len(mono)), mono).astype(np.float32)
    sf.write(path, np.stack([mono, 0.6 * mono], axis=1), rate)
    return path


@pytest.mark.parametrize("spec", [SegmentSpec(), SegmentSpec(5, 2.5, final="merge"), SegmentSpec(3, 4, min_final=1)])
def test_streamed_segments_are_identical_to_the_whole_file_path(tmp_path, monkeypatch, spec):
    path = stereo_recording(tmp_path / "talk.wav", 47.3)
    whole = predict_wave(predictor(), read_audio(path, probe(path)), spec, batch_size=3)  # decode all, then predict
    monkeypatch.setattr(prediction.audio_stream, "BLOCK_SECONDS", 1.7)  # many blocks, none aligned to a window
    streamed = predict_file(predictor(), path, spec, batch_size=3)
    assert len(whole) > 9 and streamed.segments == whole
    assert streamed.duration == pytest.approx(47.3, abs=1e-3)


@needs_ffmpeg
def test_streamed_ffmpeg_decode_is_identical_to_the_whole_file_decode(tmp_path, monkeypatch):
    path = webm(tmp_path, 23.0)
    whole = predict_wave(predictor(), read_audio(path, probe(path)), SegmentSpec(), batch_size=2)
    monkeypatch.setattr(prediction.audio_stream, "BLOCK_SECONDS", 0.9)
    assert predict_file(predictor(), path, SegmentSpec(), batch_size=2).segments == whole


def traced_peak(path: Path) -> int:
    tracemalloc.start()
    try:
        predict_file(predictor(), path, SegmentSpec(), batch_size=4)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_of_prediction_does_not_grow_with_the_recording(tmp_path, monkeypatch):
    monkeypatch.setattr(prediction.audio_stream, "BLOCK_SECONDS", 2.0)
    short = traced_peak(stereo_recording(tmp_path / "short.wav", 10.0))
    long = traced_peak(stereo_recording(tmp_path / "long.wav", 120.0))
    # the whole-file path holds 120 s of 44.1 kHz stereo float32 (42 MB) at once; the stream a few blocks
    assert long < 1.5 * short + 2**20, f"peak {long / 2**20:.1f} MB for 120 s vs {short / 2**20:.1f} MB for 10 s"


def webm(folder: Path, seconds: float, claimed: float | None = None) -> Path:
    """An Opus WebM of ``seconds`` of tones; with ``claimed``, its header's Duration is rewritten to that."""
    source = folder / "source.wav"
    sf.write(source, np.concatenate([synth_clip(c % 4, 4, 1.0, np.random.default_rng(c)) for c in range(int(seconds))]
                                    + [np.zeros(int((seconds % 1) * SR), np.float32)]), SR)
    target = folder / f"talk-{seconds:g}.webm"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(source), "-c:a", "libopus", "-b:a", "24k",
                    str(target)], check=True)
    if claimed is not None:
        data = bytearray(target.read_bytes())
        at = data.find(b"\x44\x89\x88")  # Matroska Duration element: 8-byte float, in milliseconds
        assert at > 0
        data[at + 3: at + 11] = struct.pack(">d", claimed * 1000.0)
        target.write_bytes(bytes(data))
    return target


@needs_ffmpeg
def test_a_header_that_understates_the_length_cannot_pass_the_limit(tmp_path):
    lying = webm(tmp_path, 40.0, claimed=1.0)
    assert probe(lying).duration == pytest.approx(1.0)  # the header lies: 1 s
    with pytest.raises(RecordingError, match=r"too long: more than 10 s \(decoding stopped at 10.\d\d s\)"):
        load_recording(lying, max_duration=10)
    assert load_recording(lying, max_duration=60)[0].size == pytest.approx(40 * SR, abs=SR // 10)

    # predict.py --max_duration: refused and listed with its reason beside a recording it predicts
    good = stereo_recording(tmp_path / "good.wav", 4.0)
    out = tmp_path / "out"
    assert predict.main(["--model", "unused", "--inputs", str(good), str(lying), "--output_dir", str(out),
                         "--max_duration", "10"]) == 1
    document = json.loads((out / "predictions.json").read_text())
    assert [Path(r["path"]).name for r in document["recordings"]] == [good.name]
    errors = document["errors"]
    assert [Path(e["path"]).name for e in errors] == [lying.name] and "too long: more than 10 s" in errors[0]["reason"]

    # serve's limit: a 422 that names the upload
    service = PredictionService(predictor(), SegmentSpec(), UploadLimits(max_seconds=10))
    with pytest.raises(UploadError, match=r"^upload.webm: too long: more than 10 s") as refused:
        service.predict("upload.webm", lying.read_bytes())
    assert refused.value.status == 422


@needs_ffmpeg
def test_a_folder_with_a_broken_file_writes_every_good_one(tmp_path):
    folder = tmp_path / "inputs"
    folder.mkdir()
    stereo_recording(folder / "a.wav", 7.0)
    # a FLAC written to a pipe: the header leaves the length unknown (libsndfile says 2**63 - 1 frames)
    pipe = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(folder / "a.wav"), "-f", "flac", "-"],
                          check=True, capture_output=True).stdout
    (folder / "b_pipe.flac").write_bytes(pipe)
    assert sf.info(io.BytesIO(pipe)).frames > 2**62
    (folder / "c_broken.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x01" * 40)
    out = tmp_path / "out"
    status = predict.main(["--model", "unused", "--inputs", str(folder), "--output_dir", str(out)])
    document = json.loads((out / "predictions.json").read_text())
    assert status == 1
    assert [Path(r["path"]).name for r in document["recordings"]] == ["a.wav", "b_pipe.flac"]
    assert document["recordings"][1]["duration"] == pytest.approx(7.0, abs=1e-3)
    assert [Path(e["path"]).name for e in document["errors"]] == ["c_broken.wav"]
    assert "unreadable" in document["errors"][0]["reason"]


def concatenated_webm(folder: Path) -> Path:
    """``cat short.webm long.webm``: a 1 s WebM's header (it says 1.0 s), then a 40 s stream."""
    lie = folder / "lie.webm"
    lie.write_bytes(webm(folder, 1.0).read_bytes() + webm(folder, 40.0).read_bytes())
    return lie


def unpredictable_input(kind: str, folder: Path) -> tuple[Path, str]:
    """(an input predict.py cannot label, the reason its error line gives)."""
    if kind == "lie.webm":
        return concatenated_webm(folder), "lie.webm: too long: more than 10 s (decoding stopped at 10.00 s)"
    if kind == "text.wav":
        (folder / "text.wav").write_text("not audio, only a text file with an audio suffix\n" * 20)
        return folder / "text.wav", "text.wav: unreadable"
    (folder / "empty.wav").write_bytes(b"")
    return folder / "empty.wav", "empty.wav: empty file"


@pytest.mark.parametrize("kind", [pytest.param("lie.webm", marks=needs_ffmpeg), "text.wav", "empty.wav"])
def test_a_run_that_predicts_nothing_exits_2_and_writes_no_results(tmp_path, caplog, kind):
    """Issue 23: one line naming the input, exit 2, no header-only results, no "nan" real-time factor;
    an earlier run's results in --output_dir are left as they were."""
    path, reason = unpredictable_input(kind, tmp_path)
    argv = ["--model", "unused", "--inputs", str(path), "--max_duration", "10"]
    with caplog.at_level("INFO"):
        assert predict.main([*argv, "--output_dir", str(tmp_path / "out")]) == 2
    said = [r for r in caplog.records if r.name == "predict"]
    assert [r.levelname for r in said] == ["ERROR"] and said[0].getMessage().startswith(reason), said
    assert not (tmp_path / "out").exists()

    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / "predictions.json").write_text('{"recordings": ["an earlier run"]}')
    assert predict.main([*argv, "--output_dir", str(earlier)]) == 2
    assert sorted(p.name for p in earlier.iterdir()) == ["predictions.json"]
    assert (earlier / "predictions.json").read_text() == '{"recordings": ["an earlier run"]}'


@needs_ffmpeg
def test_several_unpredictable_inputs_get_one_line_each_and_one_summary(tmp_path, caplog):
    inputs = [unpredictable_input(kind, tmp_path) for kind in ("lie.webm", "text.wav", "empty.wav")]
    with caplog.at_level("INFO"):
        assert predict.main(["--model", "unused", "--inputs", *(str(p) for p, _ in inputs), "--max_duration", "10",
                             "--output_dir", str(tmp_path / "out")]) == 2
    said = [r.getMessage() for r in caplog.records if r.name == "predict"]
    assert len(said) == 4 and all(line.startswith(reason) for line, (_, reason) in zip(said, inputs)), said
    assert said[3] == "none of the 3 inputs could be predicted (each named above): no results written"
    assert not (tmp_path / "out").exists() and not any("nan" in line for line in said)


def test_an_empty_folder_is_a_one_line_error(tmp_path, caplog):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no audio here")
    assert predict.main(["--model", "unused", "--inputs", str(tmp_path / "empty"), "--output_dir",
                         str(tmp_path / "out")]) == 2
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and errors[0].startswith(f"--inputs: {tmp_path / 'empty'} holds no audio files (")
    assert "\n" not in errors[0] and not (tmp_path / "out").exists()


def test_soundfile_decoding_stops_at_the_limit_whatever_the_header_says(tmp_path):
    from data_preparation.decode.audio_io import AudioHeader
    from data_preparation.decode.audio_io import DurationLimitError
    from prediction.audio_stream import audio_blocks

    path = stereo_recording(tmp_path / "long.wav", 30.0, rate=22_050)
    lie = AudioHeader(22_050, 2, 1.0, "soundfile")  # what a header that understates the length would say
    decoded = []
    with pytest.raises(DurationLimitError, match=r"too long: more than 10 s \(decoding stopped at 10.00 s\)"):
        for block in audio_blocks(path, lie, max_seconds=10, block_seconds=3.0):
            decoded.append(len(block))
    assert sum(decoded) <= 10 * SR  # nothing past the limit was handed on
