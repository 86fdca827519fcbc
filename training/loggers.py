"""Loggers of a run: CSV always, W&B online when an API key is configured and offline otherwise.

The W&B run id is the run folder's (training/run_identity.py, drawn when the folder is made and
kept in its run.json), so a requeued or resumed job appends to the same W&B run and a new folder
starts a new one.
"""
from __future__ import annotations

import netrc
import os
from dataclasses import dataclass, field
from pathlib import Path

from lightning.pytorch.loggers import Logger, WandbLogger

from training.csv_log import ResumableCSVLogger
from training.run_identity import safe_wandb_id
from user_errors import UserError

WANDB_HOST = "api.wandb.ai"


@dataclass
class WandbSettings:
    """The ``wandb:`` section of a config.

    ``mode``: 'auto' (online with an API key, else offline), 'online', 'offline' or 'disabled'.
    ``log_model``: upload checkpoints as W&B artifacts (online runs; True: at the end, 'all': every save).
    """

    mode: str = "auto"
    project: str = "ser"
    entity: str | None = None
    tags: list[str] = field(default_factory=list)
    group: str | None = None
    log_model: bool = False


def has_wandb_key() -> bool:
    """True when W&B can authenticate: WANDB_API_KEY set, or a netrc entry for api.wandb.ai."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc(os.environ.get("NETRC")).authenticators(WANDB_HOST) is not None
    except (FileNotFoundError, netrc.NetrcParseError):
        return False


def build_loggers(run_dir: Path, run_name: str, settings: WandbSettings, wandb_id: str | None = None) -> list[Logger]:
    """CSV logger in ``run_dir/csv`` and, unless disabled, a W&B logger writing to ``run_dir/wandb``.

    ``wandb_id``: the run folder's W&B id (default: the run name made W&B-safe).
    """
    loggers: list[Logger] = [ResumableCSVLogger(save_dir=str(run_dir), name="", version="csv")]  # appends on resume
    modes = ("auto", "online", "offline", "disabled")
    if settings.mode not in modes:
        raise UserError(f"wandb.mode={settings.mode!r}: expected one of {list(modes)}")
    if settings.mode == "disabled":
        return loggers
    offline = settings.mode == "offline" or (settings.mode == "auto" and not has_wandb_key())
    wandb = WandbLogger(
        name=run_name, id=wandb_id or safe_wandb_id(run_name), save_dir=str(run_dir), project=settings.project,
        entity=settings.entity, tags=list(settings.tags) or None, group=settings.group, offline=offline,
        log_model=settings.log_model and not offline, resume="allow",
    )
    # Lightning 2.6 always passes anonymous=None to wandb.init, and wandb >= 0.19 warns "The anonymous
    # setting has no effect" for any value it is given; left out, wandb.init uses its own default
    wandb._wandb_init.pop("anonymous", None)
    loggers.append(wandb)
    return loggers
