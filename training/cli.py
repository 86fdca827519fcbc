"""The training command line: LightningCLI over EmotionClassifier and ShardDataModule.

``python train.py --config configs/wavlm.yaml --trainer.max_epochs=2 --model.lr=1e-4``: jsonargparse
builds every object from ``class_path``/``init_args``, rejects unknown keys naming them, and links
the dataset's classes, class weights, sample rate and input contract (clip length, padding, crop,
features: data_preparation/input_contract.py) into the model when both are instantiated.

A run lives in ``<run.root>/<run.name>/`` (checkpoints/, csv/, wandb/, reports/, run.json). The
default name is derived deterministically from the config and ends in the fingerprint of its
experiment keys (so every DDP rank and every SLURM requeue agrees on it without a broadcast, and
every variant of a sweep gets its own folder). run.json records the config the folder was made for
and its W&B run id; a run whose config differs from it is refused (training/run_identity.py).
``--ckpt_path last`` resumes from that run's newest complete checkpoint and starts fresh otherwise.
"""
from __future__ import annotations

import json
import shutil
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI, SaveConfigCallback
from lightning.pytorch.utilities import rank_zero_info, rank_zero_only

from callbacks.curves import TrainingCurves
from callbacks.report import ReportCallback
from callbacks.wandb_summary import WandbSummary
from datamodules import shard_data_module
from datamodules.shard_datamodule import ShardDataModule
from lightning_modules.classifier import EmotionClassifier
from lightning_modules.hub_weights import MissingWeightsError, require_weights, weights_of_config
from training.loggers import WandbSettings, build_loggers
from training.checkpoint_io import AtomicCheckpointIO
from training.config_files import CONFIGS_DIR, PIECE_FOLDERS, ResolvesConfigNames
from training.help_format import DESCRIPTION, ConciseHelpFormatter, FullHelpAction
from lightning_modules.nonfinite_loss import NonFiniteLossGuard
from training.last_checkpoint import LastCheckpoint
from training.preemption import RequeueOnSignal
from training.resume import RngStateCheckpoint, find_resume_checkpoint
from training.run_identity import RunRecord, claim_run_folder, config_fingerprint, write_record
from training.run_header import run_header
from training.safe_load import check_checkpoint_file
from user_errors import UserError


@dataclass
class RunSettings:
    """The ``run:`` section: where a run's files go. ``name`` None: derived from the config."""

    name: str | None = None
    root: str = "runs"


class LogConfigCallback(SaveConfigCallback):
    """Send the whole composed config to every logger (W&B's config, the CSV log's config.yaml).

    The run folder's own record of it is run.json (written by :func:`fit_and_test`).
    """

    def save_config(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        for logger in trainer.loggers:  # a fresh copy each: loggers may change what they are given
            logger.log_hyperparams(resolved_config(self.parser, self.config))  # no skip_none deprecation


def default_run_name(config: Any, fingerprint: str) -> str:
    """``<config file stem>-<network>[-<model_name>]-lr<lr>-seed<seed>-<fingerprint>``: stable across
    ranks and requeues, and different for every experiment config (training/run_identity.py).

    >>> from jsonargparse import Namespace
    >>> default_run_name(Namespace(config=["configs/demo.yaml"], seed_everything=0, model=Namespace(lr=0.001,
    ...     net={"class_path": "lightning_modules.components.small_cnn.SmallCNN", "init_args": {}})), "1a2b3c4d")
    'demo-smallcnn-lr0.001-seed0-1a2b3c4d'
    """
    files = config.get("config") or []
    stem = Path(str(files[-1])).stem if files else "run"
    net = config.model.net or {}
    parts = [stem, str(net.get("class_path", "net")).rsplit(".", 1)[-1].lower()]
    model_name = (net.get("init_args") or {}).get("model_name")
    if model_name:
        parts.append(Path(str(model_name)).name)
    parts += [f"lr{config.model.lr:g}", f"seed{config.seed_everything}", fingerprint]
    return "-".join(parts)


def resolved_config(parser: LightningArgumentParser, config: Any) -> dict[str, Any]:
    """The parsed config as plain JSON values, None values kept (``skip_none`` is ``skip_unset`` from
    jsonargparse 4.49 on; the old name still works there, with a deprecation warning)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return json.loads(parser.dump(config, skip_none=False, format="json"))


def check_data_root(data_root: str | None) -> None:
    """A local ``data.data_root`` must be a folder with stats.json (URLs and ``pipe:`` are checked at open)."""
    expected = "expected the folder prepare_data.py wrote (it holds stats.json), a URL or a pipe: command"
    if data_root is None or not str(data_root).strip():
        raise UserError(f"data.data_root={data_root!r}: empty; {expected}")
    root = str(data_root)
    if "://" in root or root.startswith("pipe:"):
        return
    if not Path(root).is_dir():
        raise UserError(f"data.data_root={root!r}: no such folder; {expected}")
    if not (Path(root) / "stats.json").is_file():
        raise UserError(f"data.data_root={root!r}: the folder has no stats.json; {expected}")


def check_gpu_available(accelerator: str | None) -> None:
    """``trainer.accelerator: gpu`` (configs/trainer/gpu.yaml) where torch sees no GPU is a one-line user
    error before anything is built: not Lightning's traceback, and never the silent CPU run that
    ``accelerator: auto`` made of a GPU job whose CUDA install was broken (slurm/train.sh checks too)."""
    if str(accelerator).lower() not in ("gpu", "cuda"):
        return
    if torch.cuda.is_available() or (str(accelerator).lower() == "gpu" and torch.backends.mps.is_available()):
        return
    raise UserError(f"trainer.accelerator={accelerator!r} (configs/trainer/gpu.yaml) but torch {torch.__version__} "
                    f"(CUDA build: {torch.version.cuda}) sees no GPU: run on a GPU node, install a CUDA build of "
                    "torch (README, 'Install'), or train on the CPU with --trainer configs/trainer/cpu.yaml")


def fetch_command(config: Any) -> str:
    """``python fetch_weights.py --config ...`` for the run's own config files (not the pieces they include)."""
    shown = []
    for file in map(Path, config.get("config") or []):
        inside = file.resolve().is_relative_to(CONFIGS_DIR) or not file.is_absolute()
        relative = file.resolve().relative_to(CONFIGS_DIR) if file.is_absolute() and inside else file
        if not (inside and relative.parts and relative.parts[0] in PIECE_FOLDERS):
            shown.append(f"--config {relative if inside else file}")
    return "python fetch_weights.py " + (" ".join(shown) or "--config CONFIG")


def check_pretrained_weights(config: Any, resolved: dict[str, Any]) -> None:
    """The hub weights the config's networks read are cached, or the hub answers (lightning_modules/hub_weights.py):
    else one line naming the model, the cache and the fetch command, before a run folder, a W&B run or a
    rank exists. Under SLURM or DDP only rank zero prints it; every rank exits with status 2."""
    try:
        require_weights(weights_of_config((resolved.get("model") or {}).get("net")), fetch=fetch_command(config))
    except MissingWeightsError:
        if rank_zero_only.rank != 0:
            raise SystemExit(2) from None
        raise


def check_shards(datamodule: Any) -> None:
    """Every shard the fit and the test stream is there, before run.json or a W&B run exists (the
    datamodule's own ``setup`` check, which fit repeats; a missing shard is a one-line refusal)."""
    if isinstance(datamodule, ShardDataModule):
        datamodule.setup("fit")


def resolve_ckpt_path(ckpt_path: str | None, checkpoint_dir: Path, run_dir: Path | None = None) -> str | None:
    """'last': the newest complete last.ckpt or preemption hpc_ckpt_N.ckpt of the run (training.resume),
    else a fresh start; any other value must exist."""
    if ckpt_path is None:
        return None
    if ckpt_path == "last":
        found = find_resume_checkpoint([checkpoint_dir] + ([run_dir] if run_dir is not None else []))
        if found is not None:
            rank_zero_info(f"resuming from {found}")
            return str(found)
        rank_zero_info(f"ckpt_path=last: no checkpoint in {checkpoint_dir} yet, starting fresh")
        return None
    if not Path(ckpt_path).is_file():
        raise FileNotFoundError(f"ckpt_path={ckpt_path!r}: no such checkpoint file; expected a .ckpt file, 'last' or null")
    check_checkpoint_file(ckpt_path)  # cut short or holding code: refused before a run folder is made
    return ckpt_path


CALLBACK_DEFAULTS = CONFIGS_DIR / "callbacks" / "default.yaml"


def add_user_callbacks(parser: LightningArgumentParser) -> None:
    """The callbacks a user tunes: one key group each, their settings in configs/callbacks/*.yaml
    (:data:`CALLBACK_DEFAULTS`, the parser's default config file, composes them)."""
    parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
    parser.add_lightning_class_args(EarlyStopping, "early_stopping")
    parser.add_lightning_class_args(ReportCallback, "report")
    parser.add_lightning_class_args(TrainingCurves, "curves")  # reports/curves.png for offline users
    parser.add_lightning_class_args(WandbSummary, "wandb_summary")  # best values + best checkpoint in the summary


def add_fault_tolerance(parser: LightningArgumentParser) -> None:
    """The callbacks a run cannot do without, so they are in code and not in configs/callbacks/.

    Their settings stay keys, but no config can drop them: without the non-finite-loss guard one NaN
    step poisons the weights; without the requeue handler a SLURM time limit loses the epoch and the
    job is not resubmitted; without the RNG state a resumed run is not the run it continues; without
    last.ckpt after every epoch (ModelCheckpoint's ``save_last`` writes it only with a top-k save in
    Lightning 2.6) ``--ckpt_path last`` has nothing to resume. The atomic checkpoint writer is a
    plugin, set in :meth:`SERLightningCLI.instantiate_trainer`.
    """
    parser.add_lightning_class_args(NonFiniteLossGuard, "nonfinite_loss")
    parser.add_lightning_class_args(RequeueOnSignal, "preemption")
    parser.add_lightning_class_args(RngStateCheckpoint, "rng_state")
    parser.add_lightning_class_args(LastCheckpoint, "last_checkpoint")


class SERLightningCLI(ResolvesConfigNames, LightningCLI):
    """LightningCLI (bare ``--config`` names resolved against configs/) with run folders, default loggers, F1 checkpointing, early stopping and reports."""

    def __init__(self, args: list[str] | None = None, **kwargs: Any) -> None:
        self.run_dir = Path("runs")
        self.run_name = "run"
        self.run_record: RunRecord | None = None
        self.made_run_dir = False  # the run folder did not exist before this command: see discarded_on_refusal
        self._resume_path: str | None = None
        self.resolved: dict[str, Any] = {}
        if not CALLBACK_DEFAULTS.is_file():  # jsonargparse skips a missing default file without a word
            raise UserError(f"{CALLBACK_DEFAULTS}: missing; train.py runs from a clone of the repository "
                            "(or an editable install), whose configs/ holds the callback settings")
        super().__init__(
            EmotionClassifier, shard_data_module, run=False, args=args,
            save_config_callback=LogConfigCallback, save_config_kwargs={"overwrite": True},
            seed_everything_default=0, auto_configure_optimizers=False,
            parser_kwargs={"formatter_class": ConciseHelpFormatter, "description": DESCRIPTION,
                           "default_config_files": [str(CALLBACK_DEFAULTS)]}, **kwargs,
        )

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_argument("--help_full", action=FullHelpAction)
        parser.add_argument("--ckpt_path", type=str | None, default=None,
                            help="checkpoint to resume fit from; 'last' = this run's newest complete last/preemption checkpoint")
        parser.add_class_arguments(RunSettings, "run")
        parser.add_class_arguments(WandbSettings, "wandb")
        add_user_callbacks(parser)
        add_fault_tolerance(parser)
        parser.link_arguments("checkpoint.monitor", "early_stopping.monitor")
        parser.link_arguments("checkpoint.mode", "early_stopping.mode")
        parser.link_arguments("checkpoint.monitor", "model.monitor")  # the plateau schedule follows it too
        parser.link_arguments("data.classes", "model.class_names", apply_on="instantiate")
        parser.link_arguments("data.class_weights", "model.class_weights", apply_on="instantiate")
        parser.link_arguments("data.sample_rate", "model.sample_rate", apply_on="instantiate")
        parser.link_arguments("data.input_contract", "model.input_contract", apply_on="instantiate")

    def before_instantiate_classes(self) -> None:
        """Name the run folder (from the config's fingerprint unless run.name is set), and point the
        trainer, checkpoints and reports into it."""
        config = self.config
        self.resolved = resolved_config(self.parser, config)
        self.run_name = config.run.name or default_run_name(config, config_fingerprint(self.resolved))
        self.run_dir = Path(config.run.root) / self.run_name
        config.trainer.default_root_dir = str(self.run_dir)
        if config.checkpoint.dirpath is None:
            config.checkpoint.dirpath = str(self.run_dir / "checkpoints")
        if config.report.dirpath is None:
            config.report.dirpath = str(self.run_dir / "reports")

    def check_run(self) -> None:
        """Before anything is built: the data root exists, and the run folder is this experiment's or new
        (training/run_identity.py refuses one made for another config, naming the keys), a GPU
        trainer config has a GPU, and ``--ckpt_path`` is a whole checkpoint of data only."""
        check_gpu_available(self.config.trainer.get("accelerator"))
        check_data_root(self.config.data.data_root)
        check_pretrained_weights(self.config, self.resolved)
        self.run_record = claim_run_folder(self.run_dir, self.run_name, self.resolved)
        self._resume_path = resolve_ckpt_path(self.config.ckpt_path, Path(self.config.checkpoint.dirpath), self.run_dir)
        self.made_run_dir = not self.run_dir.exists()

    def instantiate_classes(self) -> None:
        self.check_run()
        super().instantiate_classes()

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        """The trainer, with CSV + W&B loggers unless the config sets ``trainer.logger`` itself."""
        if self.config.trainer.get("logger") is None and "logger" not in kwargs:
            settings = self.config_init.get("wandb")  # the instantiated WandbSettings
            if not isinstance(settings, WandbSettings):
                settings = WandbSettings(**{k: v for k, v in vars(settings).items() if not k.startswith("__")})
            wandb_id = self.run_record.wandb_id if self.run_record is not None else None
            kwargs["logger"] = build_loggers(self.run_dir, self.run_name, settings, wandb_id)
        if not self.config.trainer.get("plugins") and "plugins" not in kwargs:
            kwargs["plugins"] = [AtomicCheckpointIO()]  # a kill mid-save never corrupts last.ckpt
        check_shards(self.datamodule)
        self.announce(kwargs.get("logger", self.config.trainer.get("logger")))
        return super().instantiate_trainer(**kwargs)

    def announce(self, loggers: Any) -> None:
        """The run's first lines (rank zero): where its folder, W&B run and logs are. Printed once the
        model and data are built, so a refusal before it is still the command's only line."""
        if rank_zero_only.rank == 0:
            resumed = self._resume_path is not None or not self.made_run_dir
            print(run_header(self.run_dir, loggers, Path(self.config.report.dirpath), resumed,
                             self.config.seed_everything), flush=True)

    @property
    def resume_path(self) -> str | None:
        """The checkpoint fit resumes from: resolved and checked by :meth:`check_run`, before the run folder is made."""
        return self._resume_path


def fit_and_test(cli: SERLightningCLI) -> dict[str, float]:
    """Fit (resuming when asked), test the best checkpoint, print where everything went."""
    trainer, model, data = cli.trainer, cli.model, cli.datamodule
    if cli.run_record is not None and rank_zero_only.rank == 0:  # the folder now belongs to this experiment
        write_record(cli.run_dir, cli.run_record)
    try:
        trainer.fit(model, datamodule=data, ckpt_path=cli.resume_path, weights_only=True)  # training/safe_load.py
        best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
        # the path itself, not "best": with last.ckpt's callback beside it Lightning warns which one "best" means
        results = trainer.test(model, datamodule=data, ckpt_path=best or None, weights_only=True)
        scores = {k: float(v) for k, v in (results[0] if results else {}).items()}
        _print_summary(cli, scores, best)
        return scores
    finally:
        _finish_wandb(trainer)


@contextmanager
def discarded_on_refusal(cli: SERLightningCLI, refusals: tuple[type[BaseException], ...]) -> Iterator[None]:
    """Remove the run folder this command made when the run is refused before it trained a step.

    The start-up checks (:meth:`SERLightningCLI.check_run`) refuse before anything is written; this
    covers the refusals that only fit can make (an unreadable ``model.init_from``, a checkpoint whose
    tensors do not fit the model), after run.json, csv/ and the W&B run exist. A folder that existed before the command (a
    resume, a requeue) is never touched, nor one that holds a checkpoint.
    """
    try:
        yield
    except refusals:
        trainer = getattr(cli, "trainer", None)
        started = trainer is not None and trainer.global_step > 0
        if cli.made_run_dir and not started and rank_zero_only.rank == 0 and cli.run_dir.is_dir() \
                and not any(cli.run_dir.rglob("*.ckpt")):
            shutil.rmtree(cli.run_dir, ignore_errors=True)
        raise


def _print_summary(cli: SERLightningCLI, scores: dict[str, float], best: str) -> None:
    lines = [f"run: {cli.run_dir}"]
    lines += [f"  {key:<24} {scores[key]:.4f}" for key in sorted(scores) if "/f1/" not in key]
    coverage = next((c.coverage["test"] for c in cli.trainer.callbacks
                     if isinstance(c, ReportCallback) and "test" in c.coverage), None)
    if coverage is not None:  # "scored N of M test samples", and why when N < M
        lines.append(f"  {coverage.summary}")
    lines += [f"best checkpoint: {best or '(none: no validation ran)'}",
              f"reports and plots: {Path(cli.config.report.dirpath)}"]
    if cli.trainer.is_global_zero:
        print("\n".join(lines), flush=True)


def _finish_wandb(trainer: Trainer) -> None:
    """Close the W&B run even when training failed, so the offline folder is complete."""
    from lightning.pytorch.loggers import WandbLogger

    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger) and logger._experiment is not None:
            import wandb

            wandb.finish()
