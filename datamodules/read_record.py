"""ReadRecord: an opt-in log of the samples each rank's loader delivered, per stage and epoch.

"Each rank trains on a different part of the shards" and "evaluation scores every sample once over
all ranks" follow from the split stages, but on a cluster they are worth checking from what was
actually read. With ``data.read_log=DIR`` every rank appends one JSON line per batch to
``DIR/rank<R>.jsonl``: ``{"stage", "epoch", "rank", "world_size", "node", "restart", "keys"}``.
It is written by the process that consumes the batches, so it is what the model received, after
every split, shuffle and bad-sample skip. Off (None) by default: no cost.
"""
from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator


class ReadRecord:
    """Appends each batch's sample keys to ``folder/rank<R>.jsonl`` (one file per rank: no locking)."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)

    def recorded(self, batches: Iterable[dict[str, Any]], stage: str, epoch: Callable[[], int], rank: int,
                 world_size: int) -> Iterator[dict[str, Any]]:
        """``batches`` unchanged, each one's keys written (and flushed) before it is handed on.

        ``epoch`` is read when the first batch arrives, which is when the pipeline read it: a
        resuming trainer calls ``iter()`` on its loader more than once before it consumes one."""
        self.folder.mkdir(parents=True, exist_ok=True)
        head = {"stage": stage, "rank": rank, "world_size": world_size,
                "node": os.environ.get("SLURMD_NODENAME") or socket.gethostname(),
                "restart": int(os.environ.get("SLURM_RESTART_COUNT", 0))}
        with open(self.folder / f"rank{rank}.jsonl", "a") as stream:
            for batch in batches:
                head.setdefault("epoch", epoch())
                stream.write(json.dumps({**head, "keys": list(batch["key"])}) + "\n")
                stream.flush()  # a killed job leaves whole lines of what it had read
                yield batch


def read_records(folder: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every line of every rank's record under ``folder``, rank 0's first."""
    files = sorted(Path(folder).glob("rank*.jsonl"), key=lambda path: int(path.stem[4:]))
    return [json.loads(line) for path in files for line in path.read_text().splitlines() if line.strip()]
