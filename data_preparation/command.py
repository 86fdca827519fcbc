"""Prepare corpora into WebDataset shards: ``python prepare_data.py --config configs/prepare/demo.yaml``.

Dotted overrides follow the config, e.g. ``--split.mode stratified --workers 4``. User errors
(bad config, unknown labels, missing folders) end with exit status 2 and a readable message.
"""
from __future__ import annotations

import sys

from data_preparation.config import parse_config
from data_preparation.pipeline import prepare


def main(argv: list[str] | None = None) -> int:
    try:
        config = parse_config(argv)  # jsonargparse reports bad keys/values itself and exits 2
        info = prepare(config)
    except (ValueError, FileNotFoundError, FileExistsError) as error:
        print(f"prepare_data: error: {error}", file=sys.stderr)
        return 2
    counts = ", ".join(f"{name} {split.num_samples}" for name, split in info.splits.items())
    print(f"{config.output}: {len(info.classes)} classes ({', '.join(info.classes)}); {counts}")
    return 0


def run(argv: list[str] | None = None) -> None:
    """The command line (``ser-prepare``): :func:`main`'s status as the exit status."""
    sys.exit(main(argv))


if __name__ == "__main__":
    run()
