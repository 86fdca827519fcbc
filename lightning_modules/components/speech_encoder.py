"""Wav2Vec2 / WavLM / HuBERT utterance classifier over a transformers ``AutoModel``.

The encoder is loaded by hub name (``microsoft/wavlm-base-plus``) or by local folder through the
same call, so tests exercise the production path with tiny models saved by ``save_pretrained``.
Offline mode is respected: ``HF_HUB_OFFLINE=1`` (or ``local_files_only``) never touches the network.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn
from transformers import AutoConfig, AutoModel

from data_preparation.shards.shard_format import SAMPLE_RATE
from lightning_modules.components.base import EmotionNetwork
from lightning_modules.components.pooling import build_pooling, frame_mask
from lightning_modules.components.registry import register_network
from lightning_modules.hub_weights import HubWeights, offline_requested, require_weights, transformers_weights

NETWORK = "lightning_modules.components.speech_encoder.SpeechEncoderClassifier"


def load_encoder(
    model_name: str, pretrained: bool, cache_dir: str | None, local_files_only: bool | None,
    encoder_config: dict | None = None, **overrides: object,
) -> nn.Module:
    """The transformers encoder called ``model_name`` (hub name or folder), config ``overrides`` applied.

    ``pretrained=False`` builds the architecture from its config with random weights (for tests
    and ablations); the config itself is still read by name or path, unless ``encoder_config``
    (a ``config.to_dict()``) is given: then nothing is read at all (checkpoints use this). A hub name
    that is not cached while the hub is unreachable is one MissingWeightsError (hub_weights.py), not
    transformers' retries and traceback.
    """
    if encoder_config is not None and not pretrained:
        config = AutoConfig.for_model(**{**encoder_config, **overrides})
        return AutoModel.from_config(config)
    args = {"model_name": model_name, "pretrained": pretrained, "cache_dir": cache_dir}
    require_weights(transformers_weights(args, NETWORK, "model.net.init_args"))
    offline = offline_requested() if local_files_only is None else local_files_only
    config = AutoConfig.from_pretrained(model_name, cache_dir=cache_dir, local_files_only=offline, **overrides)
    if not pretrained:
        return AutoModel.from_config(config)
    return AutoModel.from_pretrained(model_name, config=config, cache_dir=cache_dir, local_files_only=offline)


class WeightedLayerSum(nn.Module):
    """A learned softmax-weighted sum of every hidden layer (SUPERB style): layers are [L] x [B, T, D].

    The same computation as transformers' ``use_weighted_layer_sum`` (softmax over ``layer_weights``,
    one weight per hidden state including the embedding output), so ``weights`` maps onto it one to one.
    """

    def __init__(self, num_layers: int) -> None:
        super().__init__()
        self.weights = nn.Parameter(torch.zeros(num_layers))

    def forward(self, layers: tuple[Tensor, ...]) -> Tensor:
        stacked = torch.stack(layers, dim=0)
        weights = torch.softmax(self.weights, dim=0).to(stacked.dtype)
        return (weights[:, None, None, None] * stacked).sum(dim=0)


HEADS = ("mlp", "linear")


def check_head(head: str, pooling: str) -> None:
    """Reject an unknown head, or the linear head over a pooling transformers' native head cannot express."""
    if head not in HEADS:
        raise ValueError(f"head={head!r}: expected one of {list(HEADS)}")
    if head == "linear" and pooling != "mean":
        raise ValueError(f"head='linear' needs pooling='mean' (transformers' native head), got pooling={pooling!r}")


def build_head(head: str, pooling: str, in_dim: int, hidden: int, num_classes: int, dropout: float) -> nn.Sequential:
    """The classification head called ``head`` over pooled ``in_dim`` features.

    ``mlp``: Dropout, Linear, GELU, Dropout, Linear. ``linear``: Dropout, Linear, Linear, the head of
    transformers' ``*ForSequenceClassification`` (projector, then classifier; mean pooling commutes with
    the affine projector, so pooling first gives the same logits) and so exportable as a native folder.
    """
    check_head(head, pooling)
    if head == "linear":
        return nn.Sequential(nn.Dropout(dropout), nn.Linear(in_dim, hidden), nn.Linear(hidden, num_classes))
    return nn.Sequential(
        nn.Dropout(dropout), nn.Linear(in_dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, num_classes),
    )


@register_network("speech_encoder", source="hf")
class SpeechEncoderClassifier(EmotionNetwork):
    """Raw 16 kHz waveform -> transformer encoder -> pooled valid frames -> small head -> logits.

    ``trainable_layers``: fine-tune only the last N transformer layers (None: all of them).
    ``encoder_config``: build the encoder from this config dict instead of reading ``model_name``
    (with ``pretrained=False``); checkpoints store it, so loading one needs no hub access.
    ``freeze_feature_encoder``: keep the convolutional waveform encoder fixed, as seed 000 and
    the transformers fine-tuning recipes do. ``normalize``: zero-mean unit-variance per
    utterance over its valid samples, what the models' feature extractors do before training.
    ``head``: ``mlp`` or ``linear``, transformers' AutoModelForAudioClassification head (seed 000's),
    which exports to a native transformers folder (see ``build_head``).
    """

    def __init__(
        self,
        num_classes: int,
        model_name: str = "microsoft/wavlm-base-plus",
        pretrained: bool = True,
        cache_dir: str | None = None,
        local_files_only: bool | None = None,
        pooling: str = "mean",
        weighted_layers: bool = False,
        head_hidden: int = 256,
        head: str = "mlp",
        dropout: float = 0.1,
        freeze_feature_encoder: bool = True,
        trainable_layers: int | None = None,
        gradient_checkpointing: bool = False,
        normalize: bool = True,
        layerdrop: float = 0.0,
        mask_time_prob: float | None = None,
        encoder_config: dict | None = None,
    ) -> None:
        super().__init__()
        check_head(head, pooling)  # before the encoder is loaded, so a bad setting fails fast
        overrides: dict[str, object] = {"layerdrop": layerdrop}  # layerdrop > 0 breaks DDP (unused params)
        if mask_time_prob is not None:
            overrides["mask_time_prob"] = mask_time_prob
        self.encoder = load_encoder(model_name, pretrained, cache_dir, local_files_only, encoder_config, **overrides)
        self.encoder.train()  # from_pretrained returns eval mode, and Lightning keeps each module's mode
        self.sample_rate = SAMPLE_RATE  # the preparation default until bind_sample_rate gives the data's
        self.normalize = normalize
        hidden = self.encoder.config.hidden_size
        num_layers = self.encoder.config.num_hidden_layers
        self.layer_sum = WeightedLayerSum(num_layers + 1) if weighted_layers else None
        self.pooling = build_pooling(pooling, hidden)
        self.head_type = head
        self.head = build_head(head, pooling, self.pooling.out_dim, head_hidden, num_classes, dropout)
        self._freeze(freeze_feature_encoder, trainable_layers, num_layers)
        if gradient_checkpointing:  # renamed in transformers 5.2x; the GPU image may have the old name only
            enable = getattr(self.encoder, "activation_checkpointing_enable", None)
            (enable or self.encoder.gradient_checkpointing_enable)()

    def _freeze(self, feature_encoder: bool, trainable_layers: int | None, num_layers: int) -> None:
        """Freeze the CNN feature encoder and every transformer layer but the last ``trainable_layers``."""
        if trainable_layers is not None:
            if not 0 <= trainable_layers <= num_layers:
                raise ValueError(f"trainable_layers={trainable_layers}: the encoder has {num_layers} layers")
            self.encoder.requires_grad_(False)
            for layer in self.encoder.encoder.layers[num_layers - trainable_layers:]:
                layer.requires_grad_(True)
        if feature_encoder:
            self.encoder.feature_extractor.requires_grad_(False)

    @classmethod
    def hub_weights(cls, args: Mapping[str, Any], key: str) -> list[HubWeights]:
        """The hub files ``cls(**args)`` reads (lightning_modules/hub_weights.py)."""
        return transformers_weights(args, NETWORK, key)

    def use_sample_rate(self, sample_rate: int) -> None:
        """Record the data's rate (bind_sample_rate), which export writes into the feature extractor's config."""
        self.sample_rate = sample_rate

    def checkpoint_init_args(self) -> dict[str, object]:
        """Init args that rebuild this network with no hub or folder access (weights come from the checkpoint)."""
        return {"pretrained": False, "encoder_config": self.encoder.config.to_dict()}

    def encoder_parameters(self) -> list[nn.Parameter]:
        """Parameters of the pretrained encoder (trained at the smaller encoder learning rate)."""
        return list(self.encoder.parameters())

    def _normalize(self, audio: Tensor, mask: Tensor) -> Tensor:
        weights = mask.to(audio.dtype)
        count = weights.sum(dim=1, keepdim=True).clamp_min(1.0)
        mean = (audio * weights).sum(dim=1, keepdim=True) / count
        var = (((audio - mean) * weights) ** 2).sum(dim=1, keepdim=True) / count
        return (audio - mean) / (var + 1e-7).sqrt() * weights

    def forward(self, audio: Tensor, lengths: Tensor) -> Tensor:
        """audio [B, T] float at 16 kHz, lengths [B] valid samples -> logits [B, num_classes]."""
        sample_mask = frame_mask(lengths, audio.shape[1])
        if self.normalize:
            audio = self._normalize(audio, sample_mask)
        # Models with group-norm feature encoders (wav2vec2-base, hubert-base) were trained on
        # zero-padded batches without an attention mask; transformers warns against passing one.
        use_mask = getattr(self.encoder.config, "feat_extract_norm", "layer") == "layer"
        output = self.encoder(
            audio, attention_mask=sample_mask.long() if use_mask else None,
            output_hidden_states=self.layer_sum is not None,
        )
        frames = self.layer_sum(output.hidden_states) if self.layer_sum is not None else output.last_hidden_state
        frame_lengths = self.encoder._get_feat_extract_output_lengths(lengths).clamp(1, frames.shape[1])
        pooled = self.pooling(frames, frame_mask(frame_lengths, frames.shape[1]))
        return self.head(pooled)
