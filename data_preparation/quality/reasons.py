"""Why a file was set aside: a category that stats and plots count, plus the measured value.

A manifest with 120 distinct strings "too long: 4.10 s > 4 s", "too long: 4.14 s > 4 s", ...
counts as 120 reasons; one category "too long" with the number in its own column counts as one.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reason:
    """``category`` is a short fixed phrase ("too long", "silent"); ``value`` the number that decided
    it, in the unit the detail names (seconds, dBFS, ...); ``detail`` the rest, for a human.

    >>> str(Reason("too long", 4.1, "4.10 s > 4 s"))
    'too long: 4.10 s > 4 s'
    >>> Reason.from_text("reader: not an audio file").category
    'reader'
    """

    category: str
    value: float | None = None
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.category}: {self.detail}" if self.detail else self.category

    @classmethod
    def from_text(cls, text: str) -> "Reason":
        """A "category: detail" message (for example an AudioReadError's) as a Reason."""
        category, _, detail = text.partition(":")
        return cls(category.strip(), None, detail.strip())
