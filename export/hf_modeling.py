"""A transformers model class for the toolkit's speech-encoder classifiers (Wav2Vec2, WavLM, HuBERT).

This file is copied verbatim into every exported folder as ``modeling_ser.py`` and named in the
folder's ``config.json`` ``auto_map``, so it must import nothing but torch and transformers.

Why not ``WavLMForSequenceClassification``: the toolkit's head is pooled-frames -> Linear -> GELU ->
Linear, with optional attentive pooling and a learned layer sum; transformers' head is
Linear -> mean -> Linear, which cannot express the GELU. This class rebuilds the exact network
(module names match the training network's, so its state dict loads unchanged) on top of the
encoder that ``AutoModel`` builds from the stored encoder config.
"""
from __future__ import annotations

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput

MODEL_TYPE = "ser_speech_classifier"


class SERSpeechClassifierConfig(PretrainedConfig):
    """Encoder config (a dict with its ``model_type``) plus the head's shape; labels in id2label."""

    model_type = MODEL_TYPE

    def __init__(self, encoder: dict | None = None, pooling: str = "mean", weighted_layers: bool = False,
                 head_hidden: int = 256, dropout: float = 0.1, normalize: bool = True,
                 attention_hidden: int = 128, **kwargs) -> None:
        super().__init__(**kwargs)
        self.encoder = dict(encoder or {})
        self.pooling, self.weighted_layers, self.head_hidden = pooling, weighted_layers, head_hidden
        self.dropout, self.normalize, self.attention_hidden = dropout, normalize, attention_hidden


def _frame_mask(lengths: torch.Tensor, frames: int) -> torch.Tensor:
    return torch.arange(frames, device=lengths.device)[None, :] < lengths[:, None]


class _LayerSum(nn.Module):
    def __init__(self, num_layers: int) -> None:
        super().__init__()
        self.weights = nn.Parameter(torch.zeros(num_layers))

    def forward(self, layers: tuple[torch.Tensor, ...]) -> torch.Tensor:
        stacked = torch.stack(layers, dim=0)
        weights = torch.softmax(self.weights, dim=0).to(stacked.dtype)
        return (weights[:, None, None, None] * stacked).sum(dim=0)


class _Pooling(nn.Module):
    """Masked mean, or attentive statistics (mean and std under learned frame weights)."""

    def __init__(self, kind: str, dim: int, hidden: int) -> None:
        super().__init__()
        self.kind = kind
        self.attention = (nn.Sequential(nn.Linear(dim, hidden), nn.Tanh(), nn.Linear(hidden, 1))
                          if kind == "attentive" else None)
        self.out_dim = 2 * dim if kind == "attentive" else dim

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.attention is None:
            weights = mask.to(x.dtype).unsqueeze(-1)
            return (x * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)
        scores = self.attention(x).squeeze(-1).float().masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=1).nan_to_num(0.0).to(x.dtype).unsqueeze(-1)
        mean = (weights * x).sum(dim=1)
        variance = (weights * (x - mean.unsqueeze(1)).pow(2)).sum(dim=1)
        return torch.cat([mean, variance.clamp_min(1e-8).sqrt()], dim=-1)


class SERSpeechClassifier(PreTrainedModel):
    """input_values [B, T] at 16 kHz (+ attention_mask) -> SequenceClassifierOutput(logits [B, num_labels])."""

    config_class = SERSpeechClassifierConfig
    base_model_prefix = "ser"
    main_input_name = "input_values"

    def __init__(self, config: SERSpeechClassifierConfig) -> None:
        super().__init__(config)
        encoder_config = AutoConfig.for_model(**config.encoder)
        self.encoder = AutoModel.from_config(encoder_config)
        hidden, layers = encoder_config.hidden_size, encoder_config.num_hidden_layers
        self.layer_sum = _LayerSum(layers + 1) if config.weighted_layers else None
        self.pooling = _Pooling(config.pooling, hidden, config.attention_hidden)
        self.head = nn.Sequential(
            nn.Dropout(config.dropout), nn.Linear(self.pooling.out_dim, config.head_hidden), nn.GELU(),
            nn.Dropout(config.dropout), nn.Linear(config.head_hidden, config.num_labels),
        )
        self.post_init()

    def _normalize(self, audio: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        weights = mask.to(audio.dtype)
        count = weights.sum(dim=1, keepdim=True).clamp_min(1.0)
        mean = (audio * weights).sum(dim=1, keepdim=True) / count
        var = (((audio - mean) * weights) ** 2).sum(dim=1, keepdim=True) / count
        return (audio - mean) / (var + 1e-7).sqrt() * weights

    def forward(self, input_values: torch.Tensor, attention_mask: torch.Tensor | None = None,
                labels: torch.Tensor | None = None, **kwargs) -> SequenceClassifierOutput:
        if attention_mask is None:
            lengths = torch.full((input_values.shape[0],), input_values.shape[1], device=input_values.device)
        else:
            lengths = attention_mask.sum(dim=1)
        sample_mask = _frame_mask(lengths, input_values.shape[1])
        audio = self._normalize(input_values, sample_mask) if self.config.normalize else input_values
        use_mask = getattr(self.encoder.config, "feat_extract_norm", "layer") == "layer"
        output = self.encoder(audio, attention_mask=sample_mask.long() if use_mask else None,
                              output_hidden_states=self.layer_sum is not None)
        frames = self.layer_sum(output.hidden_states) if self.layer_sum is not None else output.last_hidden_state
        frame_lengths = self.encoder._get_feat_extract_output_lengths(lengths).clamp(1, frames.shape[1])
        logits = self.head(self.pooling(frames, _frame_mask(frame_lengths, frames.shape[1])))
        loss = nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)
