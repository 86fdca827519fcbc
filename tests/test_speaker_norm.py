"""Per-speaker normalisation (model.net.init_args.speaker_norm): statistics, invariance, and the trainer's passes.

The property that matters on real corpora: a speaker recorded 20-30 dB quieter than the training
speakers (SAVEE's KL) is classified as if recorded at their level. With statistics from the speaker's
own clips, the network's output does not depend on that speaker's recording gain at all.
"""
from __future__ import annotations

import json
import logging
import math
import tarfile
from pathlib import Path

import pytest
import torch

from datamodules.data_settings import ClipShape, Loading
from datamodules.shard_datamodule import ShardDataModule
from lightning_modules.components.frontends import LogMel
from lightning_modules.components.small_cnn import SmallCNN
from lightning_modules.speaker_statistics import SpeakerStatistics, batch_stats, collect, speakers_of
from tests.tiny_train_config import make_tiny_run


def _speakers(root: Path, split: str) -> set[str]:
    """corpus/speaker of every sample of a prepared split, read from its shards' JSON."""
    info = json.loads((root / "stats.json").read_text())["splits"][split]
    speakers = set()
    for shard in info["shards"]:
        with tarfile.open(root / shard) as tar:
            for member in tar.getmembers():
                if member.name.endswith(".json"):
                    meta = json.loads(tar.extractfile(member).read())
                    speakers.add(f"{meta['corpus']}/{meta['speaker']}")
    return speakers


def _voice(seed: int, clips: int = 6, samples: int = 8000) -> torch.Tensor:
    """Harmonic clips with a per-clip pitch and noise floor: never silent, so no band hits the dB floor."""
    generator = torch.Generator().manual_seed(seed)
    t = torch.arange(samples) / 16000
    pitch = 120 + 200 * torch.rand(clips, 1, generator=generator)
    harmonics = sum(torch.sin(2 * math.pi * k * pitch * t) / k for k in range(1, 6))
    return 0.3 * harmonics + 0.01 * torch.randn(clips, samples, generator=generator)


def test_statistics_are_each_speakers_mean_and_std_over_valid_frames_only() -> None:
    features = torch.randn(3, 4, 10)
    features[0, :, 6:] = 1000.0  # padding of clip 0: must not count
    frames = torch.tensor([6, 10, 10])
    statistics = SpeakerStatistics()
    statistics.add(features, frames, ["c/a", "c/b", "c/a"])
    table = statistics.table()
    pooled_a = torch.cat([features[0, :, :6], features[2]], dim=-1)
    torch.testing.assert_close(table["c/a"][0], pooled_a.mean(-1))
    torch.testing.assert_close(table["c/a"][1], pooled_a.std(-1, unbiased=False), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(table["c/b"][0], features[1].mean(-1))
    assert sorted(table) == ["c/a", "c/b"]
    assert statistics.single_class_speakers() == []  # no labels given: nothing is known


def test_speakers_who_show_one_emotion_only_are_named() -> None:
    """URDU-like data: a speaker with one class loses that class under per-speaker normalisation."""
    statistics = SpeakerStatistics()
    statistics.add(torch.randn(4, 3, 5), torch.tensor([5, 5, 5, 5]), ["c/a", "c/a", "c/b", "c/b"], [0, 0, 0, 1])
    other = SpeakerStatistics()
    other.add(torch.randn(1, 3, 5), torch.tensor([5]), ["c/a"], [0])
    statistics.update(other)
    assert statistics.single_class_speakers() == ["c/a"]


def test_a_speakers_recording_gain_does_not_change_its_outputs() -> None:
    torch.manual_seed(0)
    net = SmallCNN(4, frontend=LogMel(n_mels=32), channels=(8, 16), speaker_norm=True).eval()
    clips = _voice(1)
    lengths = torch.full((clips.shape[0],), clips.shape[1])

    def logits(audio: torch.Tensor) -> torch.Tensor:
        statistics = collect([{"audio": audio, "lengths": lengths, "corpus": ["c"] * len(audio),
                               "speaker": ["kl"] * len(audio)}], lambda b: net.features_of(b["audio"], b["lengths"]))
        norm = net.speaker_norm
        stats = batch_stats(statistics.table(), ["c/kl"] * len(audio), (norm.population_mean, norm.population_std),
                            audio.device)
        return net(audio, lengths, band_stats=stats)

    with torch.no_grad():
        loud, quiet = logits(clips), logits(clips * 0.05)  # the same voice 26 dB quieter
        torch.testing.assert_close(quiet, loud, rtol=1e-3, atol=1e-3)
        # without the speaker's statistics (the population's, as predict.py has) the gain does matter
        assert (net(clips * 0.05, lengths) - net(clips, lengths)).abs().max() > 0.05


def test_a_speaker_without_statistics_gets_the_population_and_the_population_travels_in_the_state_dict() -> None:
    net = SmallCNN(4, frontend=LogMel(n_mels=16), channels=(4, 8), speaker_norm=True)
    net.speaker_norm.set_population(torch.full((16,), -40.0), torch.full((16,), 12.0))
    state = net.state_dict()
    assert torch.equal(state["speaker_norm.population_mean"], torch.full((16,), -40.0))
    table = {"c/a": (torch.zeros(16), torch.ones(16))}
    mean, std = batch_stats(table, ["c/a", "c/new"], (state["speaker_norm.population_mean"],
                                                       state["speaker_norm.population_std"]), torch.device("cpu"))
    assert mean[0].eq(0).all() and mean[1].eq(-40).all() and std[1].eq(12).all()
    assert speakers_of({"corpus": ["savee", "tess"], "speaker": ["KL", "KL"]}) == ["savee/KL", "tess/KL"]


def test_training_collects_each_splits_speakers_and_stores_the_population(tmp_path: Path,
                                                                           caplog: pytest.LogCaptureFixture) -> None:
    from lightning_modules.classifier import EmotionClassifier
    from training import command as train

    config = make_tiny_run(tmp_path, epochs=1)
    with caplog.at_level(logging.INFO, logger="lightning_modules.classifier"):
        train.main(["--config", str(config), "--model.net.init_args.speaker_norm=true"])
    passes = [r.getMessage() for r in caplog.records if r.getMessage().startswith("speaker statistics")]
    # the generated shards tie class to corpus (both alternate by clip index), so every corpus/speaker shows
    # one class: exactly the data where normalising by a speaker removes the emotion, and the run says so
    speakers = len(_speakers(tmp_path / "data", "train"))
    warnings = [r.getMessage() for r in caplog.records if "of one class only" in r.getMessage()]
    assert len(warnings) == 1 and f"{speakers} of the {speakers} training speakers" in warnings[0], warnings
    # one pass per split, over that split's own speakers (as its shards' metadata names them)
    assert passes == [f"speaker statistics of {split}: {len(_speakers(tmp_path / 'data', split))} speakers"
                      for split in ("train", "val", "test")], passes
    checkpoints = sorted((tmp_path / "runs" / "tiny" / "checkpoints").glob("*.ckpt"))
    model = EmotionClassifier.load_from_checkpoint(checkpoints[0], weights_only=True)
    # the checkpoint's population is every training frame's statistics, read again here through the datamodule
    data = ShardDataModule(str(tmp_path / "data"), clips=ClipShape(clip_seconds=1.0),
                           loading=Loading(batch_size=4, num_workers=0))
    mean, std = collect(data.split_loader("train"), model.features_of).pooled()
    torch.testing.assert_close(model.net.speaker_norm.population_mean, mean)
    torch.testing.assert_close(model.net.speaker_norm.population_std, std)
    assert not torch.equal(std, torch.ones_like(std))  # not the identity it starts as
    # an exported model has no speakers: it carries the population, and ONNX Runtime reproduces the network
    from export import command as export

    summary = export.main(["--model", str(checkpoints[0]), "--formats", "[onnx]", "--output_dir", str(tmp_path / "x")])
    assert summary["onnx"]["max_abs_diff"] < 1e-3, summary["onnx"]
    _check_predict_groups(checkpoints[0], tmp_path)


def _probabilities(checkpoint: Path, inputs: list[Path], output: Path, grouping: str) -> dict[str, list[float]]:
    """predict.py's mean class probabilities per file name (folder/file)."""
    from prediction import command as predict

    assert predict.main(["--model", str(checkpoint), "--inputs", *map(str, inputs), "--output_dir", str(output),
                         "--speaker_groups", grouping, "--device", "cpu"]) == 0
    document = json.loads((output / "predictions.json").read_text())
    assert document["settings"]["speaker_groups"] == grouping
    return {"/".join(Path(r["path"]).parts[-2:]): [list(s["probabilities"].values()) for s in r["segments"]]
            for r in document["recordings"]}


def _check_predict_groups(checkpoint: Path, tmp_path: Path) -> None:
    """predict.py --speaker_groups folder: one voice recorded 26 dB quieter in another folder is predicted
    exactly as the loud one; without groups (the population's statistics) it is not."""
    import soundfile

    clips = _voice(3, clips=4, samples=16000).numpy()
    for folder, gain in (("loud", 1.0), ("quiet", 0.05)):
        (tmp_path / "voices" / folder).mkdir(parents=True)
        for index, clip in enumerate(clips):
            soundfile.write(tmp_path / "voices" / folder / f"clip{index}.wav", clip * gain, 16000, subtype="FLOAT")
    folders = [tmp_path / "voices" / "loud", tmp_path / "voices" / "quiet"]
    grouped = _probabilities(checkpoint, folders, tmp_path / "grouped", "folder")
    plain = _probabilities(checkpoint, folders, tmp_path / "plain", "none")
    for index in range(len(clips)):
        loud, quiet = (torch.tensor(grouped[f"{f}/clip{index}.wav"]) for f in ("loud", "quiet"))
        torch.testing.assert_close(quiet, loud, rtol=1e-3, atol=1e-3)
    assert max((torch.tensor(plain[f"quiet/clip{i}.wav"]) - torch.tensor(plain[f"loud/clip{i}.wav"])).abs().max()
               for i in range(len(clips))) > 1e-3


def test_speaker_norm_refuses_a_datamodule_without_speakers() -> None:
    from lightning_modules.classifier import EmotionClassifier

    model = EmotionClassifier(lambda n: SmallCNN(n, frontend=LogMel(n_mels=16), channels=(4,), speaker_norm=True),
                              class_names=["a", "b"], loss="ce")

    class Bare:
        datamodule = object()

    model._trainer = Bare()  # the attribute Lightning sets; only .datamodule is read
    with pytest.raises(ValueError, match="speaker_norm needs the shard datamodule"):
        model._collect_speaker_table("train", ["train"])


def test_speaker_groups_refuse_a_model_without_speaker_norm() -> None:
    from prediction.predictor import ModelPredictor
    from prediction.speaker_groups import check_groupable

    plain = ModelPredictor(SmallCNN(2, frontend=LogMel(n_mels=16), channels=(4,)), ["a", "b"])
    with pytest.raises(ValueError, match="not trained with per-speaker normalisation"):
        check_groupable(plain, "folder", "runs/demo")
    with pytest.raises(ValueError, match="expected one of none, folder, all"):
        check_groupable(plain, "speaker", "runs/demo")
    check_groupable(plain, "none", "runs/demo")  # the default works for every model


def test_evaluate_finds_ensemble_members_with_speaker_norm_and_normalises_each_row_by_its_speaker() -> None:
    from lightning_modules.classifier import EmotionClassifier
    from prediction.ensemble_artefact import EnsemblePredictor
    from prediction.predictor import ModelPredictor
    from prediction.split_speakers import SplitSpeakers, speaker_normalising

    torch.manual_seed(0)
    names = ["a", "b"]
    normed = ModelPredictor(EmotionClassifier(lambda n: SmallCNN(n, frontend=LogMel(n_mels=16), channels=(4,),
                                                                 speaker_norm=True), class_names=names, loss="ce"), names)
    plain = ModelPredictor(EmotionClassifier(lambda n: SmallCNN(n, frontend=LogMel(n_mels=16), channels=(4,)),
                                             class_names=names, loss="ce"), names)
    assert speaker_normalising(EnsemblePredictor([plain, normed], "mean")) == [normed]
    assert speaker_normalising(plain) == []

    loud, quiet = _voice(1, clips=3), _voice(2, clips=3) * 0.05  # two speakers, one 26 dB quieter
    lengths = torch.full((3,), loud.shape[1])
    statistics = SplitSpeakers([normed])
    statistics.add((loud, lengths), ["c/loud"] * 3, "waveform")
    statistics.add((quiet, lengths), ["c/quiet"] * 3, "waveform")
    statistics.finish()
    mixed = torch.cat([loud[:2], quiet[:2]])
    statistics.select(["c/loud", "c/loud", "c/quiet", "c/quiet"])
    rows = normed.predict_logits(mixed, torch.full((4,), loud.shape[1]))
    for speaker, audio in (("c/loud", loud[:2]), ("c/quiet", quiet[:2])):
        normed.speaker_stats = statistics.tables[0][speaker]  # one speaker for a whole batch (predict.py)
        expected = normed.predict_logits(audio, lengths[:2])
        torch.testing.assert_close(rows[:2] if speaker == "c/loud" else rows[2:], expected)
    statistics.clear()
    assert normed.speaker_stats is None
    assert (normed.predict_logits(quiet[:2], lengths[:2]) - rows[2:]).abs().max() > 1e-3  # population: other logits
