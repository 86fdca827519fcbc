"""A small HTTP server (standard library only) in front of one Predictor.

Routes: ``GET /`` the page, ``GET /static/...`` its script and style, ``GET /api/info`` classes and
limits, ``POST /api/predict`` the raw bytes of one recording (file name in ``X-Filename``) ->
JSON with every segment's top three emotions and a waveform envelope for drawing.

Uploads are checked in order of cost: declared size, file type by name, then the decoded
duration (read from the header before decoding). Each failure is a JSON error with a 4xx status
that the page shows; any other exception in a request becomes a 500 for that request only, so a
broken file never takes the server down. Inference is serialised by a lock: one model, one at a time.
"""
from __future__ import annotations

import json
import logging
import tempfile
import threading
from dataclasses import asdict, dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import numpy as np

from prediction.predictor import Predictor
from prediction.recording import RecordingError, load_recording, predict_wave
from prediction.segments import SegmentSpec

log = logging.getLogger(__name__)
ALLOWED_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".webm", ".aiff", ".aif")
STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8"}
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
ENVELOPE_POINTS = 1200


class UploadError(ValueError):
    """An upload refused for a reason the person can fix; ``status`` is the HTTP status to answer."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class UploadLimits:
    max_bytes: int = 50 * 1024 * 1024
    max_seconds: float = 600.0
    min_seconds: float = 0.2


def waveform_envelope(wave: np.ndarray, points: int = ENVELOPE_POINTS) -> list[list[float]]:
    """[min, max] of ``points`` equal slices of ``wave``: enough to draw it, small enough to send.

    >>> waveform_envelope(np.array([0.0, 1.0, -1.0, 0.5]), points=2)
    [[0.0, 1.0], [-1.0, 0.5]]
    """
    points = max(1, min(points, len(wave)))
    slices = np.array_split(wave, points)
    return [[round(float(s.min()), 4), round(float(s.max()), 4)] for s in slices]


class PredictionService:
    """The checks and the prediction behind ``POST /api/predict``, independent of HTTP."""

    def __init__(self, predictor: Predictor, spec: SegmentSpec, limits: UploadLimits, batch_size: int = 16) -> None:
        self.predictor, self.spec, self.limits, self.batch_size = predictor, spec, limits, batch_size
        self.lock = threading.Lock()

    def info(self) -> dict[str, Any]:
        return {"class_names": self.predictor.class_names, "segment": asdict(self.spec),
                "limits": asdict(self.limits), "allowed_types": list(ALLOWED_SUFFIXES)}

    def check_upload(self, filename: str, size: int | None) -> str:
        """The file's suffix, or UploadError for a missing/oversized body or an unsupported type."""
        if not filename:
            raise UploadError(HTTPStatus.BAD_REQUEST, "no file name given (X-Filename header)")
        if size is None or size <= 0:
            raise UploadError(HTTPStatus.LENGTH_REQUIRED, f"{filename}: the upload is empty")
        if size > self.limits.max_bytes:
            raise UploadError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                              f"{filename}: {size / 2**20:.1f} MB is over the limit of {self.limits.max_bytes / 2**20:.0f} MB")
        suffix = Path(filename).suffix.lower()
        if suffix not in ALLOWED_SUFFIXES:
            raise UploadError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                              f"{filename}: type {suffix or '(none)'} is not accepted; use one of {', '.join(ALLOWED_SUFFIXES)}")
        return suffix

    def predict(self, filename: str, data: bytes) -> dict[str, Any]:
        """Decode the uploaded bytes and predict every segment; RecordingError -> UploadError (422)."""
        suffix = self.check_upload(filename, len(data))
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"upload{suffix}"
            path.write_bytes(data)
            try:
                wave, rate, channels = load_recording(path, self.limits.max_seconds)
            except RecordingError as error:
                reason = str(error).split(": ", 1)[-1]
                raise UploadError(HTTPStatus.UNPROCESSABLE_ENTITY, f"{filename}: {reason}") from None
        duration = len(wave) / self.predictor.sample_rate
        if duration < self.limits.min_seconds:
            raise UploadError(HTTPStatus.UNPROCESSABLE_ENTITY,
                              f"{filename}: {duration:.2f} s is shorter than {self.limits.min_seconds:g} s")
        with self.lock:
            segments = predict_wave(self.predictor, wave, self.spec, self.batch_size)
        return {"filename": filename, "duration": round(duration, 4), "native_sample_rate": rate,
                "native_channels": channels, "segments": [asdict(s) for s in segments],
                "waveform": waveform_envelope(wave)}


class Handler(BaseHTTPRequestHandler):
    """Routes requests to the page, its static files and the PredictionService of the server."""

    server: "EmotionServer"
    protocol_version = "HTTP/1.1"
    timeout = 120  # seconds of socket silence before a stalled upload's connection is dropped

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: HTTPStatus, payload: dict[str, Any]) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json")

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/api/info":
            return self._json(HTTPStatus.OK, self.server.service.info())
        name = "index.html" if path in ("/", "/index.html") else path.removeprefix("/static/")
        static = resources.files("serving") / "static" / name
        if "/" in name or Path(name).suffix not in STATIC_TYPES or not static.is_file():
            return self._json(HTTPStatus.NOT_FOUND, {"error": f"no such page: {path}"})
        self._send(HTTPStatus.OK, static.read_bytes(), STATIC_TYPES[Path(name).suffix])

    def do_POST(self) -> None:
        if self.path != "/api/predict":
            return self._json(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint: {self.path}"})
        filename = unquote(self.headers.get("X-Filename", ""))
        header = self.headers.get("Content-Length", "")
        length = int(header) if header.isdigit() else None
        try:
            try:
                self.server.service.check_upload(filename, length)
            except UploadError:
                self._drain(length or 0)  # browsers send the whole body before reading any answer
                raise
            self._json(HTTPStatus.OK, self.server.service.predict(filename, self.rfile.read(length)))
        except UploadError as error:
            self._json(error.status, {"error": str(error)})
        except Exception as error:  # noqa: BLE001 - one bad request must never stop the server
            log.exception("prediction failed for %s", filename)
            self.close_connection = True
            self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"{filename}: internal error: {error}"})

    def _drain(self, length: int, chunk: int = 1 << 20) -> None:
        """Read and discard a refused body in 1 MB chunks, so the client gets to read the error."""
        while length > 0:
            data = self.rfile.read(min(chunk, length))
            if not data:
                break
            length -= len(data)


class EmotionServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], service: PredictionService) -> None:
        if address[0] not in LOOPBACK_HOSTS:
            raise ValueError(f"--host {address[0]}: the server binds to the loopback interface only "
                             f"({', '.join(LOOPBACK_HOSTS)}); put a reverse proxy in front to publish it")
        super().__init__(address, Handler)
        self.service = service

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"
