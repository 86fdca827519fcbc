"""The README's main job end to end: the embedded demo corpus, prepared by its own data config,
trained by configs/demo.yaml unchanged, learns emotions of speakers it never heard."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from training import command as train
from tests.conftest import PreparedDemo
from tests.wandb_records import read_wandb_records

CHANCE = 0.25  # four balanced classes


@pytest.mark.slow
def test_demo_run_beats_chance_on_held_out_speakers(prepared_demo: PreparedDemo, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The corpus is prepared once per run (tests/conftest.py), as test_demo_corpus.py checks it."""
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    info = prepared_demo.info
    assert set(info.splits["test"].per_class) == set(info.classes)  # every class among the held-out speakers

    scores = train.main(["--config", "configs/demo.yaml", f"--data.data_root={prepared_demo.prepared}",
                         f"--run.root={tmp_path / 'runs'}", "--wandb.mode=auto"])

    assert scores["test/macro_f1"] > CHANCE + 0.25, scores
    run_dir = tmp_path / "runs" / "demo"
    report = json.loads((run_dir / "reports" / "test" / "report.json").read_text())
    assert report["num_samples"] == info.splits["test"].num_samples  # every held-out clip, once
    (folder,) = (run_dir / "wandb").glob("offline-run-*")
    records = read_wandb_records(folder)
    assert {"model", "data", "trainer"} <= set(records["config"])
    assert {"val/macro_f1", "test/macro_f1", "test/wa", "test/ua"} <= set(records["history"])
    assert list((folder / "files" / "media" / "images" / "test").glob("confusion_matrix*.png"))
