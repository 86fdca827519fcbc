"""What a killed preparation leaves in ``<output>.partial`` that the same command's rerun can trust.

A preparation of 100,000 clips runs for hours; a ``kill -9`` (an OOM killer, a SLURM time limit,
a preempted node) must cost only the work in flight. Three rules make the staging folder safe to
resume, with nothing ever read back that could be half written:

- the folder is resumed only when its ``resume.json`` holds the same stamp (settings fingerprint and
  every input's content hash, pipeline.py); any other leftover folder is removed, as before;
- every file is written under a temporary name and renamed into place (:func:`write_atomic`), so a
  name that exists is complete: a spooled clip, a shard;
- per-clip results (decode, augmentation) go to an append-only :class:`Journal` of JSON lines; a
  line torn by the kill is dropped, and that clip is simply done again.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

RESUME_FILE = "resume.json"


def write_atomic(path: Path, data: bytes) -> None:
    """``path`` holds ``data`` whole or not at all, even if the process is killed mid-write."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def remove_torn(staging: Path) -> int:
    """Delete the temporary files a kill left mid-write (never read: their final names do not exist)."""
    torn = list(staging.rglob(".*.tmp"))
    for path in torn:
        path.unlink(missing_ok=True)
    return len(torn)


def resumable(staging: Path, stamp: str) -> bool:
    """True when ``staging`` is a killed run of this exact preparation (same settings and inputs)."""
    try:
        return json.loads((staging / RESUME_FILE).read_text()).get("stamp") == stamp
    except (OSError, ValueError, AttributeError):
        return False


def mark_staging(staging: Path, stamp: str) -> None:
    write_atomic(staging / RESUME_FILE, json.dumps({"stamp": stamp}).encode())


class Journal:
    """Append-only records (one JSON object a line, each with an ``index``) of finished tasks."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle = None

    def load(self) -> dict[int, dict[str, Any]]:
        """The records written whole; the file is cut back to them (a torn last line is dropped)."""
        records: dict[int, dict[str, Any]] = {}
        if not self.path.is_file():
            return records
        valid = 0
        with self.path.open("rb") as handle:
            for line in handle:
                if not line.endswith(b"\n"):
                    break
                try:
                    record = json.loads(line)
                except ValueError:
                    break
                records[int(record["index"])] = record
                valid += len(line)
        os.truncate(self.path, valid)
        return records

    def append(self, record: dict[str, Any]) -> None:
        if self.handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.handle = self.path.open("a", encoding="utf-8")
        self.handle.write(json.dumps(record, sort_keys=True) + "\n")
        self.handle.flush()  # in the kernel's hands: a kill -9 of this process cannot lose it

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
