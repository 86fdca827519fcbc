"""Content digests of input files, cached by (path, size, mtime_ns), for the preparation fingerprint.

A clip re-encoded, normalised or repaired in place often keeps its size, so sizes cannot tell a
changed corpus from an unchanged one; the file's bytes can. Hashing 60,000 clips on every re-run
would cost a full read of the corpus, so each digest is remembered with the file's size and
modification time (nanoseconds): a file whose size and mtime are unchanged is not read again. An
edit that keeps both the size and the exact mtime (a deliberate ``touch -d`` back) is not seen;
``overwrite: true`` always re-prepares for that case.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> (folder / "a.wav").write_bytes(b"RIFF1234")
8
>>> cache = DigestCache()
>>> cache.digest(folder / "a.wav")
'8a01e149047b10fe5ec2ed16bb482b69'
>>> cache.digest(folder / "missing.wav") is None
True
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

CACHE_FILE = "input_hashes.json"  # in the prepared folder, beside stats.json
CACHE_VERSION = 1


def file_digest(path: Path) -> str:
    """BLAKE2b-128 of the file's bytes (stdlib, several times faster than sha256 here)."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, lambda: hashlib.blake2b(digest_size=16)).hexdigest()


class DigestCache:
    """Digests of files keyed by absolute path, valid while size and mtime_ns are unchanged.

    Only entries looked up since loading are saved, so the cache never outgrows the corpus.
    """

    def __init__(self, entries: dict[str, list] | None = None) -> None:
        self._known = entries or {}
        self._used: dict[str, list] = {}
        self.hashed = 0  # files read (not answered from the cache) since loading

    @classmethod
    def load(cls, path: Path) -> "DigestCache":
        """The cache saved at ``path``; an empty one when it is missing or unreadable (then all is re-hashed)."""
        try:
            data = json.loads(path.read_text())
            if data.get("version") == CACHE_VERSION and isinstance(data.get("files"), dict):
                return cls(data["files"])
        except (OSError, ValueError, AttributeError):
            pass
        return cls()

    def digest(self, path: Path) -> str | None:
        """The content digest of ``path``; None when it is not a regular file."""
        try:
            status = path.stat()
        except OSError:
            return None
        if not stat.S_ISREG(status.st_mode):
            return None
        name = os.path.abspath(path)
        known = self._known.get(name)
        if known is not None and known[0] == status.st_size and known[1] == status.st_mtime_ns:
            self._used[name] = known
            return known[2]
        value = file_digest(path)
        self.hashed += 1
        self._used[name] = [status.st_size, status.st_mtime_ns, value]
        return value

    @property
    def changed(self) -> bool:
        """True when saving would write something other than what was loaded."""
        return self.hashed > 0 or self._used.keys() != self._known.keys()

    def save(self, path: Path) -> None:
        """Write the entries used since loading (atomically: a crash never leaves half a cache)."""
        temporary = path.with_name(path.name + ".tmp")
        try:
            temporary.write_text(json.dumps({"version": CACHE_VERSION, "files": self._used}, sort_keys=True))
            temporary.replace(path)
        except OSError as error:  # a read-only dataset folder: the next run just hashes again
            log.warning("could not save the input digest cache %s: %s", path, error)
