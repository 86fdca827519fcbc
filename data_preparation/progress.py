"""Progress of a long stage with its rate and ETA: a live bar on a terminal, timed lines in a log.

tqdm's bar redraws one line with carriage returns; in a SLURM log or a ``2> prep.log`` that is one
unreadable megabyte-long line. Where the stream is not a terminal the same figures (tqdm's own
``format_meter``) are written as one plain line every ``every`` seconds, and once at the end.
Work a resumed run had already done counts as done but not into the rate, so the ETA is honest.
"""
from __future__ import annotations

import sys
import time
from typing import Callable, TextIO

from tqdm import tqdm

LOG_EVERY = 10.0  # seconds between progress lines when the stream is not a terminal


class Progress:
    """``update()`` per finished item; ``close()`` at the end (or use it as a context manager)."""

    def __init__(self, total: int, desc: str, enabled: bool = True, initial: int = 0, unit: str = "file",
                 stream: TextIO | None = None, every: float = LOG_EVERY,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream or sys.stderr
        self.total, self.desc, self.unit, self.every, self.clock = total, desc, unit, every, clock
        self.enabled, self.done, self.initial = enabled, initial, initial
        self.bar = None
        if enabled and _is_terminal(self.stream):
            self.bar = tqdm(total=total, initial=initial, desc=desc, unit=unit, file=self.stream)
        self.start = self.last = clock()

    def update(self, count: int = 1) -> None:
        self.done += count
        if self.bar is not None:
            self.bar.update(count)
        elif self.enabled and self.clock() - self.last >= self.every:
            self._line()

    def line(self) -> str:
        """``decode: 5000/100000 files (5.0%), 312.4 files/s, elapsed 00:16, ETA 05:04``."""
        elapsed = self.clock() - self.start
        new = self.done - self.initial
        rate = new / elapsed if elapsed > 0 else 0.0
        left = self.total - self.done
        eta = tqdm.format_interval(left / rate) if rate > 0 else "?"
        share = 100.0 * self.done / self.total if self.total else 100.0
        resumed = f" ({self.initial} done before)" if self.initial else ""
        return (f"{self.desc}: {self.done}/{self.total} {self.unit}s ({share:.1f}%){resumed}, {rate:.1f} {self.unit}s/s, "
                f"elapsed {tqdm.format_interval(elapsed)}, ETA {eta}")

    def _line(self) -> None:
        print(self.line(), file=self.stream, flush=True)
        self.last = self.clock()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.enabled and self.total:
            self._line()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
