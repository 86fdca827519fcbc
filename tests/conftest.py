"""Suite-wide pytest setup: parallel workers (pytest-xdist) and expensive fixtures built once.

WHY: the suite has to fit in 10 minutes on 2 cores, so ``scripts/test.sh`` runs it on xdist workers
(``-n auto --dist loadgroup``) and the things many tests need (a prepared dataset, a trained tiny
checkpoint, the prepared demo corpus) are built once per session, not once per module or worker.

Building something once across workers: ``built_once`` (tests/session_cache.py).
    ``folder, value = built_once(session_root(tmp_path_factory), "my-thing", build)`` calls
    ``build(folder)`` the first time any worker asks (the others wait on a file lock, then reuse the
    folder) and returns the folder and what ``build`` returned (JSON-serialisable: a path as str).
    ``session_root`` is this run's temporary folder, shared by all workers (pytest keeps the
    last three runs' folders); the folder is read-only by contract: a test that changes it copies
    it into ``tmp_path`` first.
    A build that raises leaves no marker, so the next worker that asks builds afresh. Wrap it in a
    ``scope="session"`` fixture (as :func:`prepared_demo` does) or in a memoised helper (as
    tests/trained_models.py does: ``trained_checkpoint(session_base(tmp_path_factory), "small_cnn")``
    is one tiny checkpoint trained by train.py per run, whichever module or worker asks first).

Session fixtures here:
    :func:`prepared_demo`: the embedded demo corpus generated and prepared by
    configs/prepare/demo.yaml unchanged (the README's first step), shared by the demo tests.

Parallel safety (``pytest_collection_modifyitems``): tests marked ``slurm`` or using the
``slurm_cluster`` fixture share one xdist group, so a single worker runs them all against one local
cluster (every such test submits jobs that use the node's CPUs); ``browser`` tests share another.
A new test of either kind is grouped by its marker, nothing else to do (tests/xdist_groups.py makes
``--dist loadgroup`` honour the markers: xdist 3.8's own grouping is a no-op on pytest 9). A module whose module-scoped
fixture costs seconds (and holds live objects, so ``built_once`` cannot share it) keeps its tests on
one worker with ``pytestmark = pytest.mark.xdist_group("<module name>")``, built once instead of once
per worker (e.g. tests/test_autoencoder_pretraining.py, test_cli_help.py). Each worker gets an equal
share of the cores for torch's intra-op threads (``OMP_NUM_THREADS`` too, for the subprocesses it
starts), so two workers on two cores do not oversubscribe them.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.demo_console import DemoRun, run_demo
from tests.session_cache import built_once, session_root

REPO = Path(__file__).resolve().parents[1]
GROUP_MARKERS = ("slurm", "browser")  # tests of these kinds run on one worker, one kind per group
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def _xdist_installed(config: pytest.Config) -> bool:
    return config.pluginmanager.hasplugin("xdist")


def _worker_count() -> int:
    return int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))


def pytest_configure(config: pytest.Config) -> None:
    """On an xdist worker: torch (and the processes it starts) use this worker's share of the cores."""
    if _xdist_installed(config):
        from tests import xdist_groups

        xdist_groups.share_folder(config)
    workers = _worker_count()
    if workers <= 1:
        return
    share = str(max(1, (os.cpu_count() or 1) // workers))
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, share)
    import torch

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


def pytest_unconfigure(config: pytest.Config) -> None:
    if _xdist_installed(config):
        from tests import xdist_groups

        xdist_groups.remove_folder()


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the xdist_group markers
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """xdist groups (``--dist loadgroup``): the tests of one external resource run on one worker."""
    for item in items:
        group = next((marker for marker in GROUP_MARKERS if item.get_closest_marker(marker)), None)
        if group is None and "slurm_cluster" in item.fixturenames:
            group = "slurm"
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))
    if _xdist_installed(config):
        from tests import xdist_groups

        xdist_groups.write_groups(items)


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """``--dist loadgroup``: xdist's own grouping is a no-op on pytest 9 (tests/xdist_groups.py)."""
    if config.getoption("dist") != "loadgroup":
        return None
    from tests.xdist_groups import MarkedGroupScheduling

    return MarkedGroupScheduling(config, log)


@dataclass(frozen=True)
class PreparedDemo:
    """The demo corpus prepared by configs/prepare/demo.yaml: its prepared folder and stats."""

    prepared: Path

    @property
    def info(self):
        from data_preparation.shards.shard_format import STATS_FILE, DatasetInfo

        return DatasetInfo.from_dict(json.loads((self.prepared / STATS_FILE).read_text()))


def _prepare_demo(folder: Path) -> None:
    import yaml

    from data_preparation import demo_corpus
    from data_preparation.config import parse_config
    from data_preparation.pipeline import prepare

    corpus, out = folder / "demo_corpus", folder / "prepared"
    demo_corpus.generate(corpus, workers=2, progress=False)
    config = yaml.safe_load((REPO / "configs/prepare/demo.yaml").read_text())
    config["corpora"][0]["root"], config["output"], config["progress"] = str(corpus), str(out), False
    (folder / "demo.yaml").write_text(yaml.safe_dump(config))
    prepare(parse_config(["--config", str(folder / "demo.yaml")]))
    shutil.rmtree(corpus)  # ~70 MB of WAVs: the shards hold every clip the tests read


@pytest.fixture(scope="session")
def prepared_demo(tmp_path_factory: pytest.TempPathFactory) -> PreparedDemo:
    """The demo corpus (12 speakers x 4 classes x 18 clips) prepared once per run; read-only."""
    folder, _ = built_once(session_root(tmp_path_factory), "prepared-demo", _prepare_demo)
    return PreparedDemo(folder / "prepared")


@pytest.fixture(scope="session")
def demo_run(prepared_demo: PreparedDemo, tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """configs/demo.yaml trained once per run as a train.py subprocess (tests/demo_console.py); read-only."""
    folder, result = built_once(session_root(tmp_path_factory), "demo-run",
                                lambda folder: run_demo(folder, prepared_demo.prepared))
    return DemoRun(folder / "runs" / "demo", **result)
