"""The README's main job end to end: the embedded demo corpus, prepared by its own data config,
trained by configs/demo.yaml unchanged, learns emotions of speakers it never heard."""
from __future__ import annotations

import json

import pytest

from tests.conftest import PreparedDemo
from tests.demo_console import DemoRun
from tests.wandb_records import read_wandb_records

CHANCE = 0.25  # four balanced classes


@pytest.mark.slow
def test_demo_run_beats_chance_on_held_out_speakers(prepared_demo: PreparedDemo, demo_run: DemoRun) -> None:
    """The corpus is prepared once per run (tests/conftest.py), as test_demo_corpus.py checks it; the
    run is train.py as a user types it (tests/demo_console.py), W&B on ``auto`` without a key."""
    assert demo_run.returncode == 0, demo_run.stderr[-3000:]
    info = prepared_demo.info
    assert set(info.splits["test"].per_class) == set(info.classes)  # every class among the held-out speakers

    report = json.loads((demo_run.run_dir / "reports" / "test" / "report.json").read_text())
    macro_f1 = report["classification_report"]["macro avg"]["f1-score"]
    assert macro_f1 > CHANCE + 0.25, report["classification_report"]
    assert report["num_samples"] == info.splits["test"].num_samples  # every held-out clip, once
    (folder,) = (demo_run.run_dir / "wandb").glob("offline-run-*")
    records = read_wandb_records(folder)
    assert {"model", "data", "trainer"} <= set(records["config"])
    assert {"val/macro_f1", "test/macro_f1", "test/wa", "test/ua"} <= set(records["history"])
    assert abs(records["summary"]["test/macro_f1"] - macro_f1) < 1e-4  # the dashboard shows the report's score
    assert list((folder / "files" / "media" / "images" / "test").glob("confusion_matrix*.png"))
