"""evaluate.py and the stacked ensemble on checkpoints trained by train.py (tiny WavLM + small CNN)."""
import json

import numpy as np
import pytest

from prediction import evaluate_command as evaluate
from ensemble.__main__ import main as build_ensemble_main
from evaluation.taxonomy import TaxonomyMismatchError
from prediction.predictor import load_predictor
from tests.shard_factory import make_dataset, read_keys
from tests.trained_models import session_base, shared_dataset, trained_checkpoint

pytestmark = pytest.mark.slow  # trains tiny checkpoints through train.py (memoised per session)
REPORT_FILES = ("report.json", "classification_report.txt", "confusion_counts.png", "confusion_normalized.png",
                "per_corpus.csv", "logits.npz")


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    base = session_base(tmp_path_factory)
    return {name: trained_checkpoint(base, name) for name in ("wavlm", "small_cnn")}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return shared_dataset(session_base(tmp_path_factory))


def test_evaluate_checkpoint_writes_the_whole_report(checkpoints, data, tmp_path):
    report = evaluate.main(["--model", str(checkpoints["wavlm"]), "--data_root", str(data), "--split", "test",
                            "--output_dir", str(tmp_path / "report"), "--device", "cpu"])  # clips as the checkpoint says
    for name in REPORT_FILES:
        assert (tmp_path / "report" / name).stat().st_size > 0, name
    saved = json.loads((tmp_path / "report" / "report.json").read_text())
    assert saved["num_samples"] == len(read_keys(data, "test")) == 20
    assert sum(map(sum, saved["confusion_matrix"])) == 20
    assert set(saved["per_corpus"]) == {"synth_a", "synth_b"}
    assert saved["source"]["model_classes"] == ["class0", "class1", "class2", "class3"]
    assert saved["roc_auc_ovr"]["macro"] is not None
    # Same checkpoint, same split: evaluate.py agrees with train.py's own test report (ReportCallback).
    trained = json.loads((checkpoints["wavlm"].parents[1] / "reports" / "test" / "report.json").read_text())
    assert saved["confusion_matrix"] == trained["confusion_matrix"]
    assert report["classification_report"]["accuracy"] == pytest.approx(trained["classification_report"]["accuracy"])


def test_other_taxonomy_fails_unless_mapped(checkpoints, tmp_path):
    other = tmp_path / "other"
    make_dataset(other, num_classes=3, per_class={"test": 2}, seconds=(0.5, 0.8))
    args = ["--model", str(checkpoints["small_cnn"]), "--data_root", str(other), "--output_dir", str(tmp_path / "r")]
    with pytest.raises(TaxonomyMismatchError, match=r"only in the model: \['class3'\]; only in the data: none"):
        evaluate.main(args)
    report = evaluate.main(args + ["--class_mapping", json.dumps({"class3": None})])
    assert report["num_samples"] == 6 and report["source"]["class_mapping"] == {"class3": None}


def test_stacked_ensemble_artefact_loads_like_a_model(checkpoints, data, tmp_path):
    out = tmp_path / "ensemble"
    rows = build_ensemble_main([
        "--members", json.dumps({"wavlm": str(checkpoints["wavlm"]), "cnn": str(checkpoints["small_cnn"])}),
        "--data_root", str(data), "--output_dir", str(out), "--device", "cpu",
        "--meta_learner.folds", "5", "--meta_learner.epochs", "100",
    ])
    assert [row["system"] for row in rows] == ["wavlm", "cnn", "mean", "weighted_mean", "stacked_best"]
    assert (out / "comparison.md").is_file() and (out / "reports" / "stacked_best" / "report.json").is_file()
    manifest = json.loads((out / "ensemble.json").read_text())
    assert [m["path"] for m in manifest["members"]] == ["members/00_wavlm.ckpt", "members/01_cnn.ckpt"]

    # The artefact, moved elsewhere, is one model to evaluate.py: same test numbers as the build's report.
    moved = tmp_path / "moved"
    out.rename(moved)
    predictor = load_predictor(moved, device="cpu")
    assert predictor.class_names == ["class0", "class1", "class2", "class3"]
    report = evaluate.main(["--model", str(moved), "--data_root", str(data), "--output_dir", str(tmp_path / "ev")])
    stacked = next(row for row in rows if row["system"] == "stacked_best")
    assert report["classification_report"]["accuracy"] == pytest.approx(stacked["wa"])
    built = np.load(moved / "logits" / "test.npz")
    assert built["labels"].shape == (20,)
