"""Export: transformers folders the audio-classification pipeline loads, and ONNX checked in ONNX Runtime.

Tolerances: pipeline probabilities within 1e-5 of the checkpoint's (the same float32 graph, so
in practice they are equal); ONNX logits within atol 1e-4 + rtol 1e-3 of PyTorch's, on inputs of
other batch sizes and lengths than the export example.
"""
import json

import numpy as np
import pytest
import torch
import torchaudio

from export import command as export_model
from export.dft_spectrogram import DftSpectrogram
from export.hf_folder import export_hf_folder
from export.onnx_export import OnnxMismatchError, check_onnx, export_onnx
from lightning_modules.components.speech_encoder import SpeechEncoderClassifier
from lightning_modules.components.timm_image import TimmImageClassifier
from prediction.predictor import load_predictor
from tests.tiny_models import save_tiny_encoder
from tests.trained_models import session_base, trained_checkpoint

NAMES = ["anger", "happy", "neutral", "sad"]


def test_dft_spectrogram_matches_torchaudio():
    source = torchaudio.transforms.Spectrogram(n_fft=512, win_length=400, hop_length=160, power=2.0)
    audio = torch.randn(2, 3, 7_777)
    expected = source(audio)
    actual = DftSpectrogram(source)(audio)
    assert actual.shape == expected.shape
    assert (actual - expected).abs().max() <= 1e-5 * expected.abs().max()


@pytest.mark.slow  # trains tiny checkpoints through train.py (memoised per session)
def test_checkpoint_exports_to_pipeline_and_onnx(tmp_path_factory, tmp_path):
    from transformers import pipeline

    checkpoint = trained_checkpoint(session_base(tmp_path_factory), "wavlm")
    summary = export_model.main(["--model", str(checkpoint), "--output_dir", str(tmp_path / "out")])
    assert summary["hf"]["max_probability_diff"] <= 1e-5 and summary["onnx"]["max_abs_diff"] <= 1e-3
    assert json.loads((tmp_path / "out" / "export.json").read_text())["class_names"] == summary["class_names"]
    card = (tmp_path / "out" / "hf" / "README.md").read_text()
    report = json.loads((checkpoint.parent.parent / "reports" / "test" / "report.json").read_text())
    accuracy = report["classification_report"]["accuracy"]
    assert card.startswith("---\nlibrary_name: transformers\npipeline_tag: audio-classification\n")
    assert ", ".join(f"`{i}: {n}`" for i, n in enumerate(summary["class_names"])) in card
    assert "16000 Hz, 1.2 s clips, zero padding, center crop, waveform" in card  # the checkpoint's contract
    assert f"On the test split ({report['num_samples']} clips" in card and f"| {accuracy:.4f} |" in card
    assert "| train | 32 |" in card and "## Intended use and limits" in card  # stats.json's training split

    classifier = pipeline("audio-classification", model=str(tmp_path / "out" / "hf"), trust_remote_code=True)
    predictor = load_predictor(checkpoint)
    audio = np.random.default_rng(1).normal(0, 0.1, 27_000).astype(np.float32)
    rows = classifier(audio, top_k=None)
    expected = torch.softmax(predictor.predict_logits(torch.from_numpy(audio)[None], torch.tensor([27_000])), -1)[0]
    got = {row["label"]: row["score"] for row in rows}
    assert set(got) == set(predictor.class_names)
    np.testing.assert_allclose([got[n] for n in predictor.class_names], expected.numpy(), atol=1e-5)
    assert rows[0]["label"] == predictor.class_names[int(expected.argmax())]


@pytest.mark.parametrize("family, options", [("wav2vec2", {"pooling": "attentive", "weighted_layers": True}),
                                             ("hubert", {})])
def test_other_speech_encoders_and_heads_export(family, options, tmp_path):
    torch.manual_seed(0)
    network = SpeechEncoderClassifier(4, model_name=str(save_tiny_encoder(family, tmp_path)), head_hidden=16,
                                      **options).eval()
    from transformers import pipeline

    folder = export_hf_folder(network, NAMES, tmp_path / "hf")
    audio = np.random.default_rng(0).normal(0, 0.1, 12_000).astype(np.float32)
    got = {r["label"]: r["score"] for r in pipeline("audio-classification", model=str(folder),
                                                    trust_remote_code=True)(audio, top_k=None)}
    with torch.no_grad():
        expected = torch.softmax(network(torch.from_numpy(audio)[None], torch.tensor([12_000])), -1)[0].numpy()
    np.testing.assert_allclose([got[n] for n in NAMES], expected, atol=1e-5)
    # the legacy TorchScript exporter here (dynamo has the other families); both must hold
    check = check_onnx(export_onnx(network, tmp_path / "m.onnx", NAMES, exporter="legacy"), network)
    assert check.max_abs_diff <= 1e-3


@pytest.mark.slow  # trains tiny checkpoints through train.py (memoised per session)
def test_spectrogram_cnn_checkpoint_exports_to_onnx_only(tmp_path_factory, tmp_path):
    import onnx

    checkpoint = trained_checkpoint(session_base(tmp_path_factory), "small_cnn")
    with pytest.raises(TypeError, match="SmallCNN is not a speech-encoder classifier"):
        export_model.main(["--model", str(checkpoint), "--output_dir", str(tmp_path / "x"), "--formats", '["hf"]'])
    summary = export_model.main(["--model", str(checkpoint), "--output_dir", str(tmp_path / "o"),
                                 "--formats", '["onnx"]'])
    model = onnx.load(summary["onnx"]["path"])
    metadata = {p.key: p.value for p in model.metadata_props}
    assert json.loads(metadata["class_names"]) == ["class0", "class1", "class2", "class3"]
    assert [tuple(shape) for shape in summary["onnx"]["shapes"]] == [(1, 24_000), (3, 40_000)]
    assert summary["onnx"]["max_abs_diff"] <= 1e-3


def test_timm_image_model_exports_and_a_wrong_network_fails_the_check(tmp_path):
    torch.manual_seed(0)
    network = TimmImageClassifier(4, model_name="test_efficientnet", pretrained=False, image_size=64).eval()
    path = export_onnx(network, tmp_path / "image.onnx", NAMES)
    assert check_onnx(path, network, shapes=((2, 20_000),)).max_abs_diff <= 1e-3
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    with pytest.raises(OnnxMismatchError, match="differ from PyTorch"):
        check_onnx(path, network, shapes=((2, 20_000),))


NATIVE_CASES = {  # WavLM with a layer-norm feature encoder (attention mask) and the weighted layer sum
    "wavlm": ({"feat_extract_norm": "layer"}, {"weighted_layers": True}),
    "wav2vec2": ({}, {}),
    "hubert": ({}, {"normalize": False}),
}
PIPELINE_SCRIPT = """
import json, sys
import numpy as np
from transformers import pipeline
result = {}
for folder in sys.argv[2:]:
    classifier = pipeline("audio-classification", model=folder)
    result[folder] = {"class": type(classifier.model).__name__,
                      "scores": [{r["label"]: r["score"] for r in classifier(clip, top_k=None)}
                                 for clip in np.load(sys.argv[1]).values()]}
print(json.dumps(result))
"""


def test_linear_head_exports_native_folders_plain_pipeline_loads(tmp_path):
    import subprocess
    import sys

    from export.hf_folder import check_hf_folder

    rng = np.random.default_rng(3)
    clips = {"short": rng.normal(0, 0.1, 9_000).astype(np.float32),
             "long": (0.3 + rng.normal(0, 0.2, 21_000)).astype(np.float32)}
    np.savez(tmp_path / "clips.npz", **clips)
    expected, folders = {}, {}
    for family, (encoder_options, options) in NATIVE_CASES.items():
        torch.manual_seed(0)
        encoder = save_tiny_encoder(family, tmp_path / family, **encoder_options)
        network = SpeechEncoderClassifier(4, model_name=str(encoder), head="linear", head_hidden=16, **options).eval()
        if network.layer_sum is not None:  # away from uniform, so a wrong layer mapping shows
            network.layer_sum.weights.data.copy_(torch.arange(3.0))
        folders[family] = export_hf_folder(network, NAMES, tmp_path / family / "hf")
        assert not (folders[family] / "modeling_ser.py").exists()
        assert "auto_map" not in json.loads((folders[family] / "config.json").read_text())
        with torch.no_grad():
            expected[family] = [torch.softmax(network(torch.from_numpy(c)[None], torch.tensor([len(c)])), -1)[0].numpy()
                                for c in clips.values()]
        assert check_hf_folder(folders[family], network, NAMES) <= 1e-5
    # A fresh interpreter: nothing registered, no trust_remote_code, only the folders.
    output = subprocess.run([sys.executable, "-c", PIPELINE_SCRIPT, str(tmp_path / "clips.npz"),
                             *map(str, folders.values())], capture_output=True, text=True, check=True).stdout
    loaded = json.loads(output.strip().splitlines()[-1])
    for family, folder in folders.items():
        assert loaded[str(folder)]["class"].lower() == f"{family}forsequenceclassification"
        for scores, probabilities in zip(loaded[str(folder)]["scores"], expected[family]):
            np.testing.assert_allclose([scores[n] for n in NAMES], probabilities, atol=1e-5, rtol=0)


def test_linear_head_needs_mean_pooling(tmp_path):
    with pytest.raises(ValueError, match="head='linear' needs pooling='mean'.*pooling='attentive'"):
        SpeechEncoderClassifier(4, model_name=str(tmp_path / "never-read"), head="linear", pooling="attentive")
    with pytest.raises(ValueError, match="head='deep'"):
        SpeechEncoderClassifier(4, model_name=str(tmp_path / "never-read"), head="deep")
