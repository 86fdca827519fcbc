"""``train.py --help`` that fits on a few screens; ``--help_full`` keeps every description.

LightningCLI's help documents each of Lightning's own Trainer, ModelCheckpoint and EarlyStopping
arguments at length (about 570 lines) and spells every option out again in a 100-line usage
block. The concise form keeps the full text of the project's own sections (model, data, run,
wandb, reports, fault tolerance) and lists Lightning's arguments by name and value only, with a
pointer to their documentation. argparse offers no per-group detail level, so this subclasses
its formatter (jsonargparse's DefaultHelpFormatter, which adds types and defaults).
"""
from __future__ import annotations

import argparse
from typing import Any

from jsonargparse import DefaultHelpFormatter

# Sections whose arguments are Lightning's own, documented at lightning.ai (listed by name only).
BRIEF_SECTIONS = ("trainer", "checkpoint", "early_stopping")
DESCRIPTION = (
    "Train a speech-emotion model on prepared WebDataset shards, then test its best checkpoint. "
    "A config is a path or a name in configs/ (--config wavlm.yaml); any key can be overridden as "
    "--section.key=value. Lightning's own trainer.*, checkpoint.* and early_stopping.* arguments are "
    "listed by name here (descriptions: --help_full, or lightning.ai/docs/pytorch/stable/common/trainer.html)."
)


def _brief(action: argparse.Action) -> bool:
    return any(option.lstrip("-").split(".", 1)[0] in BRIEF_SECTIONS and "." in option
               for option in action.option_strings)


class ConciseHelpFormatter(DefaultHelpFormatter):
    """One-line usage; Lightning's arguments as ``--trainer.max_epochs MAX_EPOCHS`` without their essays."""

    def _format_usage(self, usage: Any, actions: Any, groups: Any, prefix: str | None) -> str:
        return f"{prefix or 'usage: '}{self._prog} [-h] [--help_full] [-c CONFIG] [--print_config] [--SECTION.KEY VALUE ...]\n\n"

    def _format_action(self, action: argparse.Action) -> str:
        if _brief(action):
            return f"  {self._format_action_invocation(action)}\n"
        return super()._format_action(action)

    def add_text(self, text: str | None) -> None:
        """Section descriptions are class docstrings (Lightning's run to paragraphs): keep their first line."""
        super().add_text(text.split("\n", 1)[0] if text and "\n" in text else text)


class FullHelpAction(argparse.Action):
    """``--help_full``: the help with every argument's description, as LightningCLI prints it."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest=dest, nargs=0, default=argparse.SUPPRESS,
                         help="show the help with the description of every Lightning argument and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        parser.formatter_class = DefaultHelpFormatter
        parser.print_help()
        parser.exit()
