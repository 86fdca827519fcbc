"""A WebM/Opus recording with no duration in its header (issue 17): what a browser's MediaRecorder
or any stream writer leaves, ffprobe saying ``duration=N/A``. Preparation, predict.py and serve.py
decode it as audio of unknown length, and the duration limit still holds on the decoded samples.

The file is made as such writers make it: ffmpeg encoding Opus into WebM on a pipe, so it cannot
seek back to write the duration or the cues.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from data_preparation.decode.audio_io import probe
from data_preparation.decode.decode import AudioFilter, DecodeTask, decode_file
from prediction.recording import RecordingError, load_recording, predict_file
from prediction.segments import SegmentSpec
from serving.app import PredictionService, UploadError, UploadLimits
from tests.test_predict_streaming import NAMES, predictor
from tests.test_quiet_speech import utterance

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed (scripts/setup_system.sh)")
RATE = 16_000


def piped_webm(path: Path, seconds: float) -> Path:
    """``seconds`` of speech as Opus in WebM written to a pipe (``-f webm pipe:1 > path``)."""
    speech = utterance()
    wav = path.with_suffix(".source.wav")
    sf.write(wav, np.tile(speech, int(np.ceil(seconds * RATE / speech.size)))[: int(seconds * RATE)], RATE)
    with path.open("wb") as out:
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(wav), "-c:a", "libopus", "-b:a", "32k",
                        "-f", "webm", "pipe:1"], stdout=out, check=True, timeout=120)
    return path


def ffprobe_duration(path: Path) -> str:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of",
                          "default=noprint_wrappers=1:nokey=1", str(path)], capture_output=True, text=True, check=True)
    return out.stdout.strip()


@pytest.fixture(scope="module")
def recordings(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("webm")
    files = {"short": piped_webm(folder / "browser.webm", 2.5), "long": piped_webm(folder / "long.webm", 12.0)}
    for path in files.values():
        assert ffprobe_duration(path) == "N/A"  # what the browser's file gives: no length in the header
    return files


def test_preparation_decodes_a_webm_without_duration_and_keeps_the_limit(recordings, tmp_path: Path) -> None:
    header = probe(recordings["short"])
    assert header.backend == "ffmpeg" and not header.length_known and header.sample_rate == 48_000
    result = decode_file(DecodeTask(0, recordings["short"], tmp_path / "short.flac", AudioFilter()))
    assert result.reason is None and result.header_duration is None
    assert result.duration == pytest.approx(2.5, abs=0.03)
    too_long = decode_file(DecodeTask(1, recordings["long"], tmp_path / "long.flac", AudioFilter())).reason
    assert too_long.category == "too long" and 5.0 < too_long.value <= 6.0  # stopped at 4 s + 1 s slack
    assert "the header gives no length" in too_long.detail


def test_predict_labels_a_webm_without_duration_and_keeps_the_limit(recordings) -> None:
    spec = SegmentSpec()
    result = predict_file(predictor(), recordings["short"], spec)
    assert result.duration == pytest.approx(2.5, abs=0.03) and result.native_sample_rate == 48_000
    assert len(result.segments) == 1 and set(result.segments[0].probabilities) == set(NAMES)
    long = predict_file(predictor(), recordings["long"], spec, max_duration=30.0)
    assert long.duration == pytest.approx(12.0, abs=0.03) and len(long.segments) == 3  # 0-5, 5-10, 10-12 s
    with pytest.raises(RecordingError, match=r"long\.webm: too long: more than 6 s \(decoding stopped at 6\.\d+ s\)"):
        predict_file(predictor(), recordings["long"], spec, max_duration=6.0)


def test_serve_accepts_a_browser_recording_without_duration_and_keeps_the_limit(recordings) -> None:
    service = PredictionService(predictor(), SegmentSpec(), UploadLimits(max_seconds=6.0))
    reply = service.predict("recording.webm", recordings["short"].read_bytes())
    assert reply["duration"] == pytest.approx(2.5, abs=0.03) and len(reply["segments"]) == 1
    with pytest.raises(UploadError, match=r"recording\.webm: too long: more than 6 s") as refused:
        service.predict("recording.webm", recordings["long"].read_bytes())
    assert refused.value.status == 422
    wave, rate, _ = load_recording(recordings["short"])
    assert rate == 48_000 and wave.size == pytest.approx(2.5 * RATE, abs=500)
