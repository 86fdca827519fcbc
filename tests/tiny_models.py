"""Tiny randomly initialised speech encoders saved to a folder, loaded by path like a hub name.

No hub downloads here: the tests build WavLM / Wav2Vec2 / HuBERT from a config with two small
layers, ``save_pretrained`` them, and hand the folder to the same code that loads
``microsoft/wavlm-base-plus`` in production.
"""
from __future__ import annotations

from pathlib import Path

from transformers import HubertConfig, HubertModel, Wav2Vec2Config, Wav2Vec2Model, WavLMConfig, WavLMModel

FAMILIES = {
    "wavlm": (WavLMConfig, WavLMModel),
    "wav2vec2": (Wav2Vec2Config, Wav2Vec2Model),
    "hubert": (HubertConfig, HubertModel),
}

TINY = dict(
    hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
    conv_dim=(16, 16, 16), conv_stride=(5, 4, 4), conv_kernel=(10, 8, 8),  # hop 80 samples = 5 ms
    num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2, layerdrop=0.0,
    mask_time_length=2, mask_time_prob=0.05,
)


def save_tiny_encoder(family: str, folder: Path, **overrides: object) -> Path:
    """Build a two-layer ``family`` encoder ('wavlm', 'wav2vec2', 'hubert'), save it under ``folder``."""
    config_class, model_class = FAMILIES[family]
    config = config_class(**{**TINY, **overrides})
    if family == "wavlm":
        config.num_buckets, config.max_bucket_distance = 16, 64
    path = Path(folder) / f"tiny-{family}"
    model_class(config).save_pretrained(path)
    return path
