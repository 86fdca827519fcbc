"""PNG figures of explanations: a Grad-CAM map over its spectrogram, an attribution curve over its waveform."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_gradcam(features: np.ndarray, heatmap: np.ndarray, title: str, path: Path) -> Path:
    """features and heatmap [F, T]: the input (low bands at the bottom) and the map overlaid on it."""
    plt = _figure()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), sharey=True)
    axes[0].imshow(features, origin="lower", aspect="auto", cmap="magma")
    axes[0].set(title="input features", xlabel="frame", ylabel="band")
    axes[1].imshow(features, origin="lower", aspect="auto", cmap="gray")
    axes[1].imshow(heatmap, origin="lower", aspect="auto", cmap="jet", alpha=0.5, vmin=0, vmax=1)
    axes[1].set(title=f"Grad-CAM: {title}", xlabel="frame")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_time_attribution(wave: np.ndarray, curve: np.ndarray, sample_rate: int, window_s: float, title: str,
                          path: Path) -> Path:
    """The waveform with the per-window attribution share drawn over it."""
    plt = _figure()
    fig, axis = plt.subplots(figsize=(10, 3))
    axis.plot(np.arange(len(wave)) / sample_rate, wave, color="0.7", linewidth=0.5)
    twin = axis.twinx()
    twin.step(np.arange(len(curve)) * window_s, curve, where="post", color="tab:red")
    axis.set(xlabel="seconds", ylabel="waveform", title=f"integrated gradients: {title}")
    twin.set_ylabel("attribution share")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
