"""The web server over HTTP: page and assets, upload checks with clear errors, and survival of bad files."""
import io
import json
import threading
import urllib.error
import urllib.request

import numpy as np
import pytest
import soundfile as sf

from serving import command as serve
from prediction.predictor import ModelPredictor
from prediction.recording import predict_wave
from prediction.segments import SegmentSpec
from serving.app import EmotionServer, PredictionService, UploadLimits
from tests.shard_factory import synth_clip
from tests.standin_models import BandEnergyModel

SR = 16_000
NAMES = [f"class{c}" for c in range(4)]


@pytest.fixture()
def server():
    predictor = ModelPredictor(BandEnergyModel(len(NAMES)), NAMES)
    service = PredictionService(predictor, SegmentSpec(), UploadLimits(max_bytes=2_000_000, max_seconds=30))
    httpd = EmotionServer(("127.0.0.1", 0), service)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def wav_bytes(wave, rate=SR, fmt="WAV"):
    buffer = io.BytesIO()
    sf.write(buffer, wave, rate, format=fmt)
    return buffer.getvalue()


def post(server, name, data):
    request = urllib.request.Request(server.url + "api/predict", data=data, method="POST",
                                     headers={"X-Filename": name, "Content-Type": "application/octet-stream"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_page_and_assets_are_served(server):
    with urllib.request.urlopen(server.url, timeout=10) as response:
        page = response.read().decode()
    assert '<canvas id="waveform"' in page and '<audio id="audio"' in page and "/static/app.js" in page
    for asset in ("app.js", "style.css"):
        with urllib.request.urlopen(server.url + "static/" + asset, timeout=10) as response:
            assert response.status == 200 and len(response.read()) > 500
    with urllib.request.urlopen(server.url + "api/info", timeout=10) as response:
        assert json.loads(response.read())["class_names"] == NAMES
    with pytest.raises(urllib.error.HTTPError, match="404"):
        urllib.request.urlopen(server.url + "static/../serving/app.py", timeout=10)


def test_bad_uploads_get_clear_errors_and_the_server_keeps_working(server):
    rng = np.random.default_rng(0)
    good = np.concatenate([synth_clip(1, 4, 5.0, rng), synth_clip(3, 4, 2.0, rng)])
    cases = [
        ("garbage.wav", b"RIFF....WAVEfmt this is not audio at all" * 50, 422, "garbage.wav: unreadable"),
        ("notes.txt", b"hello", 415, "notes.txt: type .txt is not accepted"),
        ("huge.wav", b"\0" * 2_000_001, 413, "huge.wav: 1.9 MB is over the limit of 2 MB"),
        ("long.flac", wav_bytes(np.zeros(SR * 31, np.float32), fmt="FLAC"), 422, "long.flac: 31.0 s is longer than the limit of 30 s"),
        ("blip.wav", wav_bytes(np.zeros(100, np.float32)), 422, "blip.wav: 0.01 s is shorter than 0.2 s"),
    ]
    for name, data, status, message in cases:
        code, body = post(server, name, data)
        assert (code, body["error"][:len(message)]) == (status, message), body
    code, body = post(server, "good recording.wav", wav_bytes(good))
    assert code == 200 and body["filename"] == "good recording.wav"
    assert [s["top"][0]["label"] for s in body["segments"]] == ["class1", "class3"]
    decoded, _ = sf.read(io.BytesIO(wav_bytes(good)), dtype="float32")  # what the server heard (16-bit)
    expected = predict_wave(server.service.predictor, decoded, SegmentSpec())
    assert [s["probabilities"] for s in body["segments"]] == [s.probabilities for s in expected]
    assert len(body["waveform"]) == 1200 and body["duration"] == pytest.approx(7.0, abs=1e-3)


def test_server_binds_loopback_only():
    with pytest.raises(ValueError, match="--host 0.0.0.0: the server binds to the loopback interface only"):
        EmotionServer(("0.0.0.0", 0), None)


@pytest.mark.slow  # trains tiny checkpoints through train.py (memoised per session)
def test_serve_cli_builds_a_server_from_a_model_path(tmp_path_factory):
    from tests.trained_models import session_base, trained_checkpoint

    checkpoint = trained_checkpoint(session_base(tmp_path_factory), "small_cnn")
    httpd = serve.build_server(["--model", str(checkpoint), "--port", "0", "--device", "cpu",
                                "--limits.max_seconds", "60", "--segment.hop", "2.5"])
    try:
        assert httpd.url.startswith("http://127.0.0.1:")
        assert httpd.service.spec.hop == 2.5 and httpd.service.limits.max_seconds == 60
        assert httpd.service.predictor.class_names == NAMES
    finally:
        httpd.server_close()
