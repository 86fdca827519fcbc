"""Write samples into WebDataset tar shards, byte-identical on every re-run.

Determinism comes from three things: samples are written in a seeded order, every tar member
gets the same fixed mtime/owner/mode, and the payloads themselves (FLAC, JSON with sorted keys,
npy) are deterministic encodings.
"""
from __future__ import annotations

import itertools
import os
import re
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
import webdataset as wds

from data_preparation.shards.shard_format import shard_name

TAR_MTIME = 0  # fixed member mtime: re-runs must not differ by timestamp; an int, since a float
# mtime makes tarfile add a PAX header to every member (two more blocks each, and a quarter of read time)
_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
KEY_MAX_CHARS = 80  # USTAR member names hold 100 characters; leave room for ".json"


def make_keys(corpora: Sequence[str], sources: Sequence[str]) -> list[str]:
    """Readable, unique, tar-safe keys from corpus name and relative path.

    WebDataset splits a member name at the first dot, so keys carry no dots or slashes.

    >>> make_keys(["tess", "tess"], ["OAF/a.b.wav", "OAF/a_b.wav"])
    ['tess-OAF_a_b', 'tess-OAF_a_b-2']
    """
    keys: list[str] = []
    taken: set[str] = set()
    for corpus, source in zip(corpora, sources):
        stem = source.rsplit(".", 1)[0] if "." in Path(source).name else source
        base = _KEY_UNSAFE.sub("_", f"{corpus}-{stem}").strip("_")[:KEY_MAX_CHARS - 8]
        key, copy = base, 1
        while key in taken:
            copy += 1
            key = f"{base}-{copy}"
        taken.add(key)
        keys.append(key)
    return keys


def seeded_order(count: int, seed: int) -> list[int]:
    """The writing order of a split: shuffled once, so shards mix classes and corpora."""
    return np.random.default_rng(seed).permutation(count).tolist()


def shard_ranges(count: int, max_per_shard: int) -> list[range]:
    """The items each shard of a split holds, in writing order; an empty split still gets one (empty) shard.

    >>> shard_ranges(5, 2)
    [range(0, 2), range(2, 4), range(4, 5)]
    """
    if max_per_shard < 1:
        raise ValueError(f"shard_max_samples must be at least 1, got {max_per_shard}")
    return [range(start, min(start + max_per_shard, count)) for start in range(0, count, max_per_shard)] or [range(0)]


def write_tar(path: Path, samples: Iterable[dict[str, bytes | str]]) -> None:
    """One shard, whole or not at all: written under a temporary name, synced, then renamed into place.

    A shard that exists under its own name is therefore complete, which is what lets a killed
    preparation's rerun keep it (data_preparation/resume.py) instead of writing it again.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with temporary.open("wb") as handle:
        with wds.TarWriter(handle, encoder=False, mtime=TAR_MTIME, user="ser", group="ser", mode=0o444) as sink:
            for sample in samples:
                sink.write(sample)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def write_shards(
    samples: Iterable[dict[str, bytes | str]], out_dir: Path, split: str, max_per_shard: int, folder: str = "shards"
) -> list[str]:
    """Write ``{"__key__": key, ext: bytes, ...}`` samples to ``{folder}/{split}-NNNNNN.tar``.

    Returns shard paths relative to ``out_dir``. A split without samples still gets one empty
    shard, so every split in stats.json names at least one readable file.
    """
    if max_per_shard < 1:
        raise ValueError(f"shard_max_samples must be at least 1, got {max_per_shard}")
    written: list[str] = []
    iterator = iter(samples)
    while True:
        group = list(itertools.islice(iterator, max_per_shard))
        if not group and written:
            return written
        name = shard_name(split, len(written), folder)
        write_tar(out_dir / name, group)
        written.append(name)


def read_samples(paths: Sequence[Path]) -> Iterator[dict]:
    """Raw samples of local shards (for checks and tests): ``__key__`` plus bytes per extension."""
    for sample in wds.WebDataset([str(p) for p in paths], shardshuffle=False, empty_check=False):
        yield sample
