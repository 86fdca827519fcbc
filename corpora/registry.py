"""Corpus readers by name (timm-style registry), so configs name a corpus and the
preparation command never imports a reader directly."""
from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Callable, Protocol

from corpora.record import CorpusListing


class CorpusReader(Protocol):
    def __call__(self, root: Path, **options: Any) -> CorpusListing: ...


_READERS: dict[str, CorpusReader] = {}


def register_corpus(name: str) -> Callable[[CorpusReader], CorpusReader]:
    """Register ``fn(root, **options) -> CorpusListing`` under ``name``; duplicates raise."""

    def decorate(fn: CorpusReader) -> CorpusReader:
        if name in _READERS:
            raise ValueError(f"corpus reader {name!r} is registered twice")
        _READERS[name] = fn
        return fn

    return decorate


def list_corpora() -> list[str]:
    return sorted(_READERS)


def read_corpus(name: str, root: str | Path, /, **options: Any) -> CorpusListing:
    """Read a corpus by registered name; options set to None are dropped (config may leave them unset).

    ``name`` and ``root`` are positional-only, so a reader may take an option called ``name``.
    """
    if name not in _READERS:
        raise ValueError(f"unknown corpus {name!r}; known corpora: {', '.join(list_corpora())}")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"corpus {name!r}: root folder {root} does not exist")
    options = {k: v for k, v in options.items() if v is not None}
    _check_options(name, options)
    return _READERS[name](root, **options)


def _check_options(name: str, options: dict[str, Any]) -> None:
    """A mistyped option in a data config should name itself, not surface as a TypeError."""
    accepted = [p for p in inspect.signature(_READERS[name]).parameters][1:]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(
            f"corpus {name!r}: unknown option(s) {', '.join(map(repr, unknown))}; "
            f"accepted: {', '.join(accepted) or 'none'}"
        )
