"""Export a fine-tuned speech-encoder checkpoint as a transformers model folder.

A network with the ``linear`` head and mean pooling is exactly transformers' own
``WavLMForSequenceClassification`` (or Wav2Vec2 / HuBERT): it exports as a NATIVE folder that
anyone loads with plain ``pipeline("audio-classification", model=FOLDER)``, no custom code. Its
preprocessor_config.json is a Wav2Vec2FeatureExtractor that normalises each utterance as the
network does (``do_normalize=network.normalize``).

The ``mlp`` and attentive-pooling heads have no transformers class, so they export as a
custom-code folder that needs ``trust_remote_code=True``. That folder holds config.json (id2label/label2id, the encoder's config, the head's shape, and an
``auto_map`` to the bundled ``modeling_ser.py``), model.safetensors and preprocessor_config.json
(a Wav2Vec2FeatureExtractor at the checkpoint's sample rate, without normalisation: the model normalises each utterance
itself, exactly as in training). Anyone can then run::

    pipeline("audio-classification", model=FOLDER, trust_remote_code=True)

and, in a process that called ``register_auto_classes()``, without ``trust_remote_code``.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Sequence

from torch import nn

from data_preparation.shards.shard_format import SAMPLE_RATE
from export import hf_modeling
from export.hf_modeling import MODEL_TYPE, SERSpeechClassifier, SERSpeechClassifierConfig

REMOTE_CODE_FILE = "modeling_ser.py"
HEAD_KEYS = {"layer_sum.weights": "layer_weights", "head.1.weight": "projector.weight", "head.1.bias": "projector.bias",
             "head.2.weight": "classifier.weight", "head.2.bias": "classifier.bias"}


def register_auto_classes() -> None:
    """Let AutoConfig / AutoModelForAudioClassification resolve the exported type in this process."""
    from transformers import AutoConfig, AutoModelForAudioClassification

    try:
        AutoConfig.register(MODEL_TYPE, SERSpeechClassifierConfig)
        AutoModelForAudioClassification.register(SERSpeechClassifierConfig, SERSpeechClassifier)
    except ValueError:  # already registered in this process
        pass


def _head_settings(network: nn.Module) -> dict:
    """The head's shape read off a SpeechEncoderClassifier, so the exported class rebuilds it exactly."""
    missing = [name for name in ("encoder", "pooling", "head") if not hasattr(network, name)]
    if missing:
        raise TypeError(f"{type(network).__name__} is not a speech-encoder classifier (no {missing}); "
                        "only Wav2Vec2 / WavLM / HuBERT networks export to a transformers folder, use ONNX for others")
    attention = getattr(network.pooling, "attention", None)
    pooling = "attentive" if attention is not None else "mean"
    linear_in, linear_out = network.head[1], network.head[-1]
    dropout = next((m.p for m in network.head if isinstance(m, nn.Dropout)), 0.0)
    return {
        "pooling": pooling, "weighted_layers": getattr(network, "layer_sum", None) is not None,
        "head_hidden": linear_in.out_features, "dropout": dropout, "normalize": bool(network.normalize),
        "attention_hidden": attention[0].out_features if attention is not None else 128,
        "num_classes": linear_out.out_features,
    }


def is_native(network: nn.Module) -> bool:
    """True when ``network``'s head is transformers' own (the linear head, which implies mean pooling)."""
    return getattr(network, "head_type", "mlp") == "linear"


def _native_state_dict(network: nn.Module, prefix: str) -> dict:
    """The network's weights under transformers' names: encoder.* -> ``prefix``.*, head -> projector/classifier."""
    renamed = {}
    for key, value in network.state_dict().items():
        if key.startswith("encoder."):
            renamed[f"{prefix}.{key[len('encoder.'):]}"] = value
        elif key in HEAD_KEYS:
            renamed[HEAD_KEYS[key]] = value
        else:
            raise RuntimeError(f"network weight {key!r} has no place in transformers' audio-classification model")
    return renamed


def export_native_folder(network: nn.Module, class_names: Sequence[str], folder: str | Path,
                         sample_rate: int = SAMPLE_RATE) -> Path:
    """Write a linear-head network as transformers' own *ForSequenceClassification folder (no remote code)."""
    from transformers import AutoModelForAudioClassification, Wav2Vec2FeatureExtractor

    encoder_config = network.encoder.config
    config = type(encoder_config).from_dict({
        **encoder_config.to_dict(), "id2label": dict(enumerate(class_names)),
        "label2id": {name: index for index, name in enumerate(class_names)},
        "classifier_proj_size": network.head[1].out_features, "use_weighted_layer_sum": network.layer_sum is not None,
    })
    model = AutoModelForAudioClassification.from_config(config)
    model.load_state_dict(_native_state_dict(network, model.base_model_prefix), strict=True)
    folder = Path(folder)
    model.eval().save_pretrained(folder)
    # Group-norm encoders (wav2vec2-base, hubert-base) take no attention mask, as in training.
    Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=sample_rate, padding_value=0.0,
                             do_normalize=bool(network.normalize),
                             return_attention_mask=getattr(encoder_config, "feat_extract_norm", "layer") == "layer",
                             ).save_pretrained(folder)
    return folder


def export_hf_folder(network: nn.Module, class_names: Sequence[str], folder: str | Path,
                     sample_rate: int = SAMPLE_RATE) -> Path:
    """Write ``network`` (a trained SpeechEncoderClassifier) as a transformers audio-classification folder.

    Native (plain ``pipeline``) for the linear head with mean pooling; otherwise custom code that
    needs ``trust_remote_code=True``.
    """
    from transformers import Wav2Vec2FeatureExtractor

    settings = _head_settings(network)
    if settings.pop("num_classes") != len(class_names):
        raise ValueError(f"the network has {network.head[-1].out_features} outputs for {len(class_names)} classes")
    if is_native(network):
        return export_native_folder(network, class_names, folder, sample_rate)
    encoder_config = network.encoder.config.to_dict()
    config = SERSpeechClassifierConfig(
        encoder=encoder_config, id2label=dict(enumerate(class_names)),
        label2id={name: index for index, name in enumerate(class_names)}, **settings,
    )
    config.auto_map = {"AutoConfig": f"{REMOTE_CODE_FILE[:-3]}.SERSpeechClassifierConfig",
                       "AutoModelForAudioClassification": f"{REMOTE_CODE_FILE[:-3]}.SERSpeechClassifier"}
    config.architectures = ["SERSpeechClassifier"]
    model = SERSpeechClassifier(config)
    missing, unexpected = model.load_state_dict(network.state_dict(), strict=False)
    if missing or unexpected:
        raise RuntimeError(f"exported model does not match the network: missing {missing}, unexpected {unexpected}")
    folder = Path(folder)
    model.eval().save_pretrained(folder)
    Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=sample_rate, padding_value=0.0, do_normalize=False,
                             return_attention_mask=True).save_pretrained(folder)
    shutil.copyfile(hf_modeling.__file__, folder / REMOTE_CODE_FILE)
    return folder


def check_hf_folder(folder: str | Path, network: nn.Module, class_names: Sequence[str], seconds: Sequence[float] = (1.3, 2.0),
                    atol: float = 1e-5, seed: int = 0, sample_rate: int = SAMPLE_RATE) -> float:
    """Largest |probability difference| between the transformers pipeline on ``folder`` and ``network``.

    Raises RuntimeError beyond ``atol``: the folder would not reproduce the checkpoint. Native folders
    are loaded without ``trust_remote_code``, as their users will.
    """
    import numpy as np
    import torch
    from transformers import pipeline

    remote = (Path(folder) / REMOTE_CODE_FILE).exists()
    classifier = pipeline("audio-classification", model=str(folder), trust_remote_code=remote, device="cpu")
    rng = np.random.default_rng(seed)
    worst = 0.0
    for duration in seconds:
        audio = rng.normal(0.0, 0.1, int(duration * sample_rate)).astype(np.float32)
        scores = {row["label"]: row["score"] for row in classifier(audio, top_k=None)}
        with torch.inference_mode():
            device = next(network.parameters()).device
            logits = network.eval()(torch.from_numpy(audio)[None].to(device), torch.tensor([len(audio)], device=device))
        expected = torch.softmax(logits.float(), dim=-1)[0].cpu().numpy()
        worst = max(worst, float(np.abs(np.array([scores[name] for name in class_names]) - expected).max()))
    if worst > atol:
        raise RuntimeError(f"{folder}: pipeline probabilities differ from the checkpoint's by {worst:.3g} (> {atol:g})")
    return worst
