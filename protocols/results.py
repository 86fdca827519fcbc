"""A protocol's results: results.json (everything), results.csv (one row per fold plus mean and
std), results.md (the tables a paper shows) and a summary run in the protocol's W&B group."""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Sequence

from protocols.scores import CORPUS_METRICS, LABELS, METRICS, aggregate, format_mean_std

RESULTS = ("results.json", "results.csv", "results.md")


def write_results(folder: Path, name: str, folds: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Aggregate the finished folds and write the three result files into ``folder``."""
    summary = {"protocol": name, "folds": list(folds), "summary": aggregate(folds)}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(summary, indent=2, sort_keys=True))
    _write_csv(folder / "results.csv", folds, summary["summary"])
    (folder / "results.md").write_text(format_markdown(name, folds, summary["summary"]))
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


def format_markdown(name: str, folds: Sequence[dict[str, Any]], summary: dict[str, Any]) -> str:
    """The per-fold table with a mean ± std row (percent; std is the sample std), then per corpus."""
    header = "| fold | held out | test clips | " + " | ".join(LABELS[m] for m in METRICS) + " |"
    lines = [f"# {name}: {len(folds)} fold(s), mean ± sample std (%)", "", header,
             "|" + " --- |" * (3 + len(METRICS))]
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
