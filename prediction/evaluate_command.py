"""Score a checkpoint or an ensemble on one split of prepared shards and write its report folder.

    python evaluate.py --model runs/demo --data_root data/prepared/demo --split test --output_dir reports/demo
    python evaluate.py --config configs/after_training/evaluate.yaml --model runs/ensemble
    python evaluate.py --model runs/protocols/emodb-emobox/folds/emodb-emobox-fold0 \
        --data_root data/prepared/protocols/emodb_emobox --fold 0 --output_dir reports/emodb-fold0

The folder gets report.json (every number), classification_report.txt, confusion_counts.png,
confusion_normalized.png, per_corpus.csv and logits.npz. Clips are cropped and padded as the
checkpoint's input contract says (the clip length, padding and crop it was tested with), so the
scores are train.py's; --max_seconds, --pad_to_seconds, --padding and --eval_crop override it.
A model whose classes differ from the data's stops with an error naming them, unless
--class_mapping says how to relate them (e.g. --class_mapping '{"joy": "happy", "boredom": null}').
Missing shards stop it naming each; a score over fewer samples than stats.json lists (unreadable
or mislabelled ones skipped) is written, says "scored N of M" and exits 1, unless
--allow_incomplete true accepts it. A model trained with per-speaker normalisation normalises each
clip by its speaker's statistics over the split, as train.py's test step did; --speaker_stats
population uses the training population's instead (what predict.py gives an unknown speaker).

It lives in prediction/, not evaluation/: it loads any trained model (checkpoint, run folder,
ensemble) through prediction's loaders, while evaluation/ holds the scoring that layers below
prediction (callbacks, classical baselines) use too.
"""
from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any, Optional

from jsonargparse import ActionConfigFile, ArgumentParser

from data_preparation.input_contract import InputOverrides
from evaluation.coverage import Coverage, IncompleteScoreError
from evaluation.report import build_report, format_classification_report, summary_row, write_report
from prediction.predictor import load_predictor
from prediction.split_logits import SplitLogits, collect_logits
from prediction.split_speakers import SPEAKER_STATS
from user_errors import exit_on_user_error

log = logging.getLogger("evaluate")


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", action=ActionConfigFile)
    parser.add_argument("--model", type=str, required=True, help="checkpoint (.ckpt), train.py run folder (its best checkpoint), ensemble folder or classical run folder")
    parser.add_argument("--data_root", type=str, required=True, help="prepared dataset (folder of stats.json)")
    parser.add_argument("--split", type=str, default="test")
    parser.add_argument("--fold", type=Optional[int], default=None,
                        help="a dataset prepared as folds (cross_validate.py): the fold whose --split is scored")
    parser.add_argument("--output_dir", type=str, required=True)
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--device", type=str, default="auto")
    InputOverrides.add_arguments(parser)  # --max_seconds --pad_to_seconds --padding --eval_crop
    parser.add_argument("--class_mapping", type=Optional[dict[str, Optional[str]]], default=None,
                        help="model class -> data class (null drops it), for models of another taxonomy")
    parser.add_argument("--speaker_stats", type=str, default="split", choices=SPEAKER_STATS,
                        help="models trained with per-speaker normalisation: split (each speaker's statistics "
                             "over the scored split, as train.py's test) or population (the training population's)")
    parser.add_argument("--top_confusions", type=int, default=10)
    parser.add_argument("--allow_incomplete", type=bool, default=False,
                        help="accept a score over fewer samples than stats.json lists; the report says so")
    return parser


def report_for(logits: SplitLogits, name: str, top_confusions: int = 10) -> dict[str, Any]:
    """The report of one predictor's logits, with what was skipped or excluded on the way."""
    report = build_report(logits.labels, logits.logits[name], logits.class_names, logits.corpora, top_confusions)
    report["skipped_samples"] = logits.skipped
    report["excluded_samples"] = logits.excluded
    return report


def coverage_of(logits: SplitLogits, split: str, allowed: bool) -> Coverage:
    """How many of the split's samples (stats.json) the logits cover, the class mapping's exclusions aside."""
    expected = len(logits.keys) + sum(logits.excluded.values()) if logits.expected is None else logits.expected
    return Coverage(split, len(logits.keys), expected, excluded=sum(logits.excluded.values()), allowed=allowed)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    config = build_parser().parse_args(argv)
    predictor = load_predictor(config.model, device=config.device)
    overrides = InputOverrides.from_config(config)
    logits = collect_logits({"model": predictor}, config.data_root, config.split, config.batch_size,
                            overrides, config.class_mapping, config.speaker_stats, config.fold)
    report = report_for(logits, "model", config.top_confusions)
    coverage = coverage_of(logits, config.split, config.allow_incomplete)
    report["coverage"] = coverage.as_dict()
    contract = predictor.input_contract
    report["source"] = {"model": config.model, "data_root": config.data_root, "split": config.split,
                        "fold": config.fold,
                        "input_contract": contract.to_dict() if contract else None,
                        "input_overrides": overrides.to_dict(), "model_classes": predictor.class_names,
                        "class_mapping": config.class_mapping, "speaker_stats": config.speaker_stats}
    output = Path(config.output_dir)
    write_report(report, output)
    logits.save(output / "logits.npz")
    if logits.skipped:
        log.warning("%d samples could not be read; see skipped_samples in %s", len(logits.skipped), output / "report.json")
    if logits.excluded:
        log.warning("samples of classes the model cannot predict were left out: %s", logits.excluded)
    print(format_classification_report(report))
    print(json.dumps(summary_row(report), indent=2))
    log.info("report written to %s", output)
    coverage.check(allow_with="--allow_incomplete true")
    return report


def run(argv: list[str] | None = None) -> None:
    """``python evaluate.py`` / ``ser-evaluate``: :func:`main`, exit 2 for a user error, 1 for an incomplete score."""
    with exit_on_user_error("evaluate.py", also=(ValueError, FileNotFoundError)):  # bad model, data, unsafe checkpoint
        try:
            main(argv)
        except IncompleteScoreError as error:  # the report is written; the score is not the split's
            print(f"evaluate.py: {error}", file=sys.stderr)
            sys.exit(1)
    sys.exit(0)


if __name__ == "__main__":
    run()
