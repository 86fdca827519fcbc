"""Logit collection over real shards, taxonomy checks and class mappings, with a stand-in model."""
import io
import json
import tarfile

import numpy as np
import pytest
import torch

from data_preparation.input_contract import InputOverrides
from data_preparation.shards.shard_format import STATS_FILE
from prediction.split_logits import SplitLogits, collect_logits
from evaluation.report import build_report
from evaluation.taxonomy import TaxonomyMismatchError, resolve_class_mapping
from prediction.predictor import ModelPredictor
from tests.shard_factory import make_dataset, read_keys
from tests.standin_models import BandEnergyModel

NUM_CLASSES = 3


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("shards")
    make_dataset(root, num_classes=NUM_CLASSES, per_class={"val": 4, "test": 4}, seconds=(0.5, 1.0))
    return root


def oracle(class_names=None) -> ModelPredictor:
    names = class_names or [f"class{c}" for c in range(NUM_CLASSES)]
    return ModelPredictor(BandEnergyModel(NUM_CLASSES), names)


def test_every_sample_once_with_its_label_and_corpus(dataset):
    logits = collect_logits({"oracle": oracle()}, dataset, "test", batch_size=5)
    assert sorted(logits.keys) == sorted(read_keys(dataset, "test"))
    assert len(set(logits.keys)) == len(logits.keys) == 4 * NUM_CLASSES
    assert logits.logits["oracle"].shape == (12, NUM_CLASSES)
    assert set(logits.corpora) == {"synth_a", "synth_b"}
    report = build_report(logits.labels, logits.logits["oracle"], logits.class_names, logits.corpora)
    assert report["classification_report"]["accuracy"] >= 0.9  # chance is 1/3
    assert logits.skipped == [] and logits.excluded == {}


def test_reordered_classes_are_aligned_by_name(dataset):
    """A model whose classes are the data's in another order scores the same after reordering."""
    plain = collect_logits({"m": oracle()}, dataset, "val")

    class Reversed(torch.nn.Module):
        def forward(self, audio, lengths):
            return BandEnergyModel(NUM_CLASSES)(audio, lengths).flip(1)

    names = [f"class{c}" for c in reversed(range(NUM_CLASSES))]
    reordered = collect_logits({"m": ModelPredictor(Reversed(), names)}, dataset, "val")
    np.testing.assert_allclose(reordered.logits["m"], plain.logits["m"], rtol=1e-6)


def test_other_taxonomy_fails_naming_the_classes(dataset):
    names = ["class0", "class1", "boredom"]
    with pytest.raises(TaxonomyMismatchError, match=r"only in the model: \['boredom'\]; only in the data: \['class2'\]"):
        collect_logits({"m": oracle(names)}, dataset, "test")


def test_declared_mapping_maps_merges_and_drops(dataset):
    names = ["anger", "joy", "sad"]
    mapping = {"anger": "class0", "joy": "class1", "sad": "class2"}
    renamed = collect_logits({"m": oracle(names)}, dataset, "test", class_mapping=mapping)
    plain = collect_logits({"m": oracle()}, dataset, "test")
    np.testing.assert_allclose(renamed.logits["m"], plain.logits["m"], rtol=1e-6)
    # Merging two model classes into one data class adds their probabilities; class2 becomes unreachable.
    merged = resolve_class_mapping(names, ["class0", "class1", "class2"], {"anger": "class0", "joy": "class0", "sad": None})
    assert merged.sources == [[0, 1], [], []] and merged.dropped_model_classes == ["sad"]
    logits = torch.tensor([[1.0, 2.0, 5.0]])
    probs = torch.softmax(merged.apply(logits), dim=1)
    assert probs[0, 0].item() == pytest.approx(1.0) and probs[0, 1].item() == 0.0
    partial = collect_logits({"m": oracle(names)}, dataset, "test",
                             class_mapping={"anger": "class0", "joy": "class1", "sad": None})
    assert partial.excluded == {"class2": 4} and len(partial.keys) == 8


def test_mapping_to_unknown_class_is_an_error(dataset):
    with pytest.raises(TaxonomyMismatchError, match="'joy' maps to 'happy'"):
        collect_logits({"m": oracle(["class0", "joy", "class2"])}, dataset, "test", class_mapping={"joy": "happy"})


def test_corrupt_sample_is_counted_not_fatal(tmp_path):
    make_dataset(tmp_path, num_classes=NUM_CLASSES, per_class={"test": 2}, shards_per_split=1, seconds=(0.5, 0.6))
    info = json.loads((tmp_path / STATS_FILE).read_text())
    shard = tmp_path / info["splits"]["test"]["shards"][0]
    with tarfile.open(shard, "a") as tar:
        for name, data in (("broken.json", json.dumps({"label": "class0", "corpus": "x"}).encode()),
                           ("broken.flac", b"not a flac file")):
            member = tarfile.TarInfo(name)
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    logits = collect_logits({"m": oracle()}, tmp_path, "test")
    assert len(logits.keys) == 2 * NUM_CLASSES
    assert [s["key"] for s in logits.skipped] == ["broken"]
    assert "Error" in logits.skipped[0]["reason"]


def test_split_logits_round_trip(dataset, tmp_path):
    logits = collect_logits({"a": oracle(), "b": oracle()}, dataset, "val")
    again = SplitLogits.load(logits.save(tmp_path / "val.npz"))
    assert again.keys == logits.keys and again.class_names == logits.class_names
    np.testing.assert_array_equal(again.logits["b"], logits.logits["b"])
    np.testing.assert_array_equal(again.labels, logits.labels)


def test_unknown_split_names_the_available_ones(dataset):
    with pytest.raises(ValueError, match=r"split 'train' is not in .*\['test', 'val'\]"):
        collect_logits({"m": oracle()}, dataset, "train")


def test_pad_to_seconds_makes_scores_independent_of_batching(dataset):
    """The stand-in's FFT sees padding, like a CNN trained on fixed-length clips: fixed padding fixes it."""
    def run(batch_size, pad_to_seconds):
        overrides = InputOverrides(pad_to_seconds=pad_to_seconds)
        return collect_logits({"m": oracle()}, dataset, "test", batch_size, overrides).logits["m"]

    np.testing.assert_allclose(run(1, 1.0), run(5, 1.0), rtol=1e-5, atol=1e-5)
    assert np.abs(run(1, None) - run(5, None)).max() > 1e-3
