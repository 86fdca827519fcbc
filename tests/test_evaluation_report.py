"""Report numbers against hand-computed values, and the files a report folder holds."""
import json

import numpy as np
import pytest

from evaluation.report import build_report, plot_confusion_matrix, roc_auc_one_vs_rest, summary_row, write_report

NAMES = ["anger", "happy", "sad"]


def test_report_numbers_match_hand_computed_values(tmp_path):
    y_true = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    y_pred = np.array([0, 0, 1, 1, 1, 2, 0, 2])
    logits = np.eye(3)[y_pred] * 4.0
    corpora = ["a", "a", "b", "b", "a", "a", "b", "b"]
    report = build_report(y_true, logits, NAMES, corpora=corpora)
    classification = report["classification_report"]
    assert classification["accuracy"] == pytest.approx(6 / 8)
    assert classification["anger"]["precision"] == pytest.approx(2 / 3)
    assert classification["anger"]["recall"] == pytest.approx(2 / 3)
    assert classification["happy"]["precision"] == pytest.approx(2 / 3)
    assert report["confusion_matrix"] == [[2, 1, 0], [0, 2, 0], [1, 0, 2]]
    assert report["confusion_matrix_normalized"][2] == pytest.approx([1 / 3, 0, 2 / 3])
    assert report["per_corpus"]["a"] == {"num_samples": 4, "ua": 1.0, "wa": 1.0, "macro_f1": 1.0}
    assert report["per_corpus"]["b"]["wa"] == pytest.approx(2 / 4)
    assert {(c["true"], c["predicted"]) for c in report["top_confusions"]} == {("anger", "happy"), ("sad", "anger")}
    assert summary_row(report)["ua"] == pytest.approx(np.mean([2 / 3, 1.0, 2 / 3]))

    paths = write_report(report, tmp_path / "report")
    assert json.loads(paths["json"].read_text())["confusion_matrix"] == report["confusion_matrix"]
    for key in ("confusion_counts", "confusion_normalized"):
        assert paths[key].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert paths["per_corpus"].read_text().splitlines()[0] == "corpus,num_samples,ua,wa,macro_f1"
    assert "weighted avg" in paths["text"].read_text()


def test_roc_auc_perfect_ranking_and_undefined_class():
    y_true = np.array([0, 0, 1, 1])
    probabilities = np.array([[0.9, 0.1, 0.0], [0.8, 0.2, 0.0], [0.3, 0.7, 0.0], [0.1, 0.9, 0.0]])
    auc = roc_auc_one_vs_rest(y_true, probabilities, NAMES)
    assert auc["per_class"]["anger"] == 1.0 and auc["per_class"]["happy"] == 1.0
    assert auc["per_class"]["sad"] is None and auc["undefined"] == ["sad"]
    assert auc["macro"] == 1.0


def test_shape_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match="do not match 2 labels and 3 classes"):
        build_report([0, 1], np.zeros((2, 4)), NAMES)


def test_plot_confusion_matrix_counts_and_normalized(tmp_path):
    cm = np.array([[3, 1], [0, 0]])
    for normalize in (False, True):
        path = plot_confusion_matrix(cm, ["x", "y"], tmp_path / f"cm_{normalize}.png", normalize=normalize)
        assert path.stat().st_size > 1000
