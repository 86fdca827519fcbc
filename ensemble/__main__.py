"""Build a stacked ensemble of trained models (seed 000 §6.3.4) and compare it with its members.

    python -m ensemble --config configs/after_training/ensemble.yaml
    python -m ensemble --members '{"wav2vec2": "runs/wav2vec2-...", "wavlm": "runs/wavlm-..."}' \
        --data_root data/prepared --output_dir runs/ensemble

The output folder is the artefact: ``python predict.py --model runs/ensemble`` and
``python evaluate.py --model runs/ensemble`` load it like a checkpoint.
"""
from __future__ import annotations

import logging
from pathlib import Path
from jsonargparse import ActionConfigFile, ArgumentParser

from data_preparation.input_contract import InputOverrides
from ensemble.build import build_ensemble
from ensemble.meta_learner import MetaLearnerConfig


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="python -m ensemble", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", action=ActionConfigFile)
    parser.add_argument("--members", type=dict[str, str], required=True, help="name -> checkpoint (order kept)")
    parser.add_argument("--data_root", type=str, required=True)
    parser.add_argument("--output_dir", type=str, required=True)
    parser.add_argument("--combiner", type=str, default="stacked", help="stacked, mean or weighted_mean")
    parser.add_argument("--weight_metric", type=str, default="weighted_f1", help="validation metric for weights")
    parser.add_argument("--val_split", type=str, default="val")
    parser.add_argument("--test_split", type=str, default="test")
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--device", type=str, default="auto")
    InputOverrides.add_arguments(parser)  # --max_seconds --pad_to_seconds --padding --eval_crop (default: the members' contract)
    parser.add_argument("--copy_members", type=bool, default=True, help="copy checkpoints into the artefact")
    parser.add_class_arguments(MetaLearnerConfig, "meta_learner")
    return parser


def main(argv: list[str] | None = None) -> list[dict]:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    config = build_parser().parse_args(argv)
    rows = build_ensemble(
        config.members, config.data_root, config.output_dir, MetaLearnerConfig(**config.meta_learner.as_dict()),
        config.combiner, config.weight_metric, config.val_split, config.test_split, config.batch_size,
        config.device, InputOverrides.from_config(config), config.copy_members,
    )
    print((Path(config.output_dir) / "comparison.md").read_text())
    return rows


def run(argv: list[str] | None = None) -> None:
    """``python -m ensemble`` / ``ser-ensemble``: :func:`main` without its return value (exit status 0)."""
    main(argv)


if __name__ == "__main__":
    run()
