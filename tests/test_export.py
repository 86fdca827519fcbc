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

import export_model
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
    check = check_onnx(export_onnx(network, tmp_path / "m.onnx", NAMES), network)
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
