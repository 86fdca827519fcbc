"""Run a benchmark protocol: ``python cross_validate.py --config configs/protocols/<name>.yaml``.

Prepares the shards once (folds share them), trains and tests every fold with the protocol's
train.py config (each fold in ``<output>/<name>/folds/<name>-fold<k>/``; finished folds are not
retrained, an interrupted one resumes), and writes mean ± sample std of UA, WA, macro-F1 and
weighted-F1 into ``<output>/<name>/results.{md,csv,json}`` and a summary run in the W&B group
``<name>``. On SLURM, ``sbatch --array=0-<K-1> slurm/cross_validate.sh CONFIG`` runs one fold per
task (``--fold``); the task that finishes the last fold aggregates (``--aggregate_only`` redoes it).
``--corpus_root NAME=FOLDER`` / ``--partition_dir`` / ``--prepared_dir`` point a shipped protocol at
the user's copies (protocols/config.py); ``--limit_folds N`` is a shakedown over the first N folds;
``--classical configs/classical/egemaps_svm.yaml`` runs the classical baseline on the same folds
(protocols/classical_folds.py).
User errors end with one line and exit status 2.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

from data_preparation.split.emobox import format_partition_report
from data_preparation.shards.shard_format import DatasetInfo
from protocols.config import Invocation, ProtocolConfig, parse_args
from protocols.weights import check_protocol_weights
from protocols.results import log_wandb_summary, write_results
from protocols.runner import FoldFailedError, fold_count, fold_name, fold_result, prepare_protocol, run_fold, run_logged


def result_details(protocol: ProtocolConfig, info: DatasetInfo) -> dict[str, Any]:
    """What results.json records beside the scores: classes, corpora, the recipe and its arguments."""
    corpora = [c["name"] for c in protocol.data_overrides.get("corpora", []) if isinstance(c, dict) and "name" in c]
    return {"classes": list(info.classes), "corpora": corpora, "train_args": list(protocol.train_args)}


def aggregate_if_complete(invocation: Invocation, folds: int, info: DatasetInfo | None = None) -> bool:
    """Write the results when every fold (of the first ``--limit_folds``) has finished; True when it did."""
    protocol = invocation.protocol
    wanted = invocation.folds_to_run(folds)
    results = [fold_result(protocol, k) for k in range(wanted)]
    missing = [k for k, r in enumerate(results) if r is None]
    if missing:
        print(f"{protocol.name}: {wanted - len(missing)} of {wanted} folds finished; missing {missing}: not aggregated yet")
        return False
    extra = {"recipe": protocol.train, "recipe_kind": "train.py", **(result_details(protocol, info) if info else {})}
    summary = write_results(protocol.folder, protocol.name, results, protocol.source, folds, extra)
    log_wandb_summary(protocol.folder, protocol.name, protocol.wandb_project, summary)
    print((protocol.folder / "results.md").read_text())
    print(f"results: {protocol.folder}/results.md, results.csv, results.json")
    return True


def main(argv: list[str] | None = None, start: Callable[[list[str], Path], tuple[int, str]] = run_logged) -> int:
    """The command; ``start`` runs one fold's train.py command (tests run it in-process)."""
    try:
        invocation = parse_args(argv)  # jsonargparse reports bad keys/values itself and exits 2
        protocol = invocation.protocol
        if not (invocation.prepare_only or invocation.aggregate_only or invocation.classical):  # before hours of preparation
            check_protocol_weights(protocol)
        data_root, info = prepare_protocol(protocol)
        folds = fold_count(info)
        if invocation.fold is not None and not 0 <= invocation.fold < folds:
            raise ValueError(f"--fold {invocation.fold}: the protocol has folds 0..{folds - 1}")
    except (ValueError, FileNotFoundError, FileExistsError) as error:
        print(f"cross_validate: error: {error}", file=sys.stderr)
        return 2
    names = ", ".join(fold_name(info, k) for k in range(folds))
    print(f"{protocol.name}: {folds} fold(s) over {data_root}: {names} (sbatch --array=0-{folds - 1} "
          "slurm/cross_validate.sh CONFIG)")
    if info.extra.get("partition"):  # matched, unmatched and unnamed clips of a published partition
        print(format_partition_report(info.extra["partition"]))
    if invocation.prepare_only:
        return 0
    if invocation.classical:  # imported here: scikit-learn and openSMILE load only for the classical row
        from protocols import classical_folds

        return classical_folds.run_protocol(invocation, data_root, info)
    if not invocation.aggregate_only:
        todo = range(invocation.folds_to_run(folds)) if invocation.fold is None else [invocation.fold]
        try:
            for fold in todo:
                run_fold(protocol, data_root, info, fold, invocation.launcher, start)
        except FoldFailedError as error:  # one line naming the fold and its log, not a traceback
            print(f"cross_validate: error: {error}", file=sys.stderr)
            return 2
    complete = aggregate_if_complete(invocation, folds, info)
    return 0 if complete or invocation.fold is not None else 1


def run(argv: list[str] | None = None) -> None:
    """The command line (``ser-cross-validate``): :func:`main`'s status as the exit status."""
    sys.exit(main(argv))


if __name__ == "__main__":
    run()
