"""What a fold cost and where it ran: wall time, the child process's CPU time, the load average and
the machine (CPU model, cores), recorded beside its scores in ``protocol_fold.json``.

On a shared machine wall time alone misleads (other jobs inflate it), so CPU time and the load
average before and after travel with it: a reader can tell a slow fold from a busy machine.
"""
from __future__ import annotations

import os
import platform
import resource
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The CPU's model name (Linux /proc/cpuinfo), else what ``platform`` says."""
    try:
        for line in cpuinfo.read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask where the OS has one, else all)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def machine() -> dict[str, Any]:
    """The machine a fold ran on: host, CPU model, usable and total cores, torch threads."""
    import torch

    return {"host": platform.node(), "cpu_model": cpu_model(), "cores": usable_cores(),
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@contextmanager
def measured() -> Iterator[dict[str, Any]]:
    """Yields a dict that, after the block, holds wall_s, cpu_s (user+sys of the child processes
    the block waited for: train.py) and the 1-minute load average before and after."""
    record: dict[str, Any] = {"load_before": os.getloadavg()[0]}
    wall, cpu = time.monotonic(), _children_cpu()
    try:
        yield record
    finally:
        record.update(wall_s=round(time.monotonic() - wall, 2), cpu_s=round(_children_cpu() - cpu, 2),
                      load_after=os.getloadavg()[0])
