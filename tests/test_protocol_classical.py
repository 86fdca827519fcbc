"""The classical baseline on a protocol's folds (``cross_validate.py ... --classical CONFIG``), with real
openSMILE and scikit-learn, on SAVEE and EmoBox's SAVEE partition laid out as downloaded.

The fixture holds one 0.3 s clip per speaker and emotion, so each fold fits on 21 clips (3 per class):
the test's config is the shipped one with 2 CV folds instead of 5; the shipped configs are checked
to parse and build their pipelines.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from protocols import command as cross_validate
from tests.corpus_fixtures import downloads as D
from tests.test_real_corpora import _from_repo_root, _no_plots  # noqa: F401 (autouse: repo root, no plots)

REPO = Path(__file__).resolve().parents[1]
CLASSICAL = sorted((REPO / "configs" / "classical").glob("*.yaml"))


@pytest.fixture(scope="module")
def savee(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("classical_protocol")
    corpus = D.write_savee(root / "SAVEE")
    return corpus, D.write_emobox_savee(root / "EmoBox" / "data" / "savee", corpus)


def shrunk_config(tmp_path: Path) -> Path:
    """configs/classical/egemaps_svm.yaml with 2 CV folds (the fixture's folds have 3 training clips per class)."""
    config = yaml.safe_load((REPO / "configs" / "classical" / "egemaps_svm.yaml").read_text())
    config["model"].update(folds=2, grid={"C": [1, 10], "gamma": ["scale"]})
    config["workers"] = 1
    path = tmp_path / "egemaps_svm.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def argv(savee: tuple[Path, Path], tmp_path: Path) -> list[str]:
    corpus, partition = savee
    return ["--config", "configs/protocols/savee_emobox.yaml", "--corpus_root", f"savee={corpus}",
            "--partition_dir", str(partition), "--prepared_dir", str(tmp_path / "prepared"),
            "--output", str(tmp_path / "runs")]


@pytest.mark.slow
def test_classical_baseline_runs_every_fold_and_writes_the_protocol_results(savee, tmp_path: Path, capsys) -> None:
    config = shrunk_config(tmp_path)
    assert cross_validate.main([*argv(savee, tmp_path), "--classical", str(config)]) == 0
    folder = tmp_path / "runs" / "savee-emobox-egemaps_svm"
    results = json.loads((folder / "results.json").read_text())
    assert results["protocol"] == "savee-emobox" and results["protocol_folds"] == 4
    assert results["recipe"] == str(config) and results["recipe_kind"] == "classical"
    assert results["source"].startswith("EmoBox (Ma et al., Interspeech 2024)")
    assert [f["fold"] for f in results["folds"]] == ["fold_1", "fold_2", "fold_3", "fold_4"]
    for fold in results["folds"]:  # EmoBox's fold tests one speaker (7 clips) and fits on the other three
        assert fold["num_samples"] == 7 and fold["train_clips"] == 21 and fold["held_out"] == "1 speaker(s)", fold
        assert 0.0 <= fold["ua"] <= 1.0 and fold["wall_s"] > 0 and fold["cpu_s"] > 0 and len(fold["loadavg_start"]) == 3
        assert fold["machine"]["cores"] >= 1 and fold["machine"]["cpu_model"], fold  # the page's machine column
        assert (Path(fold["run_dir"]) / "reports" / "test" / "report.json").is_file()
    assert results["summary"]["pooled"]["ua"]["n"] == 4
    assert results["features"]["clips"] == 28 and results["feature_set"] == "egemaps"
    table = (folder / "results.md").read_text()
    assert "Source: EmoBox" in table and "UA = unweighted average recall" in table and "| fold_4 |" in table
    assert not (tmp_path / "runs" / "savee-emobox").exists()  # the neural row's folder is not touched
    capsys.readouterr()
    assert cross_validate.main([*argv(savee, tmp_path), "--classical", str(config)]) == 0  # rerun: nothing refitted
    out = capsys.readouterr().out
    assert out.count("already finished") == 4 and "features of" not in out


def test_a_missing_classical_config_is_one_line_and_status_2(savee, tmp_path: Path, capsys) -> None:
    assert cross_validate.main([*argv(savee, tmp_path), "--classical", "configs/classical/nope.yaml"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--classical configs/classical/nope.yaml: no such file" in err[0]
    assert not (tmp_path / "prepared").exists()  # refused before preparing anything


@pytest.mark.parametrize("path", CLASSICAL, ids=lambda p: p.stem)
def test_shipped_classical_configs_parse_and_build(path: Path) -> None:
    from classical.estimators import build_pipeline, param_grid
    from classical.train import parse_args

    config = parse_args(["--config", str(path), "--data_root=x"])
    build_pipeline(config.model)
    assert param_grid(config.model) and config.model.scoring == "balanced_accuracy"
    assert config.speaker_norm == path.stem.endswith("speaker_norm")


def test_speaker_normalisation_uses_each_speakers_clips_across_groups() -> None:
    """A speaker whose clips lie in two shard groups (EmoBox's speaker-mixed folds) is z-scored over all of
    them, each speaker by their own statistics: a speaker offset (KL's lower pitch) is gone."""
    import numpy as np

    from classical.features import SplitFeatures
    from protocols.classical_folds import _normalised_per_speaker

    def group(values: list[float], keys: list[str]) -> SplitFeatures:
        return SplitFeatures(np.asarray(values, np.float32)[:, None], np.zeros(len(values), np.int64), keys, ["c"] * len(keys))

    features = {"g000": group([1.0, 100.0], ["a1", "b1"]), "g001": group([3.0, 104.0], ["a2", "b2"])}
    out = _normalised_per_speaker(features, {"a1": "c/a", "a2": "c/a", "b1": "c/b", "b2": "c/b"})
    assert out["g000"].features.ravel().tolist() == [-1.0, -1.0] and out["g001"].features.ravel().tolist() == [1.0, 1.0]
    assert out["g000"].keys == ["a1", "b1"]


def test_a_speaker_normalised_model_refuses_single_clips(tmp_path: Path) -> None:
    """Its features need the speaker's statistics over many clips: predicting one clip would be wrong."""
    from sklearn.dummy import DummyClassifier

    from classical.estimators import save_model
    from classical.predictor import ClassicalPredictor

    save_model(DummyClassifier().fit([[0.0], [1.0]], [0, 1]), tmp_path / "model.skops")
    (tmp_path / "model.json").write_text(json.dumps({"class_names": ["a", "b"], "sample_rate": 16000,
                                                     "feature_set": "egemaps", "speaker_norm": True}))
    with pytest.raises(ValueError, match="speaker-normalised"):
        ClassicalPredictor(tmp_path)
