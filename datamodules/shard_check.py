"""A split's shards must all be there: a missing one stops the run, naming it, instead of shrinking the split.

Without this, a deleted or unsynced shard was one warning in the log and a score over fewer
samples. Local shards are checked before anything streams (every missing one named at once);
URLs and ``pipe:`` commands are checked when each shard is opened, since listing them up front
would mean running every command twice.
"""
from __future__ import annotations

from pathlib import Path
import contextlib
from typing import Callable, Iterable, Iterator, Mapping

import webdataset as wds

from data_preparation.shards.shard_format import STATS_FILE, SplitInfo

REMEDY = "re-run prepare_data.py with overwrite: true, or restore the files"
PEEK_BYTES = 512  # one tar block: enough to tell an opened shard from a failed command or URL


class MissingShardsError(ValueError):
    """Shards that stats.json lists could not be found or opened (a data error: fix the data, not the code)."""


def is_local(data_root: str) -> bool:
    """True for a folder on this machine (also ``file:`` URLs), False for other URLs and ``pipe:`` commands."""
    return data_root.startswith("file:") or ("://" not in data_root and not data_root.startswith("pipe:"))


def local_path(data_root: str) -> Path:
    return Path(data_root.removeprefix("file://").removeprefix("file:"))


def missing_shards(data_root: str, splits: Mapping[str, SplitInfo]) -> dict[str, list[str]]:
    """Split -> shards listed in stats.json that are not regular files under a local ``data_root``.

    Remote roots give ``{}``: their shards are checked when opened (:func:`open_shards`).
    """
    if not is_local(data_root):
        return {}
    root = local_path(data_root)
    found = {split: [path for path in info.shards if not (root / path).is_file()] for split, info in splits.items()}
    return {split: paths for split, paths in found.items() if paths}


def require_shards(data_root: str, splits: Mapping[str, SplitInfo]) -> None:
    """Raise MissingShardsError naming every missing local shard of ``splits``, split by split."""
    missing = missing_shards(data_root, splits)
    if missing:
        listing = "; ".join(f"{split}: {', '.join(paths)}" for split, paths in missing.items())
        count = sum(len(paths) for paths in missing.values())
        raise MissingShardsError(f"{count} shard(s) that {data_root}/{STATS_FILE} lists are missing ({listing}): "
                                 f"{REMEDY}")


class _Prefixed:
    """A read-only stream that first returns ``prefix``, then the rest of ``stream`` (what tarfile needs)."""

    def __init__(self, prefix: bytes, stream) -> None:
        self.prefix, self.stream = prefix, stream

    def read(self, size: int = -1) -> bytes:
        if not self.prefix:
            return self.stream.read(size)
        if size is None or size < 0:
            head, self.prefix = self.prefix, b""
            return head + self.stream.read()
        head, self.prefix = self.prefix[:size], self.prefix[size:]
        return head if len(head) == size else head + self.stream.read(size - len(head))

    def close(self) -> None:
        self.stream.close()

    def __str__(self) -> str:
        return str(self.stream)


def open_shards(src: Iterable[dict]) -> Iterator[dict]:
    """``{"url"}`` -> ``{"url", "stream"}`` like WebDataset's ``url_opener``, but a shard that cannot be
    opened, or whose command or URL yields no bytes, raises MissingShardsError instead of being skipped.

    A shard that opens but is corrupt inside still goes to the counted bad-sample handler downstream.
    """
    for sample in src:
        url = sample["url"]
        try:
            stream = wds.gopen(url, "rb")
            head = stream.read(PEEK_BYTES)
        except Exception as error:  # gopen and pipes raise OSError, ValueError, ...; name the shard either way
            raise MissingShardsError(f"shard {url} could not be opened ({type(error).__name__}: {error}): "
                                     f"{REMEDY}") from error
        if not head:
            with contextlib.suppress(Exception):  # a failed command raises its exit status on close
                stream.close()
            raise MissingShardsError(f"shard {url} could not be opened (it gave no data): {REMEDY}")
        if _seekable(stream):  # a local file: rewound rather than wrapped, so readers may seek in it
            stream.seek(0)
            yield {**sample, "stream": stream}
        else:
            yield {**sample, "stream": _Prefixed(head, stream)}


def _seekable(stream) -> bool:
    try:
        return bool(stream.seekable())
    except (AttributeError, OSError, ValueError):
        return False


def _tar_samples(src: Iterable[dict], handler: Callable[[Exception], bool]) -> Iterator[dict]:
    files = wds.tariterators.tar_file_expander(open_shards(src), handler=handler)
    return wds.tariterators.group_by_keys(files, handler=handler)


# WebDataset's tarfile_to_samples with open_shards in place of its url_opener: shard URLs -> raw
# samples; a corrupt shard or member still goes to the counted ``handler``, a missing shard stops.
tarfile_to_samples = wds.filters.pipelinefilter(_tar_samples)
