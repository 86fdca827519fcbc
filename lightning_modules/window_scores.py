"""Score a clip longer than the training crop as the mean probability over training-length windows.

A network trained on random 3 s crops sees, at evaluation, either the centre 3 s of a longer clip
(what it was trained on, but most of the clip unheard) or the whole clip pooled at once (every
frame heard, but pooled over a length it never trained on). Averaging its probabilities over
windows of the training length, at half-window hops with the last window ending on the clip's end,
hears every frame at the length it trained on. On EmoBox's EMOVO folds (a quarter of the clips
over 3.8 s), the scratch recipe's six checkpoints scored 36.6 UA this way against 35.5 for the
centre crop and 36.1 for the whole clip; retrained with it (it then also picks the checkpoint by
validation UA and sets the speaker statistics) they scored 35.1, and SAVEE 45.2 against 43.7:
mixed, so the recipe leaves it off (configs/recipes/scratch_cpu.yaml). predict.py's windows
already score recordings per segment.

Windows are cut on the device from the padded batch with one gather, and only the windows a clip
has are run; a clip no longer than the window is one window, scored exactly as before.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

Network = Callable[[Tensor, Tensor, "tuple[Tensor, Tensor] | None"], Tensor]


def window_starts(lengths: Tensor, window: int, hop: int, slots: int) -> tuple[Tensor, Tensor]:
    """(starts [B, slots], used [B, slots]): window offsets of each clip and which of them it has.

    Clip ``b`` has ``ceil((length - window) / hop) + 1`` windows (one when it fits a window), at
    offsets 0, hop, 2*hop, ..., the last moved back to end on the clip's last sample.

    >>> window_starts(torch.tensor([10, 4]), window=4, hop=2, slots=4)
    (tensor([[0, 2, 4, 6],
            [0, 0, 0, 0]]), tensor([[ True,  True,  True,  True],
            [ True, False, False, False]]))
    """
    counts = ((lengths - window).clamp_min(0) + hop - 1) // hop + 1
    index = torch.arange(slots, device=lengths.device)
    starts = torch.minimum(index * hop, (lengths - window).clamp_min(0)[:, None])
    return starts, index < counts[:, None]


def window_mean_logits(network: Network, audio: Tensor, lengths: Tensor, window: int,
                       band_stats: tuple[Tensor, Tensor] | None = None) -> Tensor:
    """Log of the mean class probability over each clip's ``window``-sample windows [B, C].

    ``audio`` [B, T] zero-padded rows, ``lengths`` [B] valid samples; ``band_stats`` per-clip speaker
    statistics, repeated for each of a clip's windows. Rows no longer than ``window`` are one window.
    """
    if audio.shape[-1] <= window:
        return network(audio, lengths, band_stats)
    hop = max(window // 2, 1)
    slots = (audio.shape[-1] - window + hop - 1) // hop + 1
    starts, used = window_starts(lengths, window, hop, slots)
    clip_of = torch.arange(audio.shape[0], device=audio.device)[:, None].expand_as(starts)[used]
    offsets = starts[used]
    positions = (offsets[:, None] + torch.arange(window, device=audio.device)).clamp_max(audio.shape[-1] - 1)
    windows = audio[clip_of[:, None], positions]
    window_lengths = (lengths[clip_of] - offsets).clamp(max=window)
    stats = None if band_stats is None else tuple(part[clip_of] for part in band_stats)
    probabilities = network(windows, window_lengths, stats).float().softmax(-1)
    totals = torch.zeros(audio.shape[0], probabilities.shape[-1], device=audio.device).index_add_(0, clip_of, probabilities)
    return (totals / used.sum(1, keepdim=True)).clamp_min(torch.finfo(totals.dtype).tiny).log()
