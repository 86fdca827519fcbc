"""A small HTTP server (standard library only) in front of one Predictor.

Routes: ``GET /`` the page, ``GET /static/...`` its script and style, ``GET /api/info`` classes and
limits, ``POST /api/predict`` the raw bytes of one recording (file name in ``X-Filename``) ->
JSON with every segment's top three emotions and a waveform envelope for drawing.

Every request's framing is checked first (RFC 9112 section 6.3), so that behind a reverse proxy no
body can be read as a request of its own: two differing Content-Length headers, or Transfer-Encoding
beside Content-Length, are a 400; a chunked body (Transfer-Encoding, no Content-Length) a 411
"Content-Length required"; a GET with a body a 400; each answered, then the connection closed.
Uploads are checked in order of cost: declared size (a malformed Content-Length is a 400, one over
the limit a 413 answered before a byte of the body is read), file type by name, then the duration,
counted while decoding (a header cannot lie its way past it). Each failure is a JSON error with a
4xx status that the page shows; any other exception in a request becomes a 500 for that request
only, so a broken file never takes the server down. Error replies name the upload as the client
called it, never a path on the server. What the client sent reaches the server log only escaped
(:func:`printable`): a request line or file name cannot write lines or terminal controls into it.

Memory is bounded by configuration: at most ``limits.max_parallel`` uploads are received, decoded
and predicted at a time (a semaphore); the others wait up to ``limits.queue_seconds`` for a slot and
then get a 503. The body goes to a temporary file in 1 MB chunks, not into memory, so peak memory is
about ``max_parallel`` decoded recordings of at most ``max_seconds``. Inference is serialised by a
lock: one model, one at a time.
"""
from __future__ import annotations

import io
import json
import logging
import re
import socket
import tempfile
import threading
from contextlib import contextmanager
from email.message import Message
from dataclasses import asdict, dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any, BinaryIO, Iterator
from urllib.parse import unquote

import numpy as np

from corpora.audio_suffixes import AUDIO_SUFFIXES
from prediction.predictor import Predictor
from prediction.recording import RecordingError, load_recording, predict_wave
from prediction.segments import SegmentSpec

log = logging.getLogger(__name__)
STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8"}
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
ENVELOPE_POINTS = 1200
CHUNK = 1 << 20  # bytes read from a socket at a time
LINGER_SECONDS = 2.0  # after refusing a body unread: how long to wait for the client to stop sending
CONTENT_LENGTH = re.compile(r"[0-9]+")
CONTENT_LENGTH_DIGITS = 18  # more digits: 10^18 bytes or more, over any limit (and no int() of a 60 kB number)


class UploadError(ValueError):
    """An upload refused for a reason the person can fix; ``status`` is the HTTP status to answer."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class UploadLimits:
    """What one upload may cost, and how many may run at once (``max_parallel`` bounds peak memory)."""

    max_bytes: int = 50 * 1024 * 1024
    max_seconds: float = 600.0  # decoded audio, counted while decoding
    min_seconds: float = 0.2
    max_parallel: int = 2  # uploads received + decoded + predicted at a time; the rest wait
    queue_seconds: float = 30.0  # how long an upload waits for a free slot before a 503

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_seconds", "max_parallel", "queue_seconds"):
            if getattr(self, name) <= 0:
                raise ValueError(f"limits.{name}={getattr(self, name)!r}: must be positive")


def parse_content_length(header: str | None) -> int | None:
    """The declared body size; None when absent, UploadError 400 when it is not a plain decimal number,
    413 when it has more than CONTENT_LENGTH_DIGITS digits (a size, only too large to be one to accept).

    >>> parse_content_length("1024"), parse_content_length(None)
    (1024, None)
    >>> parse_content_length("1" + "0" * 20)
    Traceback (most recent call last):
    serving.app.UploadError: Content-Length 100000000000000000000 is too large: 10^18 bytes or more
    """
    if header is None or header == "":
        return None
    text = header.strip()
    if not CONTENT_LENGTH.fullmatch(text):
        raise UploadError(HTTPStatus.BAD_REQUEST, f"Content-Length {header[:40]!r} is not a number of bytes")
    if len(text.lstrip("0")) > CONTENT_LENGTH_DIGITS:
        shown = text if len(text) <= 40 else f"{text[:20]}...({len(text)} digits)"
        raise UploadError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                          f"Content-Length {shown} is too large: 10^{CONTENT_LENGTH_DIGITS} bytes or more")
    return int(text)


def framing_problem(method: str, headers: Message) -> tuple[HTTPStatus, str] | None:
    """(status, reason) when the request's body length is ambiguous or unsupported; None when it is clear.

    RFC 9112 section 6.3: differing Content-Length values, or Transfer-Encoding with Content-Length,
    are an error after which the connection must close (a proxy and this server could each frame the
    body differently: request smuggling). Chunked bodies are not supported, so Transfer-Encoding
    alone asks for a Content-Length; this server's GET takes no body.

    >>> from email.message import Message
    >>> twice = Message(); twice["Content-Length"] = "5"; twice["Content-Length"] = "62"
    >>> framing_problem("POST", twice)[1]
    "conflicting Content-Length headers ('5', '62'): the upload's length is ambiguous"
    """
    encodings = headers.get_all("Transfer-Encoding") or []
    lengths = [value.strip() for value in headers.get_all("Content-Length") or []]
    if encodings and lengths:
        return HTTPStatus.BAD_REQUEST, "Transfer-Encoding and Content-Length together: the upload's length is ambiguous"
    if len(set(lengths)) > 1:
        shown = ", ".join(repr(value[:20]) for value in lengths[:4])
        return HTTPStatus.BAD_REQUEST, f"conflicting Content-Length headers ({shown}): the upload's length is ambiguous"
    if method != "POST" and (encodings or (lengths and lengths[0].lstrip("0") != "")):
        return HTTPStatus.BAD_REQUEST, f"a {method} request carries no body here"
    if encodings:
        return HTTPStatus.LENGTH_REQUIRED, ("Content-Length required: the upload's size must be declared "
                                            "(a chunked upload, Transfer-Encoding, is not accepted)")
    return None


def printable(text: str) -> str:
    r"""``text`` with every non-printable character and the backslash escaped, for the server log.

    The log is read in terminals and by log tools: a request line holding ``\r\n`` or ``\x1b[2J``
    must not forge a line or clear a screen there.

    >>> printable("GET /a\r\nINFO fake line\x1b[2J \\ \u00e9")
    'GET /a\\r\\nINFO fake line\\x1b[2J \\\\ é'
    """
    return "".join(ch if ch.isprintable() and ch != "\\" else ch.encode("unicode_escape").decode("ascii")
                   for ch in text)


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
        self.slots = threading.BoundedSemaphore(limits.max_parallel)

    @contextmanager
    def slot(self) -> Iterator[None]:
        """One of ``limits.max_parallel`` places to receive, decode and predict; 503 after ``queue_seconds``."""
        if not self.slots.acquire(timeout=self.limits.queue_seconds):
            raise UploadError(HTTPStatus.SERVICE_UNAVAILABLE,
                              f"the server is busy with {self.limits.max_parallel} uploads; try again in a minute")
        try:
            yield
        finally:
            self.slots.release()

    def info(self) -> dict[str, Any]:
        return {"class_names": self.predictor.class_names, "segment": asdict(self.spec),
                "limits": asdict(self.limits), "allowed_types": list(AUDIO_SUFFIXES)}

    def check_upload(self, filename: str, size: int | None) -> str:
        """The file's suffix, or UploadError for a missing/oversized body or an unsupported type."""
        if not filename:
            raise UploadError(HTTPStatus.BAD_REQUEST, "no file name given (X-Filename header)")
        if size is None:
            raise UploadError(HTTPStatus.LENGTH_REQUIRED, f"{filename}: Content-Length required: the upload's size must be declared")
        if size <= 0:
            raise UploadError(HTTPStatus.BAD_REQUEST, f"{filename}: the upload is empty")
        if size > self.limits.max_bytes:
            raise UploadError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                              f"{filename}: {size / 2**20:.1f} MB is over the limit of {self.limits.max_bytes / 2**20:.0f} MB")
        suffix = Path(filename).suffix.lower()
        if suffix not in AUDIO_SUFFIXES:
            raise UploadError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                              f"{filename}: type {suffix or '(none)'} is not accepted; use one of {', '.join(AUDIO_SUFFIXES)}")
        return suffix

    def predict(self, filename: str, data: bytes) -> dict[str, Any]:
        """``predict_stream`` of bytes already in memory."""
        return self.predict_stream(filename, io.BytesIO(data), len(data))

    def predict_stream(self, filename: str, stream: BinaryIO, length: int) -> dict[str, Any]:
        """Copy ``length`` bytes of ``stream`` to a temporary file, decode it and predict every segment.

        RecordingError -> UploadError (422), with the server's temporary path replaced by ``filename``.
        """
        suffix = self.check_upload(filename, length)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"upload{suffix}"
            with path.open("wb") as target:
                while length > 0:
                    data = stream.read(min(CHUNK, length))
                    if not data:
                        raise UploadError(HTTPStatus.BAD_REQUEST, f"{filename}: the upload ended early")
                    target.write(data)
                    length -= len(data)
            try:
                wave, rate, channels = load_recording(path, self.limits.max_seconds)
            except RecordingError as error:
                reason = str(error).split(": ", 1)[-1].replace(str(path), filename).replace(folder, "")
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
        log.info("%s %s", self.address_string(), printable(format % args))

    def parse_request(self) -> bool:
        """The standard parse, then the body's framing (:func:`framing_problem`): a request whose body
        could be framed two ways is answered and its connection closed, its bytes never parsed again."""
        if not super().parse_request():
            return False
        problem = framing_problem(self.command, self.headers)
        if problem is None:
            return True
        self.close_connection = True
        self._json(problem[0], {"error": problem[1]})
        self._linger(self.server.service.limits.max_bytes)
        return False

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        if self.close_connection:
            self.send_header("Connection", "close")
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
        if self.path != "/api/predict":  # its body is not read: close, so it is never parsed as a request
            self.close_connection = True
            return self._json(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint: {printable(self.path)[:200]}"})
        service = self.server.service
        filename = unquote(self.headers.get("X-Filename", ""))
        length, started = None, False
        try:
            length = parse_content_length(self.headers.get("Content-Length"))
            service.check_upload(filename, length)
            with service.slot():
                started = True  # from here on the body is being read: no lingering over it afterwards
                self._json(HTTPStatus.OK, service.predict_stream(filename, self.rfile, length))
        except UploadError as error:
            if not started:  # the body was never read: answer now, then close the connection
                self.close_connection = True
            self._json(error.status, {"error": str(error)})
            if not started:  # a size too large to parse: drain as for any over-limit size
                too_large = length is None and error.status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
                self._linger(service.limits.max_bytes if too_large else min(length or 0, service.limits.max_bytes))
        except Exception:  # noqa: BLE001 - one bad request must never stop the server
            log.exception("prediction failed for %s", printable(filename))
            self.close_connection = True
            self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"{filename}: internal error (see the server log)"})

    def _linger(self, limit: int) -> None:
        """After answering a refused request: discard what the client still sends (at most ``limit`` bytes,
        until it pauses for LINGER_SECONDS), so a client that writes its whole body before reading gets to
        read the answer instead of a reset connection. The answer itself never waited for the body."""
        self.connection.settimeout(LINGER_SECONDS)
        try:
            while limit > 0:
                data = self.rfile.read1(min(CHUNK, limit))
                if not data:
                    break
                limit -= len(data)
        except (socket.timeout, OSError):
            pass


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
