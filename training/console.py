"""What a training run prints: library lines nobody can act on are dropped, each by its exact text.

The project fixes the calls whose warnings it causes (``weights_only`` on every checkpoint save,
the explicit best checkpoint for the test, W&B's init arguments: training/cli.py,
training/loggers.py). What is left here are lines that libraries print whatever the caller does;
each filter matches one message only, so every other warning still reaches the user.
:func:`quiet_library_noise` is called by the commands (never at import: importing a module must not
change the process's warning filters).
"""
from __future__ import annotations

import logging
import warnings

# (message regex, category, why it cannot be fixed at the call)
LIBRARY_WARNINGS: tuple[tuple[str, type[Warning], str], ...] = (
    (r"`isinstance\(treespec, LeafSpec\)` is deprecated", FutureWarning,
     "Lightning 2.6's CombinedLoader (utilities/_pytree.py) builds a LeafSpec, which newer torch deprecates; "
     "every fit, validate and test prints it, and no argument avoids it"),
    (r"You have overridden `on_after_batch_transfer` in `LightningModule` but have passed in a `LightningDataModule`",
     UserWarning,
     "EmotionClassifier augments on the device in on_after_batch_transfer, where Lightning's docs put it; "
     "Lightning warns whenever a datamodule is passed as well, which every run does"),
)
# (logger, line start): info lines dropped. Lightning 2.6 advertises its LitLogger at every Trainer
# construction; "Seed set to N" comes before any check, so a refused command would print it above its
# one error line: the seed is in the run's first lines instead (training/run_header.py).
DROPPED_LINES: tuple[tuple[str, str], ...] = (("rank_zero", "💡 Tip:"), ("lightning.fabric.utilities.seed", "Seed set to "))


class _DropLines(logging.Filter):
    """Drops the info lines that start with ``start``; every other line passes."""

    def __init__(self, start: str) -> None:
        super().__init__()
        self.start = start

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.start)


def quiet_library_noise() -> None:
    """Install the filters above in this process (idempotent)."""
    for message, category, _why in LIBRARY_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category)
    from lightning_utilities.core import rank_zero

    for name, start in DROPPED_LINES:
        # "rank_zero": the logger rank_zero_info writes to (Lightning points it at its own on import)
        logger = rank_zero.log if name == "rank_zero" else logging.getLogger(name)
        if not any(isinstance(f, _DropLines) and f.start == start for f in logger.filters):
            logger.addFilter(_DropLines(start))
