"""Preparation progress in a log (not a terminal): one plain line every N seconds with rate and ETA."""
from __future__ import annotations

import io

from data_preparation.progress import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_log_gets_timed_lines_with_rate_and_eta_not_carriage_returns() -> None:
    stream, clock = io.StringIO(), Clock()
    with Progress(1000, "decode", stream=stream, every=10.0, clock=clock) as progress:
        for _ in range(1000):
            clock.now += 0.125  # 8 files/s (a binary fraction: the clock adds up exactly)
            progress.update()
    text = stream.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert len(lines) == 12 + 1  # every 10 s of a 125 s stage, and the last
    assert lines[0] == "decode: 80/1000 files (8.0%), 8.0 files/s, elapsed 00:10, ETA 01:55"
    assert lines[-1].startswith("decode: 1000/1000 files (100.0%)") and lines[-1].endswith("ETA 00:00")


def test_a_resumed_stage_counts_earlier_work_as_done_but_not_into_the_rate() -> None:
    stream, clock = io.StringIO(), Clock()
    progress = Progress(1000, "decode", initial=600, stream=stream, every=10.0, clock=clock)
    for _ in range(100):
        clock.now += 0.125  # 8 files/s from here on
        progress.update()
    assert stream.getvalue().splitlines()[0] == (
        "decode: 680/1000 files (68.0%) (600 done before), 8.0 files/s, elapsed 00:10, ETA 00:40")


def test_disabled_progress_writes_nothing() -> None:
    stream, clock = io.StringIO(), Clock()
    with Progress(10, "decode", enabled=False, stream=stream, every=0.0, clock=clock) as progress:
        progress.update(10)
    assert stream.getvalue() == ""
