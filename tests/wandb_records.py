"""Read what an offline W&B run recorded, from its ``.wandb`` transaction log."""
from __future__ import annotations

import json
import struct
import time
from pathlib import Path
from typing import Any


def read_wandb_records(run_folder: Path, timeout: float = 60.0) -> dict[str, Any]:
    """Config keys, history keys, exit codes, summary, metric definitions and artifacts of a finished offline run.

    wandb-core writes the log from its own process; ``wandb.finish()`` can return before the last
    buffered records reach the file, so wait (up to ``timeout`` s) for the run's exit record.
    """
    deadline = time.monotonic() + timeout
    while True:
        found = _parse(next(run_folder.glob("*.wandb")).read_bytes())
        if found["exit"] or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def _parse(data: bytes) -> dict[str, Any]:
    """What :func:`read_wandb_records` returns, from the records of an offline run's .wandb log.

    The log is a LevelDB-style record file (7-byte W&B header, 32 KiB blocks, chunks with a 7-byte
    header) of protobuf ``Record``s; wandb-core writes config/summary files only when syncing.
    """
    from wandb.proto import wandb_internal_pb2 as pb

    records, pending, position, block = [], b"", 7, 32768
    while position + 7 <= len(data):
        left = block - position % block
        if left < 7:
            position += left
            continue
        _, length, kind = struct.unpack("<IHB", data[position:position + 7])
        chunk = data[position + 7:position + 7 + length]
        position += 7 + length
        if kind == 1:
            records.append(chunk)
        elif kind in (2, 3):
            pending += chunk
        elif kind == 4:
            records.append(pending + chunk)
            pending = b""
    found: dict[str, Any] = {"config": [], "history": [], "exit": [], "summary": {}, "metrics": {}, "artifacts": []}
    for raw in records:
        record = pb.Record()
        record.ParseFromString(raw)
        kind = record.WhichOneof("record_type")
        if kind == "config":
            found["config"] += [item.key for item in record.config.update]
        elif kind == "exit":
            found["exit"].append(record.exit.exit_code)
        elif kind == "history":
            found["history"] += [item.key or "/".join(item.nested_key) for item in record.history.item]
        elif kind == "summary":  # later updates win, as in the run's summary
            found["summary"].update({item.key or "/".join(item.nested_key): json.loads(item.value_json)
                                     for item in record.summary.update})
        elif kind == "metric":
            summary = [field.name for field, on in record.metric.summary.ListFields() if on]
            found["metrics"][record.metric.name or record.metric.glob_name] = summary
        elif kind == "artifact":
            found["artifacts"].append(record.artifact.name)
    return found
