"""Stacked meta-learner and logit averaging on synthetic logits of complementary base models."""
import json

import numpy as np
import pytest
import torch

from ensemble.build import comparison_rows, fit_ensemble, write_comparison
from ensemble.meta_learner import MetaLearnerConfig, fit_meta_learner
from prediction.combiners import FoldAverage, MetaLearner
from prediction.ensemble_artefact import EnsemblePredictor
from prediction.predictor import ModelPredictor
from prediction.split_logits import SplitLogits

C = 4


def complementary_logits(n: int, seed: int) -> SplitLogits:
    """Model 'a' sees classes 0-1 clearly and guesses on 2-3; model 'b' the reverse."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, C, n)
    a = rng.normal(0, 1, (n, C)).astype(np.float32)
    b = rng.normal(0, 1, (n, C)).astype(np.float32)
    a[np.arange(n), labels] += np.where(labels < 2, 4.0, 0.0)
    b[np.arange(n), labels] += np.where(labels >= 2, 4.0, 0.0)
    # Each model also lumps what it does not know into one class, so neither is usable alone there.
    a[labels >= 2, 2] += 3.0
    b[labels < 2, 0] += 3.0
    return SplitLogits([f"c{i}" for i in range(C)], [f"k{i}" for i in range(n)], labels, ["x"] * n,
                       {"a": a, "b": b})


def macro_f1(labels, logits):
    from sklearn.metrics import f1_score

    return f1_score(labels, logits.argmax(1), average="macro")


@pytest.mark.parametrize("select", ["best", "average"])
def test_stacked_meta_learner_beats_each_base_model_on_test(select, tmp_path):
    val, test = complementary_logits(400, 0), complementary_logits(400, 1)
    config = MetaLearnerConfig(folds=5, select=select, epochs=150)
    fit = fit_ensemble(val, test, config)
    name = f"stacked_{select}"
    assert set(fit.test_logits) == {"a", "b", "mean", "weighted_mean", name}
    stacked = macro_f1(test.labels, fit.test_logits[name])
    base = max(macro_f1(test.labels, test.logits[n]) for n in "ab")
    assert base < 0.75 and stacked > base + 0.15 and stacked > 0.85
    assert len(fit.meta_summary["fold_macro_f1"]) == 5
    assert isinstance(fit.meta_learner, FoldAverage if select == "average" else MetaLearner)
    assert sum(fit.weights) == pytest.approx(1.0)
    if select == "average":
        return  # the report files are the same code path for both selections
    rows = comparison_rows(test, fit, tmp_path)
    write_comparison(rows, tmp_path)
    table = json.loads((tmp_path / "comparison.json").read_text())
    assert [row["system"] for row in table] == ["a", "b", "mean", "weighted_mean", name]
    assert table[-1]["macro_f1"] == pytest.approx(stacked)
    assert (tmp_path / "reports" / name / "confusion_counts.png").is_file()
    assert "| system | kind |" in (tmp_path / "comparison.md").read_text()


def test_best_fold_is_chosen_on_held_out_validation_folds():
    val = complementary_logits(200, 2)
    model, summary = fit_meta_learner(np.concatenate([val.logits["a"], val.logits["b"]], 1), val.labels, C,
                                      MetaLearnerConfig(folds=4, epochs=50))
    assert summary["best_fold"] == int(np.argmax(summary["fold_macro_f1"]))
    assert summary["stratified"] is True
    assert model.mean.shape == (2 * C,)


def test_weighted_mean_favours_the_better_model():
    val, test = complementary_logits(300, 3), complementary_logits(100, 4)
    val.logits["b"] = np.random.default_rng(5).normal(0, 1, val.logits["b"].shape).astype(np.float32)
    fit = fit_ensemble(val, test, MetaLearnerConfig(folds=3, epochs=20), weight_metric="macro_f1")
    assert fit.weights[0] > fit.weights[1]


def test_too_few_samples_and_bad_options_are_clear_errors():
    with pytest.raises(ValueError, match="cannot be split into 5 folds"):
        fit_meta_learner(np.zeros((3, 8)), np.array([0, 1, 2]), C, MetaLearnerConfig())
    with pytest.raises(ValueError, match="meta_learner.select='worst'"):
        MetaLearnerConfig(select="worst")
    val = complementary_logits(20, 0)
    with pytest.raises(ValueError, match="weight_metric='f2'"):
        fit_ensemble(val, val, MetaLearnerConfig(), weight_metric="f2")


class Constant(torch.nn.Module):
    def __init__(self, row):
        super().__init__()
        self.row = torch.tensor(row)

    def forward(self, audio, lengths):
        return self.row.expand(audio.shape[0], -1)


def test_ensemble_predictor_combines_member_logits():
    names = ["x", "y"]
    members = [ModelPredictor(Constant([2.0, 0.0]), names), ModelPredictor(Constant([0.0, 4.0]), names)]
    audio, lengths = torch.zeros(3, 10), torch.full((3,), 10)
    mean = EnsemblePredictor(members, "mean").predict_logits(audio, lengths)
    assert mean.tolist() == [[1.0, 2.0]] * 3
    weighted = EnsemblePredictor(members, "weighted_mean", weights=[3, 1]).predict_logits(audio, lengths)
    assert weighted[0].tolist() == pytest.approx([1.5, 1.0])
    meta = MetaLearner(4, 2, hidden=3)
    stacked = EnsemblePredictor(members, "stacked", meta_learner=meta).predict_logits(audio, lengths)
    assert torch.allclose(stacked, meta(torch.tensor([[2.0, 0.0, 0.0, 4.0]])).expand(3, -1))
    with pytest.raises(ValueError, match="member 'm1' has classes \\['y', 'x'\\]"):
        EnsemblePredictor([members[0], ModelPredictor(Constant([0.0, 1.0]), ["y", "x"])], "mean", names=["m0", "m1"])


def _write_v1_artefact(folder, select: str) -> None:
    """An ensemble folder exactly as ``python -m ensemble`` wrote it before its loader moved into
    prediction/: manifest keys and state-dict names are spelled out here, not produced by the code."""
    (folder / "members").mkdir(parents=True)
    for name in ("00_a.ckpt", "01_b.ckpt"):
        (folder / "members" / name).write_bytes(b"")
    meta = {"hidden": 3, "dropout": 0.2, "folds": 2, "select": select, "epochs": 300, "lr": 0.01,
            "weight_decay": 0.001, "seed": 0}
    manifest = {"format_version": 1, "class_names": ["x", "y"], "combiner": "stacked",
                "members": [{"name": "a", "path": "members/00_a.ckpt", "source": "/runs/a/best.ckpt"},
                            {"name": "b", "path": "members/01_b.ckpt", "source": "/runs/b/best.ckpt"}],
                "weights": None, "extra": {}, "meta_learner": meta}
    (folder / "ensemble.json").write_text(json.dumps(manifest))
    gen = torch.Generator().manual_seed(0)
    learner = {"mean": torch.randn(4, generator=gen), "std": torch.rand(4, generator=gen) + 0.5,
               "net.0.weight": torch.randn(3, 4, generator=gen), "net.0.bias": torch.randn(3, generator=gen),
               "net.3.weight": torch.randn(2, 3, generator=gen), "net.3.bias": torch.randn(2, generator=gen)}
    if select == "best":
        state = learner
    else:
        state = {f"learners.{i}.{key}": value * (i + 1) for i in range(2) for key, value in learner.items()}
    torch.save(state, folder / "meta_learner.pt")


def _expected_v1_logits(state: dict, select: str, stacked: torch.Tensor) -> torch.Tensor:
    def one(prefix: str) -> torch.Tensor:
        x = (stacked - state[prefix + "mean"]) / state[prefix + "std"]
        hidden = torch.relu(x @ state[prefix + "net.0.weight"].T + state[prefix + "net.0.bias"])
        return hidden @ state[prefix + "net.3.weight"].T + state[prefix + "net.3.bias"]
    if select == "best":
        return one("")
    return (one("learners.0.") + one("learners.1.")) / 2


@pytest.mark.parametrize("select", ["best", "average"])
def test_an_artefact_in_the_saved_format_loads_with_the_member_loader(select, tmp_path):
    from prediction.ensemble_artefact import load_ensemble

    _write_v1_artefact(tmp_path, select)
    rows = {"00_a.ckpt": [2.0, 0.0], "01_b.ckpt": [0.0, 4.0]}
    opened = []

    def load_member(path):
        opened.append(path.relative_to(tmp_path).as_posix())
        return ModelPredictor(Constant(rows[path.name]), ["x", "y"])

    ensemble = load_ensemble(tmp_path, load_member)
    assert opened == ["members/00_a.ckpt", "members/01_b.ckpt"] and ensemble.names == ["a", "b"]
    logits = ensemble.predict_logits(torch.zeros(2, 10), torch.full((2,), 10))
    state = torch.load(tmp_path / "meta_learner.pt", weights_only=True)
    expected = _expected_v1_logits(state, select, torch.tensor([[2.0, 0.0, 0.0, 4.0]]))
    assert torch.allclose(logits, expected.expand(2, -1), atol=1e-6)
