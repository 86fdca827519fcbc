"""``--dist loadgroup`` that works on pytest 9: tests with one ``xdist_group`` name run on one worker.

WHY: pytest-xdist 3.8 marks a grouped test by appending ``@group`` to ``item._nodeid`` on the worker,
but pytest 9.2 builds ``nodeid`` from a structured id and ignores ``_nodeid``, so every group is
silently split across workers (two local SLURM clusters started at once, module fixtures built
twice). Here each worker writes its ``{nodeid: group}`` map into a folder the controller chose
(:data:`FOLDER_VARIABLE`, inherited by the workers), and the controller's scheduler, which runs once
every worker has collected, reads the maps and schedules each group as one unit, as xdist's own
``LoadGroupScheduling`` does with the suffix.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from xdist.scheduler import LoadScopeScheduling

FOLDER_VARIABLE = "SER_TEST_XDIST_GROUPS"


def share_folder(config: pytest.Config) -> None:
    """On the controller of a ``-n`` run: a fresh folder for the workers' maps, named in the environment."""
    if not os.environ.get("PYTEST_XDIST_WORKER") and config.getoption("numprocesses", None):
        os.environ[FOLDER_VARIABLE] = tempfile.mkdtemp(prefix="xdist-groups-")


def remove_folder() -> None:
    """On the controller, at the end of the run: the workers' maps are no longer needed."""
    if not os.environ.get("PYTEST_XDIST_WORKER") and os.environ.get(FOLDER_VARIABLE):
        shutil.rmtree(os.environ.pop(FOLDER_VARIABLE), ignore_errors=True)


def write_groups(items: list[pytest.Item]) -> None:
    """On a worker: this worker's ``{nodeid: group}`` for every test with an ``xdist_group`` marker."""
    folder, worker = os.environ.get(FOLDER_VARIABLE), os.environ.get("PYTEST_XDIST_WORKER")
    if not (folder and worker):
        return
    groups = {}
    for item in items:
        marker = item.get_closest_marker("xdist_group")
        if marker is not None:
            groups[item.nodeid] = str(marker.args[0] if marker.args else marker.kwargs.get("name", "default"))
    (Path(folder) / f"{worker}.json").write_text(json.dumps(groups))


class MarkedGroupScheduling(LoadScopeScheduling):
    """Load scheduling where the tests of one ``xdist_group`` form one unit, run on one worker."""

    def __init__(self, config: pytest.Config, log=None) -> None:
        super().__init__(config, log)
        self._groups: dict[str, str] | None = None

    def _split_scope(self, nodeid: str) -> str:
        if self._groups is None:  # every worker has collected (and written its map) by the first call
            self._groups = {}
            for path in sorted(Path(os.environ[FOLDER_VARIABLE]).glob("*.json")):
                self._groups.update(json.loads(path.read_text()))
        group = self._groups.get(nodeid)
        return f"group:{group}" if group is not None else nodeid
