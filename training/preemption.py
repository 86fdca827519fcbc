"""Preemption and time limits on SLURM: checkpoint at a safe point, requeue, exit.

``slurm/train.sh`` asks SLURM for ``SIGUSR1`` 90 s before the job is killed (``--signal``), and
``scancel -s USR1 JOB`` sends the same signal by hand. What Lightning 2.6 does with that signal
(``SLURMEnvironment(auto_requeue=True)``, trainer/connectors/signal_connector.py) is to run
``trainer.save_checkpoint`` *inside the signal handler*, wherever each rank happens to be, then
``scontrol requeue``, and carry on training until SLURM kills it. Under DDP a rank can be inside a
gradient all-reduce while another enters the checkpoint barrier, and the checkpoint can capture
a half-done step (for example after the optimiser step, before its progress counters moved).

This callback only sets a flag in the handler. At the next optimiser-step boundary (end of a
training batch that stepped, or the end of the epoch after early stopping and
ModelCheckpoint) the ranks agree on the flag in one
all-reduce, save ``hpc_ckpt_N.ckpt`` in ``default_root_dir`` together (Lightning's own naming,
so ``fit(ckpt_path=None)`` under SLURM, ``ckpt_path="hpc"`` and ``--ckpt_path last`` all find it), rank zero runs
``scontrol requeue``, and every rank leaves with :class:`Requeued` (a ``SystemExit(0)``), before
any further validation or checkpointing could change the state that was saved. It installs its
handler before Lightning registers its own, so Lightning's in-handler save does not run.
"""
from __future__ import annotations

import logging
import signal
import subprocess
from pathlib import Path
from types import FrameType

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Checkpoint
from lightning.pytorch.utilities import rank_zero_info

from training.resume import HPC_PATTERN, slurm_job_id

log = logging.getLogger(__name__)


class Requeued(SystemExit):
    """Ends the process with status 0 after the preemption checkpoint; SLURM restarts the job."""

    def __init__(self) -> None:
        super().__init__(0)


def next_hpc_path(folder: str | Path) -> Path:
    """``hpc_ckpt_{n+1}.ckpt`` after the highest ``n`` present (Lightning's preemption naming)."""
    folder = Path(folder)
    versions = [int(m.group(1)) for p in folder.glob("hpc_ckpt_*.ckpt") if (m := HPC_PATTERN.match(p.name))]
    return folder / f"hpc_ckpt_{max(versions, default=0) + 1}.ckpt"


def requeue_job(job_id: str) -> bool:
    """``scontrol requeue JOB``; True when SLURM accepted it."""
    try:
        done = subprocess.run(["scontrol", "requeue", job_id], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        log.error("scontrol requeue %s failed: %s", job_id, error)
        return False
    if done.returncode != 0:
        log.error("scontrol requeue %s failed (%d): %s", job_id, done.returncode, done.stderr.strip())
    return done.returncode == 0


class RequeueOnSignal(Checkpoint):
    """On ``signal_name``: checkpoint at the next step boundary, requeue the SLURM job, exit.

    A ``Checkpoint`` subclass so Lightning runs its epoch-end hook with the monitoring callbacks;
    ``trainer.checkpoint_callback`` stays the ModelCheckpoint, because this one moves itself last.

    Args:
        signal_name: the pre-kill signal ``slurm/train.sh`` asks for (``--signal=USR1@90``).
        requeue: run ``scontrol requeue`` (only inside a SLURM job). Outside SLURM the run just
            checkpoints and exits, and the same command with ``--ckpt_path last`` resumes it.
    """

    def __init__(self, signal_name: str = "SIGUSR1", requeue: bool = True) -> None:
        try:
            self.signum = signal.Signals[signal_name]
        except KeyError as error:
            raise ValueError(f"RequeueOnSignal.signal_name: unknown signal {signal_name!r}") from error
        self.requeue = requeue
        self.requested = False
        self.checkpoint_path: Path | None = None
        self._previous: signal.Handlers | None = None

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True  # nothing else is safe here: see the module docstring

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage != "fit":
            return
        self._previous = signal.signal(self.signum, self._on_signal)
        # Lightning calls monitoring callbacks (EarlyStopping, Checkpoint subclasses) after the others in
        # on_train_epoch_end, in list order; going last means the epoch-end save holds their updates.
        trainer.callbacks.remove(self)
        trainer.callbacks.append(self)

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage == "fit" and self._previous is not None:
            signal.signal(self.signum, self._previous)
            self._previous = None

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch, batch_idx: int) -> None:
        stepped = (batch_idx + 1) % trainer.accumulate_grad_batches == 0
        last = trainer.fit_loop.epoch_loop.batch_progress.is_last_batch
        if stepped and not last:  # the epoch's last batch waits for on_train_epoch_end
            self._maybe_requeue(trainer)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Runs last (see ``setup``): after the epoch's validation, early stopping and best-F1 checkpoint,
        the same point at which ModelCheckpoint writes ``last.ckpt``."""
        self._maybe_requeue(trainer)

    def _maybe_requeue(self, trainer: pl.Trainer) -> None:
        if not trainer.strategy.reduce_boolean_decision(self.requested, all=False):
            return
        self.checkpoint_path = next_hpc_path(trainer.default_root_dir) if trainer.is_global_zero else None
        path = trainer.strategy.broadcast(self.checkpoint_path, src=0)
        trainer.save_checkpoint(path, weights_only=False)  # the full state a resume needs; all ranks: sharded strategies need everyone
        rank_zero_info(f"{self.signum.name}: saved {path} at epoch {trainer.current_epoch}, step {trainer.global_step}")
        job = slurm_job_id()
        if trainer.is_global_zero:
            _flush_loggers(trainer)  # before the requeue: SLURM kills the job's processes right after it
            if self.requeue and job is not None and requeue_job(job):
                rank_zero_info(f"requeued SLURM job {job}; it resumes from {path}")
        raise Requeued()


def _flush_loggers(trainer: pl.Trainer) -> None:
    """Write pending metrics (CSV flushes every 100 steps otherwise) and close the W&B run as preempted,
    so the requeued job continues it (same id, ``resume="allow"``) with nothing lost."""
    for logger in trainer.loggers:
        try:
            logger.save()
            if type(logger).__name__ == "WandbLogger" and logger._experiment is not None:
                logger.experiment.mark_preempting()
                logger.experiment.finish()
        except Exception as error:  # logging trouble must never cost the checkpoint or the requeue
            log.warning("flushing %s before requeue failed: %s", type(logger).__name__, error)
