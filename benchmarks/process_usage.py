"""CPU time and page faults of one pass, split between this process and its loader workers.

A shared machine's wall clock says little; CPU seconds per clip say more, and page faults per clip
(which do not depend on the load at all) say where shared memory is being mapped afresh. Both come
from the kernel: ``getrusage`` for this process and for reaped children (workers that exit at the
end of a pass), ``/proc/<pid>/stat`` for workers that live on (``persistent_workers``).
"""
from __future__ import annotations

import os
import resource
import statistics
import time
from dataclasses import dataclass
from typing import Callable

_TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Usage:
    """CPU seconds and minor/major page faults (of one process, or summed over several)."""

    cpu: float = 0.0
    minor: int = 0
    major: int = 0

    def __sub__(self, other: "Usage") -> "Usage":
        return Usage(self.cpu - other.cpu, self.minor - other.minor, self.major - other.major)

    def __add__(self, other: "Usage") -> "Usage":
        return Usage(self.cpu + other.cpu, self.minor + other.minor, self.major + other.major)


def _rusage(who: int) -> Usage:
    r = resource.getrusage(who)
    return Usage(r.ru_utime + r.ru_stime, r.ru_minflt, r.ru_majflt)


def _proc(pid: int) -> Usage:
    """Usage of a live process from /proc/<pid>/stat (fields 10, 12, 14, 15), its CPU time from its threads'
    schedstat (nanoseconds) where the kernel has it.

    stat counts CPU in clock ticks (10 ms): over a pass of a persistent worker (about 0.1 s) that is
    about 7 us per clip either way, the size of the differences the worker verdict is about."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return Usage()
    ticks = (int(fields[11]) + int(fields[12])) / _TICK
    return Usage(_run_time(pid, ticks), int(fields[7]), int(fields[9]))


def _run_time(pid: int, ticks: float) -> float:
    """Seconds on a CPU of all threads of ``pid`` (schedstat's first field); ``ticks`` where it is missing."""
    total = 0
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            total += int(open(f"/proc/{pid}/task/{task}/schedstat").read().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return ticks
    return total / 1e9 if total else ticks


def children() -> list[int]:
    """Pids of this process's live children (its loader workers, and any helper it started)."""
    tasks = f"/proc/{os.getpid()}/task"
    pids = []
    for task in os.listdir(tasks):
        try:  # a thread (a loader's pin-memory or a queue feeder) can end between the listing and the read
            pids += [int(pid) for pid in open(f"{tasks}/{task}/children").read().split()]
        except FileNotFoundError:
            continue
    return pids


@dataclass(frozen=True)
class Pass:
    """One timed pass: clips, wall seconds, usage of this process and of its workers."""

    clips: int
    wall: float
    main: Usage
    workers: Usage

    def per_clip(self, usage: Usage) -> tuple[float, float, float]:
        """(CPU microseconds, minor faults, major faults) per clip."""
        return 1e6 * usage.cpu / self.clips, usage.minor / self.clips, usage.major / self.clips

    @property
    def per_cpu(self) -> float:
        """Clips per CPU-second of this process and its workers together."""
        return self.clips / max(self.main.cpu + self.workers.cpu, 1e-9)


def measure(run: Callable[[], int]) -> Pass:
    """``run()`` timed: workers that exit during it are counted by getrusage, live ones through /proc.

    A worker that lives on (persistent) must already exist when the pass starts (after a warm-up pass)."""
    before = {pid: _proc(pid) for pid in children()}
    wall, main, reaped = time.perf_counter(), _rusage(resource.RUSAGE_SELF), _rusage(resource.RUSAGE_CHILDREN)
    clips = run()
    wall, main = time.perf_counter() - wall, _rusage(resource.RUSAGE_SELF) - main
    after = {pid: _proc(pid) for pid in children()}
    workers = _rusage(resource.RUSAGE_CHILDREN) - reaped
    for pid in before.keys() & after.keys():
        workers = workers + (after[pid] - before[pid])
    return Pass(clips, wall, main, workers)


def median_pass(passes: list[Pass]) -> Pass:
    """Field by field median of repeated passes (interleaved with the other configurations' repeats)."""
    def usage(get: Callable[[Pass], Usage]) -> Usage:
        items = [get(p) for p in passes]
        return Usage(statistics.median(u.cpu for u in items), int(statistics.median(u.minor for u in items)),
                     int(statistics.median(u.major for u in items)))

    return Pass(int(statistics.median(p.clips for p in passes)), statistics.median(p.wall for p in passes),
                usage(lambda p: p.main), usage(lambda p: p.workers))
