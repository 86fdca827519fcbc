"""The seeds' own networks: CNN heads, CNN-BLSTM(-attention) and two-branch fusion, over ConvEncoder.

* ``SeedCNN``: a conv encoder plus a dense head. Seed 000's CNNMFCCs / CNNMFCCsDelta(2) (table 6.1/6.2),
  seed 001's CNN-3/4/5 (table 3), seed 003's 1-D CNN on 27 frame-feature rows and 2-D CNN on log-mel
  (tables 2-4), seed 004's MFCC1 and MS (table 3) are each a config of it.
* ``CNNBiLSTM``: conv blocks, then an LSTM (bidirectional by default) over the conv map's columns
  (packed, so padding never enters the recurrence), then additive attention or a masked mean: seed 002's
  CNN-BLSTM with and without attention (its §3.3.3, table 8), its unidirectional CNN-LSTM
  (``bidirectional: false``) and seed 004's MFCC2. With a ``FrameSequence`` encoder (no conv blocks) it
  is seed 002's LSTM-only row and table 10's "No CNN" ablation.
* ``FusionClassifier``: concatenates branch embeddings (each branch has ``embed`` and ``out_dim``) under
  one head: seed 003's combined 1-D + 2-D model, seed 001's CNN + MLP (with ``StatsEncoder``).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from lightning_modules.components.base import EmotionNetwork
from lightning_modules.components.conv_encoder import ConvEncoder, build_activation, fill_invalid, valid_features
from lightning_modules.components.pooling import frame_mask, masked_mean
from lightning_modules.components.registry import register_network
from lightning_modules.components.small_cnn import PROBE_SAMPLES

HEAD_NORMS = ("none", "batch", "layer")


def dense_head(in_dim: int, hidden: Sequence[int], num_classes: int, activation: str, dropout: float,
               norm: str = "none") -> nn.Sequential:
    """[Linear -> norm -> activation -> dropout] per hidden width, then Linear to the classes."""
    if norm not in HEAD_NORMS:
        raise ValueError(f"head norm={norm!r}: expected one of {list(HEAD_NORMS)}")
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [nn.Linear(in_dim, width)]
        layers += [{"batch": nn.BatchNorm1d, "layer": nn.LayerNorm}[norm](width)] if norm != "none" else []
        layers += [build_activation(activation), nn.Dropout(dropout)]
        in_dim = width
    return nn.Sequential(*layers, nn.Linear(in_dim, num_classes))


class SeedCNN(EmotionNetwork):
    """waveform [B, T], lengths [B] -> ``encoder`` (a ConvEncoder) -> dense head -> logits [B, num_classes]."""

    def __init__(self, num_classes: int, encoder: nn.Module, hidden: Sequence[int] = (128,),
                 activation: str = "relu", dropout: float = 0.3, head_norm: str = "none") -> None:
        super().__init__()
        self.encoder = encoder
        self.head = dense_head(encoder.out_dim, hidden, num_classes, activation, dropout, head_norm)

    def encoder_parameters(self) -> list[nn.Parameter]:
        """The conv encoder (grouped so encoder_lr applies; nothing here is pretrained)."""
        return list(self.encoder.parameters())

    def forward(self, audio: Tensor, lengths: Tensor) -> Tensor:
        return self.head(self.encoder.embed(audio, lengths))

    def forward_features(self, features: Tensor, frame_lengths: Tensor) -> Tensor:
        """Precomputed features [B, (C,) F, frames] and valid frames [B] -> logits."""
        return self.head(self.encoder.embed_features(features, frame_lengths))


class AdditivePooling(nn.Module):
    """Attention-weighted mean of valid frames (Bahdanau scoring: v . tanh(W x)): [B, T, D] -> [B, D]."""

    def __init__(self, dim: int, attention_dim: int = 128) -> None:
        super().__init__()
        self.score = nn.Sequential(nn.Linear(dim, attention_dim), nn.Tanh(), nn.Linear(attention_dim, 1, bias=False))

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        scores = self.score(x).squeeze(-1).float().masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=1).nan_to_num(0.0).to(x.dtype)
        return (weights.unsqueeze(-1) * x).sum(dim=1)


class FrameSequence(nn.Module):
    """The front-end's frames as the LSTM's sequence, with no conv blocks: [B, frames, C x F] + valid [B].

    The encoder of seed 002's LSTM-only model (table 8, "LSTM") and of its "No CNN" ablation (table 10):
    the same interface as ``ConvEncoder`` (``features``, ``sequence_features``, ``sequence_dim``), so
    ``CNNBiLSTM`` takes either. A batch norm per feature row scales the dB values for the recurrence.
    """

    def __init__(self, frontend: nn.Module, spec_augment: nn.Module | None = None) -> None:
        super().__init__()
        self.frontend, self.spec_augment = frontend, spec_augment
        with torch.no_grad():
            self.sequence_dim = self.frontend(torch.zeros(1, PROBE_SAMPLES)).flatten(1, -2).shape[1]
        self.input_norm = nn.BatchNorm1d(self.sequence_dim)

    def features(self, audio: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Front-end features of the valid samples only [B, (C,) F, frames], and valid frames [B]."""
        return valid_features(self.frontend, audio, lengths)

    def sequence_features(self, features: Tensor, frame_lengths: Tensor) -> tuple[Tensor, Tensor]:
        """features [B, (C,) F, frames] -> normalised frames [B, frames, sequence_dim] (0 past valid) + valid [B]."""
        if self.spec_augment is not None and self.training:
            features = self.spec_augment(features, frame_lengths)
        rows = self.input_norm(features.flatten(1, -2).float())
        valid = frame_lengths.clamp(1, rows.shape[-1])
        return fill_invalid(rows, valid, 0.0).transpose(1, 2), valid


class CNNBiLSTM(EmotionNetwork):
    """conv blocks -> (Bi)LSTM over the map's columns (valid columns only) -> attention / mean -> head.

    ``attention``: True for seed 002's best model (additive attention, ``attention_dim`` units);
    False pools the LSTM outputs with a masked mean (its CNN-BLSTM row).
    ``bidirectional``: False for its CNN-LSTM and LSTM rows (one direction, ``lstm_hidden`` outputs).
    ``encoder``: a ``ConvEncoder``, or a ``FrameSequence`` for a recurrence straight on the front-end.
    """

    def __init__(self, num_classes: int, encoder: nn.Module, lstm_hidden: int = 128, lstm_layers: int = 1,
                 attention: bool = True, attention_dim: int = 128, hidden: Sequence[int] = (128,),
                 activation: str = "relu", dropout: float = 0.3, bidirectional: bool = True) -> None:
        super().__init__()
        self.encoder = encoder
        self.lstm = nn.LSTM(encoder.sequence_dim, lstm_hidden, num_layers=lstm_layers, batch_first=True,
                            bidirectional=bidirectional, dropout=dropout if lstm_layers > 1 else 0.0)
        width = (2 if bidirectional else 1) * lstm_hidden
        self.attention = AdditivePooling(width, attention_dim) if attention else None
        self.head = dense_head(width, hidden, num_classes, activation, dropout)

    def encoder_parameters(self) -> list[nn.Parameter]:
        return list(self.encoder.parameters())

    def forward(self, audio: Tensor, lengths: Tensor) -> Tensor:
        return self.forward_features(*self.encoder.features(audio, lengths))

    def forward_features(self, features: Tensor, frame_lengths: Tensor) -> Tensor:
        sequence, valid = self.encoder.sequence_features(features, frame_lengths)
        packed = pack_padded_sequence(sequence, valid.cpu(), batch_first=True, enforce_sorted=False)
        output, _ = pad_packed_sequence(self.lstm(packed)[0], batch_first=True, total_length=sequence.shape[1])
        mask = frame_mask(valid, output.shape[1])
        pooled = self.attention(output, mask) if self.attention is not None else masked_mean(output, mask)
        return self.head(pooled)


class StatsEncoder(nn.Module):
    """Utterance statistics of frame features -> MLP: masked mean and std per row -> [B, out_dim].

    Seed 001's "scalar features" branch (MFCC, chroma, spectral statistics per clip) computed on the
    device from a FrameFeatures front-end, so it shares the waveform shards with the CNN branch.
    """

    def __init__(self, frontend: nn.Module, hidden: Sequence[int] = (128, 64), activation: str = "relu",
                 dropout: float = 0.3) -> None:
        super().__init__()
        self.frontend = frontend
        with torch.no_grad():
            rows = self.frontend(torch.zeros(1, PROBE_SAMPLES)).flatten(1, -2).shape[1]
        self.input_norm = nn.BatchNorm1d(2 * rows)
        layers: list[nn.Module] = []
        width = 2 * rows
        for size in hidden:
            layers += [nn.Linear(width, size), build_activation(activation), nn.Dropout(dropout), nn.BatchNorm1d(size)]
            width = size
        self.mlp, self.out_dim = nn.Sequential(*layers), width

    def embed(self, audio: Tensor, lengths: Tensor) -> Tensor:
        features, frames = valid_features(self.frontend, audio, lengths)
        features = features.flatten(1, -2).transpose(1, 2)  # [B, frames, rows]
        mask = frame_mask(frames, features.shape[1])
        mean = masked_mean(features, mask)
        std = masked_mean((features - mean.unsqueeze(1)).pow(2), mask).clamp_min(1e-8).sqrt()
        return self.mlp(self.input_norm(torch.cat([mean, std], dim=-1)))


class FusionClassifier(EmotionNetwork):
    """Branch embeddings concatenated -> dense head (seed 003: Linear 128, LayerNorm, activation, dropout 0.5)."""

    def __init__(self, num_classes: int, branches: Sequence[nn.Module], hidden: Sequence[int] = (128,),
                 activation: str = "relu", dropout: float = 0.5, head_norm: str = "layer") -> None:
        super().__init__()
        if len(branches) < 2:
            raise ValueError(f"branches: a fusion needs at least two, got {len(branches)}")
        self.branches = nn.ModuleList(branches)
        width = sum(branch.out_dim for branch in branches)
        self.head = dense_head(width, hidden, num_classes, activation, dropout, head_norm)

    def encoder_parameters(self) -> list[nn.Parameter]:
        return list(self.branches.parameters())

    def forward(self, audio: Tensor, lengths: Tensor) -> Tensor:
        return self.head(torch.cat([branch.embed(audio, lengths) for branch in self.branches], dim=-1))


def _tiny_logmel_encoder(**kwargs: object) -> ConvEncoder:
    from lightning_modules.components.frontends import LogMel

    return ConvEncoder(LogMel(n_mels=16, hop_length=320), channels=(4, 8), **kwargs)


@register_network("test_seed_cnn")
def test_seed_cnn(num_classes: int, **kwargs: object) -> SeedCNN:
    """A two-block 2-D SeedCNN on 16 mel bands with the flatten-like 'bins' pooling, for fast tests."""
    return SeedCNN(num_classes, _tiny_logmel_encoder(pooling="bins", time_bins=4), hidden=(16,), **kwargs)


@register_network("test_seed_cnn1d")
def test_seed_cnn1d(num_classes: int, **kwargs: object) -> SeedCNN:
    """A 1-D SeedCNN over seed 003's 27 frame-feature rows, group norm, ELU, for fast tests."""
    from lightning_modules.components.frame_features import FrameFeatures

    encoder = ConvEncoder(FrameFeatures(hop_length=320), dims=1, channels=(8, 16), norm="group", activation="elu")
    return SeedCNN(num_classes, encoder, hidden=(16,), **kwargs)


@register_network("test_cnn_bilstm")
def test_cnn_bilstm(num_classes: int, **kwargs: object) -> CNNBiLSTM:
    """A tiny CNN-BLSTM with attention, for fast tests."""
    return CNNBiLSTM(num_classes, _tiny_logmel_encoder(), lstm_hidden=8, attention_dim=8, hidden=(16,), **kwargs)


@register_network("test_cnn_lstm")
def test_cnn_lstm(num_classes: int, **kwargs: object) -> CNNBiLSTM:
    """A tiny unidirectional CNN-LSTM with a masked mean (seed 002's CNN-LSTM row), for fast tests."""
    return CNNBiLSTM(num_classes, _tiny_logmel_encoder(), lstm_hidden=8, attention=False, hidden=(16,),
                     bidirectional=False, **kwargs)


@register_network("test_lstm_only")
def test_lstm_only(num_classes: int, **kwargs: object) -> CNNBiLSTM:
    """A tiny unidirectional LSTM straight on 16 mel bands (seed 002's LSTM row), for fast tests."""
    from lightning_modules.components.frontends import LogMel

    encoder = FrameSequence(LogMel(n_mels=16, hop_length=320))
    return CNNBiLSTM(num_classes, encoder, lstm_hidden=8, attention=False, hidden=(16,), bidirectional=False,
                     **kwargs)


@register_network("test_fusion_cnn")
def test_fusion_cnn(num_classes: int, **kwargs: object) -> FusionClassifier:
    """A tiny two-branch model (frame-feature 1-D CNN + log-mel 2-D CNN) with SiLU, for fast tests."""
    from lightning_modules.components.frame_features import FrameFeatures

    spectral = ConvEncoder(FrameFeatures(hop_length=320), dims=1, channels=(8,), norm="group", activation="silu")
    branches = [spectral, _tiny_logmel_encoder(norm="group", activation="silu")]
    return FusionClassifier(num_classes, branches, hidden=(16,), activation="silu", **kwargs)
