"""cross_validate.py: aggregation arithmetic against hand-computed values, scores from a report,
and a 2-fold speaker protocol end to end on a generated corpus (fold runs, resume, results, W&B
group, evaluate.py --fold); the SLURM array of the same protocol runs on the two-node cluster
(tests/test_slurm_two_nodes.py)."""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from prediction import evaluate_command as evaluate
from protocols import command as cross_validate
from data_preparation import demo_corpus
from evaluation.report import build_report
from protocols.results import format_markdown, write_results
from protocols.scores import aggregate, scores_from_report

REPO = Path(__file__).resolve().parents[1]


def fold(k: int, ua: float, wa: float, corpora: dict[str, float]) -> dict:
    per_corpus = {c: {"ua": v, "wa": v, "macro_f1": v, "num_samples": 10} for c, v in corpora.items()}
    macro = {m: float(np.mean(list(corpora.values()))) for m in ("ua", "wa", "macro_f1")}
    return {"fold": k, "held_out": f"fold{k}", "num_samples": 10 * len(corpora), "ua": ua, "wa": wa,
            "macro_f1": ua, "weighted_f1": wa, "per_corpus": per_corpus, "corpus_macro": macro}


FOLDS = [fold(0, 0.6, 0.5, {"a": 0.4, "b": 0.8}), fold(1, 0.7, 0.6, {"a": 0.6}),
         fold(2, 0.8, 0.7, {"a": 0.5, "b": 0.9}), fold(3, 0.9, 1.0, {"b": 1.0})]


def test_aggregation_is_the_mean_and_sample_std() -> None:
    summary = aggregate(FOLDS)
    # UA 0.6, 0.7, 0.8, 0.9: mean 0.75; squared deviations 0.0225+0.0025+0.0025+0.0225 = 0.05, / (4-1)
    assert summary["pooled"]["ua"]["mean"] == pytest.approx(0.75)
    assert summary["pooled"]["ua"]["std"] == pytest.approx(math.sqrt(0.05 / 3))  # 0.1291, not the population 0.1118
    # WA 0.5, 0.6, 0.7, 1.0: mean 0.7; deviations -0.2, -0.1, 0, 0.3 -> 0.14 / 3
    assert summary["pooled"]["wa"]["mean"] == pytest.approx(0.7)
    assert summary["pooled"]["wa"]["std"] == pytest.approx(math.sqrt(0.14 / 3))
    # corpus a is tested in folds 0-2 only: 0.4, 0.6, 0.5 -> mean 0.5, std 0.1
    assert summary["per_corpus"]["a"]["ua"] == {"mean": pytest.approx(0.5), "std": pytest.approx(0.1), "n": 3}
    # macro over corpora per fold: 0.6, 0.6, 0.7, 1.0 -> mean 0.725
    assert summary["corpus_macro"]["ua"]["mean"] == pytest.approx(0.725)
    assert aggregate(FOLDS[:1])["pooled"]["ua"]["std"] is None  # one fold: no sample std


def test_result_files_carry_the_same_numbers(tmp_path: Path) -> None:
    write_results(tmp_path, "p", FOLDS)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["summary"]["pooled"]["ua"]["std"] == pytest.approx(0.1290994449)
    rows = list(csv.DictReader((tmp_path / "results.csv").open()))
    assert [r["fold"] for r in rows] == ["0", "1", "2", "3", "mean", "std"]
    assert float(rows[-1]["ua"]) == pytest.approx(0.1290994449) and rows[1]["ua/b"] == ""
    table = (tmp_path / "results.md").read_text()
    assert "| **mean ± std** | | | 75.00 ± 12.91 | 70.00 ± 21.60 |" in table
    assert "| a | 3 | 50.00 ± 10.00 |" in table and "**macro over corpora**" in table
    assert format_markdown("p", FOLDS, aggregate(FOLDS)) == table


def test_scores_from_a_report_name_the_fields_metrics() -> None:
    labels = np.array([0, 0, 0, 1, 0, 1])
    predicted = np.array([0, 0, 1, 1, 1, 1])
    report = build_report(labels, np.eye(2)[predicted], ["a", "b"], corpora=["x", "x", "x", "x", "y", "y"])
    scores = scores_from_report(report)
    assert scores["wa"] == pytest.approx(4 / 6)
    assert scores["ua"] == pytest.approx((2 / 4 + 2 / 2) / 2)  # recall of a 2/4, of b 2/2
    assert scores["per_corpus"]["x"]["ua"] == pytest.approx((2 / 3 + 1) / 2)
    assert scores["per_corpus"]["y"]["ua"] == pytest.approx((0 + 1) / 2)  # y's a missed, its b found
    assert scores["per_corpus"]["y"]["wa"] == pytest.approx(0.5)
    assert scores["corpus_macro"]["wa"] == pytest.approx((0.75 + 0.5) / 2)


def test_logged_metrics_carry_the_fields_names_once() -> None:
    """UA = balanced accuracy and WA = accuracy under one name each; no recall alias of either."""
    import torch
    from sklearn.metrics import accuracy_score, balanced_accuracy_score

    from lightning_modules.metrics import summary_metrics

    metrics = summary_metrics(3, "val")
    labels = torch.tensor([0, 0, 0, 0, 1, 1, 2, 2])
    predicted = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2])
    values = {k: float(v) for k, v in metrics(torch.nn.functional.one_hot(predicted, 3).float(), labels).items()}
    assert set(values) == {"val/ua", "val/wa", "val/macro_f1", "val/weighted_f1", "val/precision_macro",
                           "val/precision_weighted"}
    assert values["val/ua"] == pytest.approx(balanced_accuracy_score(labels, predicted))  # (3/4 + 1/2 + 1) / 3
    assert values["val/wa"] == pytest.approx(accuracy_score(labels, predicted))


TINY_TRAIN = {
    "seed_everything": 0,
    "trainer": {"accelerator": "cpu", "devices": 1, "precision": "32-true", "max_epochs": 1, "log_every_n_steps": 1,
                "num_sanity_val_steps": 0, "enable_progress_bar": False, "enable_model_summary": False},
    "model": {"net": {"class_path": "lightning_modules.components.small_cnn.SmallCNN",
                      "init_args": {"channels": [4, 8], "dropout": 0.1,
                                    "frontend": {"class_path": "lightning_modules.components.frontends.LogMel",
                                                 "init_args": {"n_mels": 16}}}},
              "lr": 0.01, "scheduler": "cosine", "warmup": 0.1},
    "data": {"data_root": "set-by-the-protocol", "batch_size": 4, "num_workers": 0, "clip_seconds": 1.0,
             "shuffle_buffer": 8},
    "report": {"mistakes": 0},
    "wandb": {"mode": "offline", "project": "ser-tests"},
}


def write_protocol(root: Path, name: str) -> Path:
    """A generated 4-speaker corpus, a tiny train config and a 2-fold speaker protocol over them."""
    corpus = root / "corpus"
    if not corpus.exists():
        demo_corpus.generate(corpus, speakers=4, clips_per_class=2, progress=False)
    (root / "tiny.yaml").write_text(yaml.safe_dump(TINY_TRAIN))
    protocol = {
        "name": name, "data": str(REPO / "configs/prepare/demo.yaml"), "train": str(root / "tiny.yaml"),
        "data_overrides": {"corpora": [{"name": "csv", "root": str(corpus), "options": {"name": "demo"}}],
                           "output": str(root / "prepared"), "shard_max_samples": 4, "workers": 1,
                           "split": {"mode": "folds", "folds": {"by": "speaker", "k": 2, "val_fraction": 0.5}}},
        "output": str(root / "runs"), "wandb_project": "ser-tests",
    }
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(protocol))
    return path


def check_results(root: Path, name: str) -> dict:
    results = json.loads((root / "runs" / name / "results.json").read_text())
    assert [(f["index"], f["fold"]) for f in results["folds"]] == [(0, "fold0"), (1, "fold1")]  # the plan's names
    assert sum(f["num_samples"] for f in results["folds"]) == 32  # every clip tested exactly once
    assert results["summary"]["pooled"]["ua"]["n"] == 2 and results["summary"]["pooled"]["ua"]["std"] is not None
    assert "| **mean ± std** |" in (root / "runs" / name / "results.md").read_text()
    return results


@pytest.mark.slow
def test_two_fold_protocol_end_to_end_and_resumable(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(REPO)  # train.py is started from the repository root
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    config = write_protocol(tmp_path, "tiny-2fold")
    assert cross_validate.main(["--config", str(config)]) == 0
    results = check_results(tmp_path, "tiny-2fold")
    for result in results["folds"]:
        run = Path(result["run_dir"])
        assert run.name == f"tiny-2fold-fold{result['index']}"
        assert "group: tiny-2fold" in (run / "csv" / "config.yaml").read_text()  # the W&B group of the protocol
        assert list((run / "wandb").glob("offline-run-*"))
    assert list((tmp_path / "runs" / "tiny-2fold" / "wandb").glob("offline-run-*-tiny-2fold-summary"))
    # evaluate.py --fold K scores fold K's test speakers as the fold's own test step did
    fold1 = results["folds"][1]
    report = evaluate.main(["--model", fold1["run_dir"], "--data_root", str(tmp_path / "prepared"), "--fold", "1",
                            "--output_dir", str(tmp_path / "eval1"), "--device", "cpu"])
    assert report["num_samples"] == fold1["num_samples"]
    assert report["classification_report"]["macro avg"]["recall"] == pytest.approx(fold1["ua"], abs=1e-4)
    with pytest.raises(ValueError, match="prepared as 2 folds: pass --fold"):
        evaluate.main(["--model", fold1["run_dir"], "--data_root", str(tmp_path / "prepared"),
                       "--output_dir", str(tmp_path / "eval"), "--device", "cpu"])
    checkpoints = {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").rglob("*.ckpt")}
    capsys.readouterr()
    assert cross_validate.main(["--config", str(config)]) == 0  # rerun: nothing retrained, results rewritten
    out = capsys.readouterr().out
    assert "fold 0 already finished" in out and "fold 1 already finished" in out
    assert checkpoints == {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").rglob("*.ckpt")}


def test_bad_fold_number_is_a_user_error(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(REPO)
    config = write_protocol(tmp_path, "tiny-bad")
    assert cross_validate.main(["--config", str(config), "--fold", "5"]) == 2
    assert "--fold 5: the protocol has folds 0..1" in capsys.readouterr().err


@pytest.mark.parametrize("path", sorted((REPO / "configs" / "protocols").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_ready_made_protocol_parses(path: Path, monkeypatch) -> None:
    """Each protocol, its preparation config with the overrides, and its train config compose."""
    from data_preparation.config import parse_config
    from protocols.config import parse_args

    monkeypatch.chdir(REPO)
    protocol = parse_args(["--config", str(path)]).protocol
    assert "# " in path.read_text().splitlines()[0]  # it starts with the comment that says where it comes from
    prepare = parse_config(protocol.prepare_argv())
    assert prepare.output == protocol.data_overrides["output"]
    assert Path(protocol.train).is_file()


def test_a_protocols_corpus_list_replaces_the_data_configs_list() -> None:
    """configs/prepare/protocol.yaml lists the demo corpus with options {name: demo}; a protocol's
    {name: ravdess} entry must not inherit them (issue 17: 'unknown option(s) name')."""
    from data_preparation.config import parse_config
    from protocols.config import parse_args

    protocol = parse_args(["--config", str(REPO / "configs/protocols/ravdess_emobox.yaml")]).protocol
    corpora = parse_config(protocol.prepare_argv()).corpora
    assert [(c.name, c.root, c.options) for c in corpora] == [("ravdess", "data/corpora/RAVDESS", {})]


def test_corpus_root_and_partition_dir_relocate_a_shipped_protocol(monkeypatch) -> None:
    from data_preparation.config import parse_config
    from protocols.config import parse_args

    monkeypatch.chdir(REPO)
    protocol = parse_args(["--config", "configs/protocols/leave_one_corpus_out.yaml", "--corpus_root", "tess=/d/TESS",
                           "--corpus_root", "ravdess=/d/RAVDESS", "--prepared_dir", "/scratch/p"]).protocol
    prepare = parse_config(protocol.prepare_argv())
    assert {c.name: c.root for c in prepare.corpora} == {
        "ravdess": "/d/RAVDESS", "crema_d": "data/corpora/CREMA-D", "emodb": "data/corpora/EmoDB",
        "savee": "data/corpora/SAVEE", "tess": "/d/TESS"}
    assert prepare.output == "/scratch/p"
    protocol = parse_args(["--config", "configs/protocols/tess_emobox.yaml", "--partition_dir", "/e/data/tess"]).protocol
    folds = parse_config(protocol.prepare_argv()).split.folds
    assert (folds.by, folds.partition_dir, folds.val_fraction, folds.val_by) == ("partition", "/e/data/tess", 0.15, "clip")  # the rest kept
    demo = parse_args(["--config", "configs/protocols/demo_speaker_folds.yaml", "--corpus_root", "csv=/d/demo"]).protocol
    assert [(c.root, c.options) for c in parse_config(demo.prepare_argv()).corpora] == [("/d/demo", {"name": "demo"})]


@pytest.mark.parametrize("flags, message", [
    (["--corpus_root", "crema_d=/d"], "--corpus_root crema_d=...: protocol 'ravdess-emobox' reads no corpus 'crema_d'; its corpora: ravdess"),
    (["--corpus_root", "/data/RAVDESS"], "--corpus_root '/data/RAVDESS': expected NAME=FOLDER"),
    (["--limit_folds", "0"], "--limit_folds 0: need at least 1"),
])
def test_bad_location_flags_are_one_line_user_errors(flags: list[str], message: str, monkeypatch, capsys) -> None:
    monkeypatch.chdir(REPO)
    assert cross_validate.main(["--config", "configs/protocols/ravdess_emobox.yaml", *flags, "--prepare_only"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"cross_validate: error: {message}") and err.count("\n") == 1, err


def test_partition_dir_on_a_protocol_without_a_partition_is_refused(monkeypatch, capsys) -> None:
    monkeypatch.chdir(REPO)
    assert cross_validate.main(["--config", "configs/protocols/savee_loso.yaml", "--partition_dir", "/e", "--prepare_only"]) == 2
    assert "--partition_dir /e: protocol 'savee-loso' does not use a published partition" in capsys.readouterr().err


def test_results_md_states_source_metrics_and_a_shakedown(tmp_path: Path) -> None:
    named = [{**f, "fold": f"fold_{f['fold'] + 1}"} for f in FOLDS[:2]]
    write_results(tmp_path, "p", named, source="EmoBox (Ma et al., Interspeech 2024)", protocol_folds=6)
    table = (tmp_path / "results.md").read_text()
    assert "Source: EmoBox (Ma et al., Interspeech 2024)" in table
    assert "UA = unweighted average recall" in table and "WA = weighted accuracy (plain accuracy" in table
    assert "Mean ± sample standard deviation over folds (n - 1" in table
    assert "**Shakedown, not the protocol's figure: the first 2 of its 6 folds (--limit_folds).**" in table
    assert "| fold_1 | fold0 | 20 |" in table and "| fold_2 |" in table
    write_results(tmp_path, "p", named, source="s")  # every fold: no shakedown line
    assert "Shakedown" not in (tmp_path / "results.md").read_text()
