"""The first lines a training run prints: where its folder, its W&B run and its logs are.

A user who starts a run wants to know at once where to look while it trains (the metrics CSV, the
W&B page or the offline folder to sync later), not only in the summary at the end. The W&B line is
built from the logger's settings before the W&B run starts (so it comes before Lightning's own
lines): an offline run's folder is named ``offline-run-<time>-<id>``, which the glob in the sync
command matches for every invocation of this run; an online run's address is known up front when
the entity is set, and otherwise W&B prints it when the run starts.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import CSVLogger, WandbLogger


def wandb_line(logger: WandbLogger) -> str:
    """One line saying where this W&B run is."""
    settings = logger._wandb_init  # what WandbLogger passes to wandb.init; it has no public getter
    run_id, project, entity = settings.get("id"), settings.get("project"), settings.get("entity")
    folder = Path(str(settings.get("dir"))) / "wandb"
    mode = os.environ.get("WANDB_MODE", "").lower()  # W&B obeys it over its init arguments
    if mode == "disabled":
        return "W&B run: none (WANDB_MODE=disabled)"
    if logger._offline or mode in ("offline", "dryrun"):
        return (f"W&B run: offline, id {run_id}, in {folder}/ "
                f"(to upload: wandb sync {folder}/offline-run-*-{run_id})")
    if entity:
        return f"W&B run: https://wandb.ai/{entity}/{project}/runs/{run_id}"
    return f"W&B run: online, project {project}, id {run_id} (W&B prints its address when the run starts)"


def run_header(run_dir: Path, loggers: Any, reports: Path, resumed: bool, seed: Any) -> str:
    """The header: run folder (new or continued) and seed, W&B run, logs and reports.

    ``loggers``: the loggers train.py built, or ``trainer.logger`` as a config set it (False: none).
    """
    lines = [f"run folder: {run_dir} ({'continued' if resumed else 'new'}; seed {seed})"]
    if isinstance(loggers, list):
        wandb = [logger for logger in loggers if isinstance(logger, WandbLogger)]
        lines.append(wandb_line(wandb[0]) if wandb else "W&B run: none (wandb.mode=disabled)")
        csv = [logger for logger in loggers if isinstance(logger, CSVLogger)]
        if csv:
            lines.append(f"logs: {Path(csv[0].log_dir) / 'metrics.csv'} (metrics), "
                         f"{Path(csv[0].log_dir) / 'hparams.yaml'} (config)")
    elif loggers is False:
        lines.append("W&B run and logs: none (trainer.logger: false)")
    else:
        lines.append("W&B run and logs: where the loggers of trainer.logger put them")
    lines.append(f"reports and plots: {reports}")
    return "\n".join(lines)
