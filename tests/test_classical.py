"""The classical pipeline: features from shards (cached), grid search on training folds only, reports, skops model."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from classical import train as classical_train
from classical.estimators import SearchSpec, load_model, log_probabilities, save_model
from classical.features import librosa_features, opensmile_extractor, split_features
from tests.shard_factory import make_dataset


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("classical")
    make_dataset(root, num_classes=3, per_class={"train": 10, "val": 3, "test": 4}, shards_per_split=2, seconds=(0.5, 0.8))
    return root


def config(shards: Path, tmp_path: Path, **model: object) -> classical_train.ClassicalConfig:
    spec = SearchSpec(**{"estimator": "svm", "grid": {"C": [1.0, 10.0]}, "folds": 3, "jobs": 1, **model})
    return classical_train.ClassicalConfig(data_root=str(shards), cache=str(tmp_path / "cache"), workers=1,
                                           model=spec, run_root=str(tmp_path), run_name="run")


def test_grid_search_sees_only_training_features(shards, tmp_path, monkeypatch):
    seen = {}
    real = classical_train.grid_search

    def spy(spec, features, labels):
        seen["features"], seen["labels"] = features, labels
        search = real(spec, features, labels)
        seen["folds"] = [test for _, test in search.cv.split(features, labels)]
        return search

    monkeypatch.setattr(classical_train, "grid_search", spy)
    reports = classical_train.run(config(shards, tmp_path), progress=False)
    train = split_features(str(shards), "train", "librosa", tmp_path / "cache", workers=1, progress=False)
    held_out = [split_features(str(shards), s, "librosa", tmp_path / "cache", workers=1, progress=False) for s in ("val", "test")]
    np.testing.assert_array_equal(seen["features"], train.features)  # the search saw the training split and nothing else
    assert len(seen["labels"]) == 30 and sorted(np.concatenate(seen["folds"]).tolist()) == list(range(30))
    for split in held_out:
        assert not any((np.abs(seen["features"] - row).sum(axis=1) == 0).any() for row in split.features)
    assert set(reports) == {"val", "test"}
    folder = tmp_path / "run" / "reports" / "test"
    assert {"report.json", "confusion_counts.png", "confusion_normalized.png", "per_corpus.csv"} <= {p.name for p in folder.iterdir()}
    assert json.loads((folder / "report.json").read_text())["num_samples"] == 12
    assert reports["test"]["classification_report"]["macro avg"]["f1-score"] > 0.6  # tones in separate bands


def test_features_are_cached_and_model_round_trips_without_pickle(shards, tmp_path):
    classical_train.run(config(shards, tmp_path, estimator="knn", grid={"n_neighbors": [1, 3]}), progress=False)
    assert len(list((tmp_path / "cache").glob("train-librosa-*.npz"))) == 1
    record = json.loads((tmp_path / "run" / "model.json").read_text())
    assert record["class_names"] == ["class0", "class1", "class2"] and record["best_params"]
    model = load_model(tmp_path / "run" / "model.skops")
    test = split_features(str(shards), "test", "librosa", tmp_path / "cache", workers=1, progress=False)
    assert log_probabilities(model, test.features, 3).shape == (12, 3)


def test_a_model_file_holding_a_function_is_refused(tmp_path):
    crafted = Pipeline([("f", FunctionTransformer(np.load))])  # a numpy function that reads files
    path = save_model(crafted, tmp_path / "crafted.skops")
    with pytest.raises(ValueError, match="refusing to load"):
        load_model(path)


def test_feature_sets_have_their_sizes():
    wave = np.random.default_rng(0).normal(0, 0.1, 16_000).astype(np.float32)
    assert librosa_features(wave, 16_000).shape == (410,)
    assert opensmile_extractor("egemaps")(wave, 16_000).shape == (88,)


def test_evaluate_and_predict_read_the_run(shards, tmp_path, capsys):
    import soundfile as sf

    from classical import evaluate as classical_evaluate
    from classical import predict as classical_predict
    from tests.shard_factory import synth_clip

    classical_train.run(config(shards, tmp_path), progress=False)
    report = classical_evaluate.evaluate(tmp_path / "run", str(shards), "test", workers=1)
    assert report["num_samples"] == 12 and (tmp_path / "run" / "reports" / "test-eval" / "report.json").is_file()
    clip = tmp_path / "clip.wav"
    sf.write(clip, synth_clip(2, 3, 0.7, np.random.default_rng(5)), 16_000)
    assert classical_predict.main([str(tmp_path / "run"), str(clip)]) == 0
    top = json.loads(capsys.readouterr().out)["top"]
    assert len(top) == 3 and top[0][0] == "class2"
    assert classical_evaluate.main([str(tmp_path / "missing"), "--data_root", str(shards)]) == 2


@pytest.mark.parametrize("row", sorted(Path("configs/seeds").glob("*/classical/[!_]*.yaml")), ids=lambda p: p.stem)
def test_classical_seed_rows_parse_and_build(row):
    from classical.estimators import build_pipeline, param_grid

    parsed = classical_train.parse_args(["--config", str(row)])
    assert row.read_text().startswith("# Seed ") and "reported" in row.read_text().split("\n\n")[0]
    components = parsed.model.pca_components
    assert components is None or isinstance(components, int) or 0 < components < 1, components  # PCA refuses 129.0
    pipeline = build_pipeline(parsed.model)
    pipeline.set_params(**{name: values[0] for name, values in param_grid(parsed.model).items()})


def test_a_missing_data_root_is_one_line_and_exit_status_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        classical_train.main(["--data_root", str(tmp_path / "nowhere"), "--run_root", str(tmp_path)])
    assert stop.value.code == 2 and "nowhere" in capsys.readouterr().err


def test_evaluate_py_and_predict_py_load_a_classical_run_like_a_checkpoint(shards, tmp_path):
    """The run folder is a Predictor: evaluate.py scores the split as classical.evaluate does, predict.py segments."""
    import soundfile as sf

    from prediction import evaluate_command as evaluate
    from prediction import command as predict
    from classical import evaluate as classical_evaluate
    from prediction.predictor import load_predictor
    from tests.shard_factory import synth_clip

    classical_train.run(config(shards, tmp_path), progress=False)
    run_dir = tmp_path / "run"
    assert type(load_predictor(run_dir)).__name__ == "ClassicalPredictor"
    own = classical_evaluate.evaluate(run_dir, str(shards), "test", workers=1)
    report = evaluate.main(["--model", str(run_dir), "--data_root", str(shards), "--output_dir", str(tmp_path / "ev")])
    assert report["num_samples"] == own["num_samples"] == 12
    assert report["confusion_matrix"] == own["confusion_matrix"]
    clip = tmp_path / "clip.wav"
    sf.write(clip, np.concatenate([synth_clip(2, 3, 0.7, np.random.default_rng(5))] * 2), 16_000)
    assert predict.main(["--model", str(run_dir), "--inputs", str(clip), "--output_dir", str(tmp_path / "p"),
                         "--segment.length", "0.7", "--segment.hop", "0.7"]) == 0
    segments = json.loads((tmp_path / "p" / "predictions.json").read_text())["recordings"][0]["segments"]
    assert [s["top"][0]["label"] for s in segments] == ["class2", "class2"]


@pytest.mark.parametrize("codec", ["wav", "raw"])
def test_features_follow_the_shard_codec(shards, tmp_path, codec):
    """Every codec holds the same int16 samples, so the features are those of the FLAC shards."""
    other = tmp_path / codec
    make_dataset(other, num_classes=3, per_class={"train": 10, "val": 3, "test": 4}, shards_per_split=2,
                 seconds=(0.5, 0.8), codec=codec)
    flac = split_features(str(shards), "test", "librosa", tmp_path / "c1", workers=1, progress=False)
    mine = split_features(str(other), "test", "librosa", tmp_path / "c2", workers=1, progress=False)
    assert mine.keys == flac.keys and np.allclose(mine.features, flac.features, atol=1e-5)
