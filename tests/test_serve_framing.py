"""The web server's request framing and its log, over a raw socket (issue 23): behind the reverse proxy
the docs recommend, a body that this server and the proxy could frame differently must never be read
as a request of its own (request smuggling; RFC 9112 section 6.3), and what a client sends reaches
the server log escaped.

Each case sends one hand-written byte string, then reads every response until the server closes the
connection: a request the server refuses gets exactly one answer and a closed connection, so the
request hidden in its body is never parsed.
"""
from __future__ import annotations

import json
import logging
import socket

import numpy as np
import pytest

from serving.app import UploadLimits
from tests.test_serve import wav_bytes
from tests.test_serve_limits import start

SMUGGLED = b"GET /api/info HTTP/1.1\r\nHost: x\r\n\r\n"  # what a proxy would take for part of the body


@pytest.fixture()
def server():
    httpd = start(UploadLimits(max_bytes=2_000_000, max_seconds=30))
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def exchange(server, raw: bytes, wait: float = 20.0) -> tuple[list[tuple[int, dict]], bool]:
    """Send ``raw``; every (status, JSON body) that comes back, and whether the server closed the connection."""
    host, port = server.server_address[:2]
    data, closed = b"", False
    with socket.create_connection((host, port), timeout=wait) as connection:
        connection.sendall(raw)
        try:
            while chunk := connection.recv(65536):
                data += chunk
            closed = True
        except socket.timeout:  # kept open, waiting for a next request
            pass
        except ConnectionResetError:
            closed = True
    replies = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        fields = dict(line.split(b": ", 1) for line in head.split(b"\r\n")[1:])
        size = int(fields[b"Content-Length"])
        body = rest[:size]
        replies.append((int(head.split()[1]), json.loads(body) if body.startswith(b"{") else {"html": body.decode()}))
        data = rest[size:]
    return replies, closed


def post_head(*headers: str) -> bytes:
    return ("POST /api/predict HTTP/1.1\r\nHost: x\r\nX-Filename: a.wav\r\n" + "".join(h + "\r\n" for h in headers)
            + "\r\n").encode()


def test_a_chunked_upload_is_asked_for_its_content_length(server):
    body = wav_bytes(np.zeros(16_000, np.float32))
    chunked = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    replies, closed = exchange(server, post_head("Transfer-Encoding: chunked") + chunked)
    assert [status for status, _ in replies] == [411] and closed
    assert replies[0][1]["error"].startswith("Content-Length required"), replies
    assert "empty" not in replies[0][1]["error"]


@pytest.mark.parametrize("headers", [
    ("Content-Length: 5", "Content-Length: {size}"),  # two differing lengths: the first frames 5 bytes
    ("Content-Length: {size}", "Transfer-Encoding: chunked"),  # a proxy honouring chunked reads "0\r\n\r\n" only
])
def test_an_ambiguous_body_length_is_a_400_and_the_connection_closes(server, headers):
    body = b"0\r\n\r\n" + SMUGGLED  # a chunked end, then the smuggled request
    replies, closed = exchange(server, post_head(*(h.format(size=len(body)) for h in headers)) + body)
    assert [status for status, _ in replies] == [400] and closed, replies  # no answer to the smuggled GET
    assert "the upload's length is ambiguous" in replies[0][1]["error"]


def test_identical_repeated_content_lengths_are_one_length(server):
    body = wav_bytes(np.zeros(16_000, np.float32))
    head = post_head(f"Content-Length: {len(body)}", f"Content-Length: {len(body)}", "Connection: close")
    replies, closed = exchange(server, head + body, wait=60.0)
    assert [status for status, _ in replies] == [200] and closed


@pytest.mark.parametrize(("request_line", "framing", "status"), [  # bodies this server does not read:
    ("GET / HTTP/1.1", f"Content-Length: {len(SMUGGLED)}", 400),  # a GET's
    ("GET / HTTP/1.1", "Transfer-Encoding: chunked", 400),
    ("POST /nowhere HTTP/1.1", f"Content-Length: {len(SMUGGLED)}", 404),  # a POST's to no endpoint
])
def test_a_body_the_server_does_not_read_is_never_parsed_as_a_request(server, request_line, framing, status):
    head = f"{request_line}\r\nHost: x\r\n{framing}\r\n\r\n".encode()
    replies, closed = exchange(server, head + SMUGGLED)
    assert [code for code, _ in replies] == [status] and closed, replies


@pytest.mark.parametrize(("path", "status"), [
    (b"/a\x1b[2J\x07\x08INFO:127.0.0.9:forged", 404),  # ESC (clear the screen), BEL, BS in a path
    (b"/a\rINFO:127.0.0.9:forged", 400),  # a CR: the standard library's "Bad request syntax"
])
def test_request_bytes_reach_the_log_escaped(server, caplog, path, status):
    with caplog.at_level(logging.INFO, logger="serving.app"):
        replies, _ = exchange(server, b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert [code for code, _ in replies] == [status]
    logged = [record.getMessage() for record in caplog.records if record.name == "serving.app"]
    escaped = path.decode("latin-1").encode("unicode_escape").decode("ascii")
    assert any(f'"GET {escaped} HTTP/1.1" {status}' in line for line in logged), logged
    assert logged and all(line.isprintable() for line in logged), logged
