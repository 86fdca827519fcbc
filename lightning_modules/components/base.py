"""The two kinds of module EmotionClassifier is built from: a network, and an on-device augmentation.

Both are plain ``nn.Module``s; the base classes add no behaviour. They exist so the command line
types ``model.net`` and ``model.augment`` by *our* kinds: jsonargparse lists every known subclass
of a parameter's type in ``--help``, and for ``nn.Module`` that is every layer torch, timm and
transformers define (3,700 lines of help). A network or augmentation of your own subclasses one of
these and is accepted by ``class_path`` like ours.
"""
from __future__ import annotations

from torch import nn


class EmotionNetwork(nn.Module):
    """``forward(audio [B, T], lengths [B]) -> logits [B, C]``; built as ``Net(num_classes, ...)``.

    A network trained on precomputed log-mel shards also defines ``forward_features(features, lengths)``.
    """


class BatchAugmentation(nn.Module):
    """Training-time augmentation of a device batch: ``(audio [B, T], lengths [B])`` -> ``audio`` or ``(audio, lengths)``."""
