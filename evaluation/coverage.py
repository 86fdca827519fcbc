"""How much of a split a score covers: "scored N of M", and the error when N falls short.

A corrupt sample skipped by the counted handler (or a shard that vanished mid-run) leaves a
score over fewer samples than stats.json lists. Such a number is not the split's score, so a test
or an evaluation over an incomplete split stops with this message, unless the user allowed it;
then the report carries it.

>>> Coverage("test", scored=144, expected=144).summary
'scored 144 of 144 test samples'
>>> Coverage("test", scored=128, expected=144, allowed=True).summary
'scored 128 of 144 test samples (16 not scored; allowed)'
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


class IncompleteScoreError(ValueError):
    """A test or evaluation scored fewer samples than its split holds (a data error, fixed in the data)."""


@dataclass(frozen=True)
class Coverage:
    """``scored`` of the ``expected`` samples of ``split``; ``excluded`` were left out on purpose
    (classes the model cannot predict); ``limit`` names a setting that scores fewer on purpose
    (``trainer.limit_test_batches=2``); ``allowed``: the user accepted an incomplete score."""

    split: str
    scored: int
    expected: int
    excluded: int = 0
    allowed: bool = False
    limit: str | None = None

    @property
    def complete(self) -> bool:
        return self.scored + self.excluded == self.expected

    @property
    def summary(self) -> str:
        text = f"scored {self.scored} of {self.expected} {self.split} samples"
        notes = [f"{self.excluded} excluded by the class mapping"] if self.excluded else []
        if not self.complete:
            notes.append(f"{self.expected - self.scored - self.excluded} not scored")
            notes.append(f"limited by {self.limit}" if self.limit else "allowed" if self.allowed else "incomplete")
        return text + (f" ({'; '.join(notes)})" if notes else "")

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "complete": self.complete, "summary": self.summary}

    def check(self, allow_with: str) -> None:
        """Raise IncompleteScoreError when samples are missing and neither allowed nor limited on purpose.

        ``allow_with`` names the switch that would accept it (``data.allow_incomplete=true``)."""
        if not self.complete and not self.allowed and self.limit is None:
            raise IncompleteScoreError(
                f"{self.summary}: samples were skipped as unreadable or mislabelled (see the warnings and the "
                f"report's skipped samples), so this is not the split's score; fix the data or pass {allow_with}")
