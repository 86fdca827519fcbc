"""A local stand-in for the Hugging Face hub: serves saved model folders the way huggingface_hub reads them.

``HF_ENDPOINT=http://127.0.0.1:<port>`` points huggingface_hub (and so transformers, timm and
``snapshot_download``) at it. It answers the requests ``snapshot_download`` and ``hf_hub_download``
make (huggingface_hub's _snapshot_download.py and file_download.py): the repository's info with its
commit and file list (``/api/models/<repo>/revision/<rev>``), the file tree
(``/api/models/<repo>/tree/<rev>``), and each file's metadata (HEAD, with ``X-Repo-Commit``, ``ETag``
and its size) and bytes (GET) under ``/<repo>/resolve/<rev>/<file>``. Every request is recorded, so a
test can tell whether a command went to the hub at all.
"""
from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class StandinHub:
    """Serve ``repos`` (repo id -> folder) on 127.0.0.1; a context manager giving the endpoint URL."""

    def __init__(self, repos: dict[str, Path]) -> None:
        self.repos = {repo: Path(folder) for repo, folder in repos.items()}
        self.requests: list[str] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> str:
        self.thread.start()
        return self.endpoint

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def files(self, repo: str) -> dict[str, Path]:
        folder = self.repos[repo]
        return {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*")) if p.is_file()}

    def _route(self, path: str) -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body) for a GET of ``path``."""
        for repo in self.repos:
            if path == f"/api/models/{repo}" or path.startswith(f"/api/models/{repo}/revision/"):
                siblings = [{"rfilename": name} for name in self.files(repo)]
                body = json.dumps({"id": repo, "modelId": repo, "sha": COMMIT, "siblings": siblings, "private": False})
                return 200, {"Content-Type": "application/json"}, body.encode()
            if path.startswith(f"/api/models/{repo}/tree/"):
                tree = [{"type": "file", "path": name, "size": file.stat().st_size, "oid": _sha1(file)}
                        for name, file in self.files(repo).items()]
                return 200, {"Content-Type": "application/json"}, json.dumps(tree).encode()
            prefix = f"/{repo}/resolve/"
            if path.startswith(prefix):
                name = path[len(prefix):].split("/", 1)[-1]
                file = self.files(repo).get(name)
                if file is None:
                    return 404, {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": COMMIT}, b"not found"
                data = file.read_bytes()
                return 200, {"X-Repo-Commit": COMMIT, "ETag": f'"{hashlib.sha256(data).hexdigest()}"',
                             "Content-Type": "application/octet-stream"}, data
        return 404, {"X-Error-Code": "RepoNotFound"}, b"no such repository"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, with_body: bool) -> None:
                path = unquote(urlparse(self.path).path)
                hub.requests.append(f"{self.command} {path}")
                status, headers, body = hub._route(path)
                self.send_response(status)
                for key, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(key, value)
                self.end_headers()
                if with_body:
                    self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802  (http.server's name)
                self._answer(True)

            def do_HEAD(self) -> None:  # noqa: N802
                self._answer(False)

            def log_message(self, *args: object) -> None:
                pass

        return Handler


def _sha1(path: Path) -> str:
    """The git blob id of a file, as the hub's tree lists it."""
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
