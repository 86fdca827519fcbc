"""A protocol's results: results.json (everything), results.csv (one row per fold plus mean and
std), results.md (the tables a paper shows) and a summary run in the protocol's W&B group."""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Sequence

from protocols.scores import CORPUS_METRICS, LABELS, METRICS, aggregate, format_mean_std

RESULTS = ("results.json", "results.csv", "results.md")


METRIC_DEFINITIONS = ("UA = unweighted average recall (recall averaged over classes, i.e. balanced accuracy); "
                      "WA = weighted accuracy (plain accuracy over test clips); macro-F1 = F1 averaged over "
                      "classes; weighted-F1 = F1 averaged with class support as weights.")


def write_results(folder: Path, name: str, folds: Sequence[dict[str, Any]], source: str = "",
                  protocol_folds: int | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Aggregate the finished folds and write the three result files into ``folder``.

    ``protocol_folds``: the protocol's fold count when only the first ``len(folds)`` were run
    (``--limit_folds``); the files then say they are not the protocol's figure. ``extra``: more
    top-level keys for results.json (``recipe``: the config every fold trained with; ``classes``,
    ``corpora``, ``train_args``: what the results page, protocols/report.py, shows beside the scores).
    """
    summary = {"protocol": name, "source": source, "protocol_folds": protocol_folds or len(folds),
               **(extra or {}), "folds": list(folds), "summary": aggregate(folds)}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(summary, indent=2, sort_keys=True))
    _write_csv(folder / "results.csv", folds, summary["summary"])
    (folder / "results.md").write_text(format_markdown(name, folds, summary["summary"], source, protocol_folds))
    return summary


def _write_csv(path: Path, folds: Sequence[dict[str, Any]], summary: dict[str, Any]) -> None:
    corpora = sorted(summary["per_corpus"])
    columns = ["fold", "held_out", "num_samples", *METRICS, *[f"{m}/{c}" for c in corpora for m in CORPUS_METRICS],
               *[f"{m}/corpus_macro" for m in CORPUS_METRICS if summary["corpus_macro"]]]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for fold in folds:
            row = [fold["fold"], fold["held_out"], fold["num_samples"], *[fold[m] for m in METRICS]]
            row += [fold["per_corpus"].get(c, {}).get(m, "") for c in corpora for m in CORPUS_METRICS]
            row += [fold["corpus_macro"].get(m, "") for m in CORPUS_METRICS if summary["corpus_macro"]]
            writer.writerow(row)
        for stat in ("mean", "std"):
            row = [stat, "", "", *[summary["pooled"][m][stat] for m in METRICS]]
            row += [summary["per_corpus"][c][m][stat] for c in corpora for m in CORPUS_METRICS]
            row += [summary["corpus_macro"][m][stat] for m in CORPUS_METRICS if summary["corpus_macro"]]
            writer.writerow(["" if v is None else v for v in row])


def _preamble(name: str, folds: Sequence[dict[str, Any]], source: str, protocol_folds: int | None) -> list[str]:
    """Title, source, metric definitions, and a warning when only some folds ran."""
    lines = [f"# {name}: {len(folds)} fold(s), mean ± sample std (%)", ""]
    if protocol_folds and protocol_folds != len(folds):
        lines += [f"**Shakedown, not the protocol's figure: the first {len(folds)} of its {protocol_folds} folds "
                  "(--limit_folds).**", ""]
    lines += [f"Source: {source or '(not stated in the protocol file)'}", "",
              f"Metrics: {METRIC_DEFINITIONS} Folds are named as the source names them. Mean ± sample standard "
              "deviation over folds (n - 1 in the denominator; one fold shows its value alone).", ""]
    return lines


def format_markdown(name: str, folds: Sequence[dict[str, Any]], summary: dict[str, Any], source: str = "",
                    protocol_folds: int | None = None) -> str:
    """Source and metric definitions, the per-fold table with a mean ± std row (percent; std is the
    sample std), then per corpus."""
    header = "| fold | held out | test clips | " + " | ".join(LABELS[m] for m in METRICS) + " |"
    lines = [*_preamble(name, folds, source, protocol_folds), header, "|" + " --- |" * (3 + len(METRICS))]
    for fold in folds:
        cells = " | ".join(f"{fold[m] * 100:.2f}" for m in METRICS)
        lines.append(f"| {fold['fold']} | {fold['held_out']} | {fold['num_samples']} | {cells} |")
    cells = " | ".join(format_mean_std(summary["pooled"][m]) for m in METRICS)
    lines.append(f"| **mean ± std** | | | {cells} |")
    if summary["per_corpus"]:
        lines += ["", "Per corpus (over the folds that test it) and the macro average over corpora:", "",
                  "| corpus | folds | " + " | ".join(LABELS[m] for m in CORPUS_METRICS) + " |",
                  "|" + " --- |" * (2 + len(CORPUS_METRICS))]
        rows = list(summary["per_corpus"].items()) + ([("**macro over corpora**", summary["corpus_macro"])]
                                                      if summary["corpus_macro"] else [])
        for corpus, cells_of in rows:
            count = cells_of[CORPUS_METRICS[0]]["n"]
            lines.append(f"| {corpus} | {count} | " + " | ".join(format_mean_std(cells_of[m]) for m in CORPUS_METRICS) + " |")
    return "\n".join(lines) + "\n"


def log_wandb_summary(folder: Path, name: str, project: str, summary: dict[str, Any]) -> Path | None:
    """A ``<name>-summary`` run in the W&B group ``name``: the fold table and mean/std as summary values.

    Offline (into ``folder/wandb``) unless a W&B key is configured, like the fold runs.
    """
    import wandb

    from training.loggers import has_wandb_key
    from training.run_identity import safe_wandb_id

    run = wandb.init(project=project, group=name, name=f"{name}-summary", id=safe_wandb_id(f"{name}-summary"),
                     job_type="aggregate", dir=str(folder), mode="online" if has_wandb_key() else "offline",
                     resume="allow", reinit=True)
    try:
        columns = ["fold", "held_out", "num_samples", *METRICS]
        table = wandb.Table(columns=columns, data=[[f[c] for c in columns] for f in summary["folds"]])
        run.log({"protocol/folds": table})
        for metric, cell in summary["summary"]["pooled"].items():
            run.summary[f"protocol/{metric}_mean"] = cell["mean"]
            run.summary[f"protocol/{metric}_std"] = cell["std"]
        return Path(run.dir)
    finally:
        run.finish()
