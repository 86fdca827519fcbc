"""PNG plots of the data, like seed 000's figures 3.1-3.4.

duration_long.png / duration_short.png: durations of every decodable input, the kept range
marked (figs 3.1, 3.2); labels_initial.png: classes before the audio filters and the
rare-class drop, labels the taxonomy excludes as one bar (fig 3.3); labels_final.png: kept
classes per split (fig 3.4).
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.axes import Axes


def plot_durations(durations: Sequence[float], min_duration: float, max_duration: float, out_dir: Path) -> list[Path]:
    """Long-end (all durations, log count) and short-end (0 to 2 x min) histograms."""
    values = np.asarray([d for d in durations if d is not None], dtype=float)
    paths = []
    short_end = max(2 * min_duration, 2.0)
    for name, data, log, title in (
        ("duration_long.png", values, True, "Duration of all decodable inputs (long end)"),
        ("duration_short.png", values[values <= short_end], False, f"Duration of inputs up to {short_end:g} s (short end)"),
    ):
        fig, ax = _figure((8, 4))
        ax.hist(data, bins=60, color="#4C72B0", log=log and data.size > 0)
        for bound in (min_duration, max_duration):
            ax.axvline(bound, color="#C44E52", linestyle="--", linewidth=1)
        ax.set(xlabel="duration (s)", ylabel="files", title=title)
        paths.append(_save(fig, out_dir / name))
    return paths


def plot_initial_labels(labels: Sequence[str], out_dir: Path) -> Path:
    """Classes as the taxonomy assigned them, before audio filters and the rare-class drop."""
    counts = Counter(labels)
    names = sorted(counts, key=lambda n: -counts[n])
    fig, ax = _figure((max(6, 0.6 * len(names) + 2), 4))
    ax.bar(names, [counts[n] for n in names], color="#55A868")
    ax.set(ylabel="files", title="Initial label distribution")
    ax.tick_params(axis="x", rotation=45)
    return _save(fig, out_dir / "labels_initial.png")


def plot_final_labels(classes: Sequence[str], per_split: Mapping[str, Mapping[str, int]], out_dir: Path) -> Path:
    """Kept classes, one stacked bar segment per split."""
    fig, ax = _figure((max(6, 0.7 * len(classes) + 2), 4))
    bottom = np.zeros(len(classes))
    for split, counts in per_split.items():
        heights = np.array([counts.get(c, 0) for c in classes], dtype=float)
        ax.bar(classes, heights, bottom=bottom, label=split)
        bottom += heights
    ax.set(ylabel="clips", title="Final label distribution per split")
    ax.legend(bbox_to_anchor=(1.01, 1), loc="upper left")
    ax.tick_params(axis="x", rotation=45)
    return _save(fig, out_dir / "labels_final.png")


def _figure(size: tuple[float, float]) -> tuple[Figure, Axes]:
    """A Figure made directly, not through pyplot: files only, so no backend is chosen (nothing is
    set at import time, a caller's own matplotlib set-up stays as it was) and no global figure
    registry keeps it alive."""
    fig = Figure(figsize=size)
    return fig, fig.subplots()


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path
