"""A run folder is one experiment: the config it was made for, its fingerprint, and its W&B id.

``train.py`` writes ``<run folder>/run.json`` when a run starts: the resolved config (every key,
after the config files and overrides are merged), the fingerprint of the part of it that defines
the experiment, and the W&B run id. A later run that lands in the same folder (a resume, a
requeued SLURM job, the same command again) must have the same experiment config; anything else
is refused with the keys that differ and both values, rather than silently resuming another
experiment's checkpoint and appending to its W&B run.

The experiment config is the resolved config without :data:`RESUME_KEYS`: keys that may change
between a run and its resume without changing what is trained. The default run name ends in
the fingerprint, so a sweep (one config, many overrides) gives every variant its own folder.

The W&B id is drawn once, when the folder is made, and read back from run.json afterwards: a
requeue or resume continues the same W&B run, and a deleted and re-made folder starts a new one.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping

from user_errors import UserError

RECORD_FILE = "run.json"
FINGERPRINT_CHARS = 8
MAX_LISTED = 12  # differing keys named in a refusal; the rest are counted

# Dotted keys (and everything below them) left out of the fingerprint, with why they may change on a resume:
RESUME_KEYS: tuple[str, ...] = (
    "ckpt_path",  # which checkpoint to resume from
    "run",  # the folder itself (name, root)
    "wandb",  # where and how the logs go (slurm/train.sh sets the group to the job id)
    "trainer.devices", "trainer.num_nodes", "trainer.strategy",  # where it runs: the SLURM allocation
    "trainer.max_epochs", "trainer.max_steps", "trainer.max_time",  # how long: extending a run
    "trainer.logger", "trainer.log_every_n_steps", "trainer.enable_progress_bar",  # logging and console
    "trainer.enable_model_summary",
    "trainer.default_root_dir", "checkpoint.dirpath", "report.dirpath",  # derived from the run folder
    "report", "curves", "wandb_summary",  # which reports and summaries are written; training does not read them
    "preemption", "last_checkpoint",  # when fault-tolerance checkpoints are written
    "data.persistent_workers", "data.pin_memory",  # loader speed; the batches are the same
    "data.read_log",  # a record of what each rank read, not a setting of the experiment
)


def is_resume_key(key: str, resume_keys: tuple[str, ...] = RESUME_KEYS) -> bool:
    """Whether the dotted ``key`` is, or lies under, one of ``resume_keys``.

    >>> is_resume_key("wandb.group"), is_resume_key("trainer.devices"), is_resume_key("data.batch_size")
    (True, True, False)
    """
    return any(key == prefix or key.startswith(prefix + ".") for prefix in resume_keys)


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings to dotted keys; lists and scalars are values.

    >>> flatten({"data": {"batch_size": 8, "splits": ["train"]}, "seed_everything": 0})
    {'data.batch_size': 8, 'data.splits': ['train'], 'seed_everything': 0}
    """
    flat: dict[str, Any] = {}
    for key, value in config.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def experiment_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The dotted keys of ``config`` that define the experiment (everything but :data:`RESUME_KEYS`)."""
    return {key: value for key, value in flatten(config).items() if not is_resume_key(key)}


def config_fingerprint(config: Mapping[str, Any]) -> str:
    """A short hash of the experiment config: equal configs give equal fingerprints on every machine.

    >>> config_fingerprint({"model": {"lr": 0.1}, "trainer": {"devices": 1}})
    'a8374e96'
    >>> config_fingerprint({"model": {"lr": 0.1}, "trainer": {"devices": 4}})  # a resume key
    'a8374e96'
    """
    text = json.dumps(experiment_config(config), sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:FINGERPRINT_CHARS]


def config_differences(recorded: Mapping[str, Any], current: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """``(key, recorded value, current value)`` for every experiment key that differs, sorted by key.

    A key present on one side only shows ``'(absent)'`` on the other.

    >>> config_differences({"data": {"batch_size": 8}, "wandb": {"group": "1"}},
    ...                    {"data": {"batch_size": 16}, "wandb": {"group": "2"}})
    [('data.batch_size', 8, 16)]
    """
    old, new = experiment_config(recorded), experiment_config(current)
    absent = "(absent)"
    return [(key, old.get(key, absent), new.get(key, absent))
            for key in sorted(old.keys() | new.keys()) if old.get(key, absent) != new.get(key, absent)]


@dataclass(frozen=True)
class RunRecord:
    """What ``run.json`` holds: the run's name, its config and fingerprint, and its W&B run id."""

    name: str
    fingerprint: str
    wandb_id: str
    config: dict[str, Any]

    @classmethod
    def new(cls, name: str, config: Mapping[str, Any]) -> "RunRecord":
        """A record for a folder made now: a fresh W&B id (the name plus 8 random hex digits)."""
        return cls(name=name, fingerprint=config_fingerprint(config),
                   wandb_id=f"{safe_wandb_id(name)[:119]}-{secrets.token_hex(4)}", config=dict(config))


def safe_wandb_id(name: str) -> str:
    """A W&B run id from a name: W&B ids take letters, digits, '-', '_' and '.' only.

    >>> safe_wandb_id("wavlm/lr=2e-5 seed:0")
    'wavlm-lr-2e-5-seed-0'
    """
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")[:128]


def read_record(run_dir: Path) -> RunRecord | None:
    """The folder's run.json, or None when it has none (a new folder, or one made before run.json)."""
    path = run_dir / RECORD_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        return RunRecord(name=str(data["name"]), fingerprint=str(data["fingerprint"]),
                         wandb_id=str(data["wandb_id"]), config=dict(data["config"]))
    except (ValueError, KeyError, TypeError) as error:
        raise UserError(f"{path}: not a run record ({error}); delete it to adopt this folder for the current "
                        "config, or give another --run.name") from error


def write_record(run_dir: Path, record: RunRecord) -> None:
    """Write run.json atomically (a reader on another rank sees the old file or the whole new one)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{RECORD_FILE}.", dir=run_dir)
    with os.fdopen(handle, "w") as stream:
        json.dump(asdict(record), stream, indent=1, default=str)
    os.replace(temp, run_dir / RECORD_FILE)


def check_same_experiment(run_dir: Path, recorded: RunRecord, config: Mapping[str, Any]) -> None:
    """Raise :class:`UserError` naming every differing key when ``config`` is not the folder's experiment."""
    differences = config_differences(recorded.config, config)
    if not differences:
        return
    listed = "; ".join(f"{key}: {old!r} there, {new!r} now" for key, old, new in differences[:MAX_LISTED])
    more = f"; and {len(differences) - MAX_LISTED} more" if len(differences) > MAX_LISTED else ""
    raise UserError(
        f"run folder {run_dir} was made for another config ({run_dir / RECORD_FILE}): {listed}{more}; "
        "give another --run.name (or leave run.name unset for a folder named by the config's fingerprint), "
        f"or delete {run_dir} to start over")


def claim_run_folder(run_dir: Path, name: str, config: Mapping[str, Any]) -> RunRecord:
    """The record of ``run_dir`` for ``config``: the folder's own when it holds the same experiment,
    a new one (to be written with :func:`write_record` when the run starts) for a new folder.

    A folder that holds files but no run.json was made before run records existed: it is adopted,
    keeping its old W&B id (the run name), so such runs still resume.
    """
    recorded = read_record(run_dir)
    if recorded is not None:
        check_same_experiment(run_dir, recorded, config)
        return recorded
    record = RunRecord.new(name, config)
    if run_dir.is_dir() and any(run_dir.iterdir()):
        return RunRecord(name=name, fingerprint=record.fingerprint, wandb_id=safe_wandb_id(name), config=record.config)
    return record
