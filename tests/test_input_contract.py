"""The checkpoint carries its input contract: evaluate.py with no flag reproduces train.py's test scores.

For six contracts (zero padding, repeat padding, precomputed log-mel, windowed evaluation, per-speaker
normalisation of waveform and of log-mel models) a tiny CNN is trained by
train.py for one epoch on generated shards whose clips are longer and shorter than the clip
length, so cropping and padding matter; then ``evaluate.py --model BEST --data_root SAME
--output_dir D`` must report train.py's test metrics to 1e-4, and its logits must give train.py's
test loss (the weighted cross-entropy averaged per batch, as Lightning logs it).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from prediction import evaluate_command as evaluate
from training import command as train
from data_preparation.input_contract import InputContract, InputOverrides, legacy_contract
from lightning_modules import EmotionClassifier
from tests.shard_factory import LOGMEL, make_dataset
from tests.tiny_train_config import DEBUG_CPU
from training.resume import best_checkpoint

BATCH, CLIP = 4, 0.8
METRICS = {"test/wa": ("accuracy", None), "test/macro_f1": ("macro avg", "f1-score"),
           "test/weighted_f1": ("weighted avg", "f1-score"), "test/ua": ("macro avg", "recall"),
           "test/precision_weighted": ("weighted avg", "precision")}
CONTRACTS = {  # name -> datamodule settings
    "zero": {"padding": "zero"},
    "repeat": {"padding": "repeat"},
    "logmel": {"padding": "zero", "features": "logmel"},
    # rows of 1.4 s scored over 0.8 s windows (lightning_modules/window_scores.py)
    "windows": {"padding": "zero", "eval_seconds": 1.4},
    # each test speaker normalised by its own statistics over the test split (prediction/split_speakers.py)
    "speaker_norm": {"padding": "zero"},
    "logmel_speaker_norm": {"padding": "zero", "features": "logmel"},
}
NET_ARGS = {name: {"speaker_norm": True} for name in ("speaker_norm", "logmel_speaker_norm")}  # extra SmallCNN args


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("contract_data")
    # 0.4-1.4 s clips around a 0.8 s clip length: about half are cropped, half padded
    make_dataset(root, num_classes=3, per_class={"train": 6, "val": 3, "test": 6}, shards_per_split=2,
                 seconds=(0.4, 1.4), logmel=True)
    return root


def train_tiny(data_root: Path, runs: Path, name: str, settings: dict[str, str]) -> tuple[dict[str, float], Path]:
    """train.py for one epoch; returns its test metrics and the best checkpoint."""
    frontend = {"class_path": "lightning_modules.components.frontends.LogMel",
                "init_args": {"n_mels": LOGMEL["n_mels"], "n_fft": LOGMEL["n_fft"], "hop_length": LOGMEL["hop_length"]}}
    net = {"class_path": "lightning_modules.components.small_cnn.SmallCNN",
           "init_args": {"channels": [4, 8], "hidden": 16, "frontend": frontend, **NET_ARGS.get(name, {})}}
    scores = train.main([
        "--config", str(DEBUG_CPU),  # configs/debug/cpu.yaml: CPU, quiet, test reports only
        f"--data.data_root={data_root}", f"--data.batch_size={BATCH}",
        f"--data.clip_seconds={CLIP}", "--data.pin_memory=false", "--data.shuffle_buffer=8",
        *[f"--data.{key}={value}" for key, value in settings.items()],
        f"--model.net={json.dumps(net)}", "--model.lr=3e-3", "--model.scheduler=constant",
        "--trainer.max_epochs=1", "--trainer.logger=false", "--report.mistakes=0",
        f"--run.root={runs}", f"--run.name={name}",
    ])
    return scores, best_checkpoint(runs / name / "checkpoints")


def batch_mean_loss(logits: np.ndarray, labels: np.ndarray, weights: list[float], batch: int) -> float:
    """Lightning's epoch test/loss: weighted cross-entropy per batch, averaged weighted by batch size."""
    losses, sizes = [], []
    for start in range(0, len(labels), batch):
        rows = slice(start, start + batch)
        loss = torch.nn.functional.cross_entropy(torch.as_tensor(logits[rows]), torch.as_tensor(labels[rows]),
                                                 weight=torch.tensor(weights, dtype=torch.float32))
        losses.append(float(loss))
        sizes.append(len(labels[rows]))
    return float(np.average(losses, weights=sizes))


@pytest.fixture(scope="module")
def trained(data_root, tmp_path_factory):
    """name -> (train.py's test metrics, best checkpoint), trained once per module."""
    runs, cache = tmp_path_factory.mktemp("contract_runs"), {}

    def get(name: str) -> tuple[dict[str, float], Path]:
        if name not in cache:
            cache[name] = train_tiny(data_root, runs, name, CONTRACTS[name])
        return cache[name]
    return get


def evaluate_scores(model: Path, data_root: Path, output: Path, *flags: str) -> dict:
    """``python evaluate.py --model M --data_root SAME --output_dir D`` (CPU, the training batch size)."""
    return evaluate.main(["--model", str(model), "--data_root", str(data_root), "--output_dir", str(output),
                          "--device", "cpu", "--batch_size", str(BATCH), *flags])


def assert_same_scores(report: dict, scores: dict[str, float]) -> None:
    classification = report["classification_report"]
    for key, (row, column) in METRICS.items():
        value = classification[row] if column is None else classification[row][column]
        assert value == pytest.approx(scores[key], abs=1e-4), key


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CONTRACTS))
def test_evaluate_with_no_flag_reproduces_train_test_metrics(name, data_root, trained, tmp_path):
    scores, best = trained(name)
    contract = EmotionClassifier.load_from_checkpoint(best, map_location="cpu").contract
    assert contract is not None and contract.padding == CONTRACTS[name]["padding"]
    assert contract.clip_seconds == CLIP and contract.features == CONTRACTS[name].get("features", "waveform")
    assert contract.class_names == ("class0", "class1", "class2") and contract.taxonomy == "synthetic"
    assert contract.eval_seconds == CONTRACTS[name].get("eval_seconds")

    report = evaluate_scores(best, data_root, tmp_path / "D")
    assert report["num_samples"] == 18
    assert_same_scores(report, scores)
    saved = np.load(tmp_path / "D" / "logits.npz")
    weights = json.loads((data_root / "stats.json").read_text())["class_weights"]
    loss = batch_mean_loss(saved["logits_0"], saved["labels"], weights, BATCH)
    assert loss == pytest.approx(scores["test/loss"], abs=1e-4)
    assert report["source"]["input_contract"]["padding"] == CONTRACTS[name]["padding"]


@pytest.mark.slow
def test_speaker_norm_models_are_scored_with_the_population_only_when_asked(data_root, trained, tmp_path):
    """--speaker_stats population: every clip normalised by the training population, not its speaker."""
    scores, best = trained("speaker_norm")
    report = evaluate_scores(best, data_root, tmp_path / "P", "--speaker_stats", "population")
    assert report["source"]["speaker_stats"] == "population"
    saved = np.load(tmp_path / "P" / "logits.npz")
    weights = json.loads((data_root / "stats.json").read_text())["class_weights"]
    loss = batch_mean_loss(saved["logits_0"], saved["labels"], weights, BATCH)
    assert abs(loss - scores["test/loss"]) > 1e-3  # other statistics, other logits than train.py's test


@pytest.mark.slow
def test_checkpoint_without_contract_is_evaluated_from_its_datamodule_settings(data_root, trained, tmp_path, caplog):
    """A checkpoint written before contracts (no hparams.input_contract) still reproduces train.py, with a warning."""
    scores, best = trained("repeat")
    checkpoint = torch.load(best, map_location="cpu", weights_only=True)
    del checkpoint["hyper_parameters"]["input_contract"]
    old = tmp_path / "old.ckpt"
    torch.save(checkpoint, old)
    with caplog.at_level("WARNING"):
        report = evaluate_scores(old, data_root, tmp_path / "D")
    assert "predates the input contract" in caplog.text and "repeat padding" in caplog.text
    assert_same_scores(report, scores)


def test_overrides_default_to_the_contract_and_depart_only_when_given():
    contract = InputContract(16_000, 1.0, "repeat", "center")
    assert InputOverrides().plan(contract, 16_000) == InputOverrides(1.0, 1.0, "repeat", "center").plan(contract, 16_000)
    plan = InputOverrides(max_seconds=float("inf"), pad_to_seconds=0, padding="zero").plan(contract, 16_000)
    assert (plan.crop_size, plan.pad_size, plan.padding, plan.crop) == (None, None, "zero", "center")
    logmel = InputContract(16_000, 1.0, "zero", "start", "logmel", {"n_mels": 32, "n_fft": 400, "hop_length": 160})
    assert InputOverrides().plan(logmel, 16_000).crop_size == 16_000 // 160 + 1 == logmel.clip_size
    with pytest.raises(ValueError, match="padding='mirror'"):
        InputContract(16_000, 1.0, "mirror", "center")
    with pytest.raises(ValueError, match="newer than this code"):
        InputContract.from_dict({**contract.to_dict(), "version": 99})


def test_checkpoint_from_before_contracts_falls_back_to_its_datamodule_settings():
    """Lightning stored the datamodule's init args beside the model's: enough to rebuild a waveform contract."""
    model = {"sample_rate": 16_000, "class_names": ["a", "b"]}
    rebuilt = legacy_contract(model, {"clip_seconds": 4.0, "padding": "repeat", "eval_crop": "center"}, "old.ckpt")
    assert rebuilt == InputContract(16_000, 4.0, "repeat", "center", class_names=("a", "b"))
    assert legacy_contract(model, None, "old.ckpt") is None  # nothing to rebuild from: clips are fed whole
    with pytest.raises(ValueError, match="old.ckpt predates the input contract and was trained on precomputed log-mel"):
        legacy_contract(model, {"clip_seconds": 4.0, "features": "logmel"}, "old.ckpt")


def test_prediction_pads_short_windows_as_training_padded_clips():
    from prediction.recording import window_batch

    wave = np.arange(1, 8, dtype=np.float32)  # 7 samples; windows of 5
    repeat_audio, repeat_lengths = window_batch(wave, [(0, 5), (5, 7)], 5, "repeat")
    assert repeat_audio[1].tolist() == [6, 7, 6, 7, 6] and repeat_lengths.tolist() == [5, 5]
    zero_audio, zero_lengths = window_batch(wave, [(0, 5), (5, 7)], 5, "zero")
    assert zero_audio[1].tolist() == [6, 7, 0, 0, 0] and zero_lengths.tolist() == [5, 2]


def test_recordings_cannot_feed_a_log_mel_shard_model():
    from prediction.predictor import ModelPredictor
    from prediction.recording import check_predictable

    logmel = InputContract(16_000, 1.0, "zero", "center", "logmel", {"n_mels": 32, "n_fft": 400, "hop_length": 160})
    predictor = ModelPredictor(torch.nn.Identity(), ["a", "b"], input_contract=logmel)
    with pytest.raises(ValueError, match="trained on precomputed logmel shards"):
        check_predictable(predictor)


def test_front_ends_take_the_data_rate_unless_set_explicitly():
    from lightning_modules.components.frontends import MFCC, LogMel, bind_sample_rate

    mfcc = MFCC(n_mfcc=13, n_mels=32)
    bind_sample_rate(torch.nn.Sequential(mfcc), 8_000)
    assert mfcc.logmel.sample_rate == mfcc.logmel.mel.sample_rate == 8_000
    with pytest.raises(ValueError, match="sample_rate=16000 is set in the network config, but the data is 8000 Hz"):
        bind_sample_rate(LogMel(sample_rate=16_000), 8_000)


def test_ensemble_members_must_share_their_input_contract():
    from prediction.ensemble_artefact import EnsemblePredictor
    from prediction.predictor import ModelPredictor

    names = ["a", "b"]
    zero, repeat = (InputContract(16_000, 1.0, padding, "center", class_names=names) for padding in ("zero", "repeat"))
    members = [ModelPredictor(torch.nn.Identity(), names, input_contract=c) for c in (zero, repeat)]
    with pytest.raises(ValueError, match="'m1' was trained on other inputs than 'm0'"):
        EnsemblePredictor(members, "mean", names=["m0", "m1"])
    same = EnsemblePredictor([members[0], members[0]], "mean", names=["m0", "m1"])
    assert same.input_contract == zero
