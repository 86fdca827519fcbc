"""Training curves from a run's ``csv/metrics.csv``: one PNG with loss, scores and learning rate per epoch.

For offline users the PNG is the dashboard W&B would have drawn. It is read from the CSV rather than
kept in memory so a run that was resumed or requeued shows its whole history, and so it can be
redrawn for any finished run: ``python -m evaluation.curves runs/demo`` writes
``runs/demo/reports/curves.png``.
"""
from __future__ import annotations

import bisect
import csv
import sys
from collections import defaultdict
from pathlib import Path
from typing import Sequence

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

Curves = dict[str, dict[int, float]]  # metric -> {epoch: value}

# Panels: title -> column names (an exact name, or a prefix ending in '*'); absent columns are skipped.
PANELS: dict[str, tuple[str, ...]] = {
    "loss": ("train/loss_epoch", "val/loss"),
    "scores": ("val/ua", "val/wa", "val/macro_f1", "val/weighted_f1"),
    "learning rate": ("lr-*",),
}


def epoch_curves(metrics_csv: Path) -> Curves:
    """Per metric, the last value logged in each epoch (step-level rows of an epoch collapse to one).

    Rows that carry a step but no epoch (LearningRateMonitor logs to the loggers directly, without
    Lightning's epoch column) belong to the epoch of the last row with an epoch at or before that step.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "metrics.csv"
    >>> _ = path.write_text("epoch,step,lr-AdamW,val/loss\\n,1,0.1,\\n0,1,,\\n,2,0.2,\\n0,2,,1.5\\n,4,0.3,\\n1,4,,1.2\\n")
    >>> epoch_curves(path)
    {'lr-AdamW': {0: 0.2, 1: 0.3}, 'val/loss': {0: 1.5, 1: 1.2}}
    """
    with metrics_csv.open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    epoch_at = sorted({(int(float(r["step"])), int(float(r["epoch"]))) for r in rows if r.get("epoch") and r.get("step")})
    steps = [step for step, _ in epoch_at]
    curves: Curves = defaultdict(dict)
    for row in rows:
        epoch = _epoch_of(row, steps, epoch_at)
        if epoch is None:
            continue
        for name, value in row.items():
            if name not in ("epoch", "step") and value not in ("", None):
                curves[name][epoch] = float(value)
    return dict(curves)


def _epoch_of(row: dict[str, str], steps: list[int], epoch_at: list[tuple[int, int]]) -> int | None:
    if row.get("epoch"):
        return int(float(row["epoch"]))
    if not row.get("step") or not steps:
        return None
    position = bisect.bisect_right(steps, int(float(row["step"]))) - 1
    return epoch_at[max(position, 0)][1]


def _columns(curves: Curves, patterns: Sequence[str]) -> list[str]:
    names = []
    for pattern in patterns:
        if pattern.endswith("*"):
            names += sorted(name for name in curves if name.startswith(pattern[:-1]))
        elif pattern in curves:
            names.append(pattern)
    return names


def plot_curves(curves: Curves, path: Path) -> Path | None:
    """Write the panels that have data to ``path``; None when no epoch-level metric was logged."""
    panels = [(title, _columns(curves, patterns)) for title, patterns in PANELS.items()]
    panels = [(title, names) for title, names in panels if names]
    if not panels:
        return None
    figure = Figure(figsize=(5.0 * len(panels), 3.8))  # no pyplot: no backend, no global figure registry
    for axes, (title, names) in zip(figure.subplots(1, len(panels), squeeze=False)[0], panels):
        for name in names:
            epochs = sorted(curves[name])
            axes.plot(epochs, [curves[name][e] for e in epochs], marker="o", markersize=3, label=name)
        axes.set(title=title, xlabel="epoch")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        if title == "learning rate":
            axes.set_yscale("log")
        axes.legend(fontsize="small")
        axes.grid(alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    return path


def write_run_curves(run_dir: Path) -> Path | None:
    """``<run>/reports/curves.png`` from ``<run>/csv/metrics.csv`` (None when the run logged no CSV)."""
    metrics = run_dir / "csv" / "metrics.csv"
    return plot_curves(epoch_curves(metrics), run_dir / "reports" / "curves.png") if metrics.is_file() else None


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m evaluation.curves RUN_FOLDER")
    written = write_run_curves(Path(sys.argv[1]))
    print(written or f"{sys.argv[1]}: no csv/metrics.csv with epoch-level metrics")
