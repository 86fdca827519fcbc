"""The web server under abuse (issue 9, "Security" 4): malformed and huge Content-Length, many uploads
at once, and error replies that name no server path."""
from __future__ import annotations

import json
import shutil
import socket
import tempfile
import threading
import time

import numpy as np
import pytest

import serving.app
from prediction.predictor import ModelPredictor
from prediction.segments import SegmentSpec
from serving.app import EmotionServer, PredictionService, UploadLimits
from tests.standin_models import BandEnergyModel
from tests.test_serve import NAMES, post, wav_bytes


def start(limits: UploadLimits) -> EmotionServer:
    service = PredictionService(ModelPredictor(BandEnergyModel(len(NAMES)), NAMES), SegmentSpec(), limits)
    httpd = EmotionServer(("127.0.0.1", 0), service)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


@pytest.fixture()
def server(request):
    httpd = start(getattr(request, "param", UploadLimits(max_bytes=2_000_000, max_seconds=30)))
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def raw_post(server: EmotionServer, length: str, body: bytes, timeout: float = 10.0) -> tuple[int, dict, float]:
    """POST with a hand-written Content-Length; (status, JSON body, seconds until the status line came)."""
    host, port = server.server_address[:2]
    with socket.create_connection((host, port), timeout=timeout) as connection:
        started = time.perf_counter()
        connection.sendall(f"POST /api/predict HTTP/1.1\r\nHost: x\r\nX-Filename: a.wav\r\n"
                           f"Content-Length: {length}\r\n\r\n".encode() + body)
        reply = b""
        while b"\r\n\r\n" not in reply:
            reply += connection.recv(65536)
        elapsed = time.perf_counter() - started
        head, _, rest = reply.partition(b"\r\n\r\n")
        size = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
        while len(rest) < size:
            rest += connection.recv(65536)
    return int(head.split()[1]), json.loads(rest), elapsed


@pytest.mark.parametrize("length", ["abc", "12abc", "\u00b2", "-5", "1e9"])
def test_a_malformed_content_length_is_a_400(server, length):
    status, body, _ = raw_post(server, length, b"RIFF")
    assert status == 400 and "is not a number of bytes" in body["error"]


def test_an_over_limit_content_length_is_refused_at_once_without_reading_the_body(server):
    status, body, elapsed = raw_post(server, str(10 * 2**30), b"\0" * 100)  # claims 10 GB, sends 100 bytes
    assert status == 413 and "is over the limit of 2 MB" in body["error"]
    assert elapsed < 2.0, f"the 413 took {elapsed:.1f} s: the server waited for a body that never came"
    code, _ = post(server, "ok.wav", wav_bytes(np.zeros(16_000, np.float32)))  # and it keeps serving
    assert code == 200


@pytest.mark.parametrize("server", [UploadLimits(max_bytes=2_000_000, max_seconds=30, max_parallel=2)], indirect=True)
def test_concurrent_decodes_are_bounded_by_the_configured_slots(server, monkeypatch):
    active, peak, lock = [0], [0], threading.Lock()
    decode = serving.app.load_recording

    def slow_decode(path, max_duration=None):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.3)
        try:
            return decode(path, max_duration)
        finally:
            with lock:
                active[0] -= 1

    monkeypatch.setattr(serving.app, "load_recording", slow_decode)
    data = wav_bytes(np.zeros(16_000, np.float32))
    codes: list[int] = []
    threads = [threading.Thread(target=lambda: codes.append(post(server, "a.wav", data)[0])) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert codes == [200] * 6 and peak[0] == 2


@pytest.mark.parametrize("server", [UploadLimits(max_bytes=2_000_000, max_parallel=1, queue_seconds=0.2)],
                         indirect=True)
def test_an_upload_that_finds_every_slot_busy_gets_a_503(server):
    assert server.service.slots.acquire(timeout=1)  # one long upload in progress
    try:
        code, body = post(server, "a.wav", wav_bytes(np.zeros(16_000, np.float32)))
    finally:
        server.service.slots.release()
    assert code == 503 and "busy" in body["error"]


@pytest.mark.skipif(shutil.which("ffprobe") is None, reason="ffmpeg not installed (scripts/setup_system.sh)")
def test_error_replies_name_the_upload_not_a_server_path(server):
    code, body = post(server, "my talk.webm", np.random.default_rng(0).bytes(3000))
    assert code == 422 and body["error"].startswith("my talk.webm: unreadable")
    assert tempfile.gettempdir() not in body["error"] and "upload.webm" not in body["error"], body["error"]
