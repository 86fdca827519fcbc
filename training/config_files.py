"""``--config wavlm.yaml``: a bare config name is looked up in the project's ``configs/`` folder.

The design card's command is ``python train.py --config wavlm.yaml``; jsonargparse only opens
paths, so ``wavlm.yaml`` worked from inside ``configs/`` alone. A name that is not a file as given
is tried as ``configs/NAME`` and ``configs/NAME.yaml`` (so ``--config seeds/000/cnn_mfcc`` works
too), the file used is reported, and a name found nowhere is a one-line error that lists the run
configs there are. Paths that exist, and inline YAML, pass through unchanged. ``configs/`` is the
one beside the code (so ``ser-train --config wavlm.yaml`` works from any directory after
``pip install -e .``), then the working directory's.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Sequence

from lightning.pytorch.utilities import rank_zero_info

from user_errors import UserError

CONFIGS_DIR = Path(__file__).resolve().parents[1] / "configs"
# Folders of configs/ that hold pieces (a trainer, a net, labels, ...), not whole run configs.
PIECE_FOLDERS = {"after_training", "augment", "callbacks", "debug", "labels", "logger", "net", "prepare", "protocols",
                 "recipes", "taxonomy", "trainer"}


def run_configs(configs_dir: Path = CONFIGS_DIR) -> list[str]:
    """Names (relative to ``configs_dir``, without .yaml) of the configs a run can start from."""
    names = []
    for path in sorted(configs_dir.rglob("*.yaml")):
        relative = path.relative_to(configs_dir)
        if relative.parts[0] not in PIECE_FOLDERS:
            names.append(relative.with_suffix("").as_posix())
    return names


def resolve_config_name(name: str, configs_dir: Path = CONFIGS_DIR) -> str:
    """``name`` if it is a file (or inline YAML), else the matching file of ``configs_dir``.

    >>> resolve_config_name("demo.yaml") == str(CONFIGS_DIR / "demo.yaml")
    True
    >>> resolve_config_name("demo") == str(CONFIGS_DIR / "demo.yaml")
    True
    """
    if Path(name).is_file() or "\n" in name or name.lstrip().startswith("{"):
        return name
    names = [name] + ([f"{name}.yaml"] if not name.endswith((".yaml", ".yml")) else [])
    # The installed code's configs/ (an editable install: the clone's), then the working directory's.
    folders = dict.fromkeys([configs_dir, Path.cwd() / "configs"])
    for candidate in (folder / each for folder in folders for each in names):
        if candidate.is_file():
            rank_zero_info(f"config: {candidate}")
            return str(candidate)
    raise UserError(f"--config {name}: no such file, here or in {configs_dir}; run configs there: "
                    f"{', '.join(run_configs(configs_dir))}")


def resolve_config_args(args: Sequence[str], configs_dir: Path = CONFIGS_DIR) -> list[str]:
    """``args`` with the value of every ``--config X`` / ``--config=X`` resolved by :func:`resolve_config_name`.

    >>> resolve_config_args(["--config", "demo", "--model.lr=1"])[1] == str(CONFIGS_DIR / "demo.yaml")
    True
    """
    resolved, position = [], 0
    while position < len(args):
        arg = args[position]
        if arg == "--config" and position + 1 < len(args):
            resolved += [arg, resolve_config_name(args[position + 1], configs_dir)]
            position += 2
            continue
        if arg.startswith("--config="):
            arg = "--config=" + resolve_config_name(arg.split("=", 1)[1], configs_dir)
        resolved.append(arg)
        position += 1
    return resolved


class ResolvesConfigNames:
    """Mixin before ``LightningCLI``: ``--config`` values go through :func:`resolve_config_args` first.

    train.py's and pretrain.py's CLIs share it. Without ``args``, the command line itself is parsed
    here, as LightningCLI would, minus its "args and argv" warning.
    """

    def parse_arguments(self, parser: Any, args: Any) -> None:
        if args is None:
            self.config = parser.parse_args(resolve_config_args(sys.argv[1:]))
            return
        if isinstance(args, (list, tuple)):
            args = resolve_config_args(list(args))
        super().parse_arguments(parser, args)  # type: ignore[misc]  (LightningCLI's, next in the MRO)
