"""README.md model card for an exported transformers folder: what Hub and ``pipeline()`` users read first.

The card is assembled from what travelled with the model, never re-typed: class names and the
input contract from the checkpoint, the training data from the dataset's stats.json (found through
the run's saved config), and the test metrics from the run's own test report, each named with the
split it was measured on. Anything that is not found is said to be unknown rather than guessed.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from data_preparation.input_contract import InputContract
from data_preparation.shards.shard_format import STATS_FILE

CONFIG_CANDIDATES = ("config.yaml", "csv/config.yaml")  # where a run folder keeps its resolved config
TEST_REPORT = Path("reports") / "test" / "report.json"

LIMITS = """\
- Trained on the corpora listed above. Most emotional-speech corpora are acted, read by few
  speakers in a studio, and mostly English: expect lower scores on spontaneous speech, other
  languages, other microphones and noisy rooms.
- Scores from a split with speakers shared between training and test (`stratified`) overstate
  what the model does for a new speaker; `speaker` splits do not share speakers.
- Emotion labels are the corpora's intended or annotated categories, not a person's felt state.
  Do not use the predictions to make decisions about individuals."""


def run_folder_of(checkpoint: str | Path) -> Path | None:
    """``runs/<name>`` for a checkpoint in ``runs/<name>/checkpoints/``; None elsewhere."""
    folder = Path(checkpoint).resolve().parent.parent
    return folder if any((folder / name).is_file() for name in CONFIG_CANDIDATES) else None


def _read_yaml(folder: Path) -> dict[str, Any]:
    for name in CONFIG_CANDIDATES:
        if (folder / name).is_file():
            return yaml.safe_load((folder / name).read_text()) or {}
    return {}


def _training_data(config: Mapping[str, Any]) -> tuple[str | None, dict[str, Any] | None]:
    data_root = (config.get("data") or {}).get("data_root")
    stats = Path(str(data_root)) / STATS_FILE if data_root else None
    return data_root, (json.loads(stats.read_text()) if stats is not None and stats.is_file() else None)


def _data_section(data_root: str | None, stats: Mapping[str, Any] | None) -> list[str]:
    if stats is None:
        return [f"Prepared dataset: `{data_root or 'unknown'}` (its stats.json was not found at export time)."]
    extra = stats.get("extra") or {}
    split = extra.get("split") or {}
    lines = [f"Prepared dataset `{data_root}`, taxonomy `{stats.get('taxonomy') or 'unknown'}`, split mode "
             f"`{split.get('mode', 'unknown')}` (fractions {split.get('fractions', '?')}, seed {split.get('seed', '?')}).", "",
             "| split | clips | per corpus |", "| --- | --- | --- |"]
    for name, info in (stats.get("splits") or {}).items():
        corpora = ", ".join(f"{corpus} {count}" for corpus, count in (info.get("per_corpus") or {}).items())
        lines.append(f"| {name} | {info.get('num_samples', '?')} | {corpora} |")
    return lines


def _metrics_section(report: Mapping[str, Any] | None) -> list[str]:
    if report is None:
        return ["No test report was found beside the checkpoint; run `evaluate.py` on a held-out split."]
    from evaluation.report import summary_row

    row = {k: v for k, v in summary_row(report).items() if v is not None}
    lines = [f"On the test split ({report.get('num_samples', '?')} clips, scored by the training run):", "",
             "| metric | value |", "| --- | --- |"]
    lines += [f"| {name} | {value:.4f} |" for name, value in row.items()]
    return lines


def model_card(class_names: Sequence[str], contract: InputContract | None, base_model: str | None,
               run_folder: Path | None, native: bool) -> str:
    """The card's text: Hub front matter, then labels, input, data, metrics, use and limits."""
    config = _read_yaml(run_folder) if run_folder else {}
    data_root, stats = _training_data(config)
    report_path = run_folder / TEST_REPORT if run_folder else None
    report = json.loads(report_path.read_text()) if report_path is not None and report_path.is_file() else None
    front = {"library_name": "transformers", "pipeline_tag": "audio-classification",
             "tags": ["speech-emotion-recognition", "audio-classification"]}
    if base_model and not Path(base_model).exists():
        front["base_model"] = base_model  # a hub name; a local folder means nothing to the Hub
    loader = ("pipeline(\"audio-classification\", model=FOLDER)" if native
              else "pipeline(\"audio-classification\", model=FOLDER, trust_remote_code=True)")
    rate = contract.sample_rate if contract is not None else "the training"
    sections = [
        "---", yaml.safe_dump(front, sort_keys=False).strip(), "---", "",
        "# Speech emotion classifier", "",
        f"Fine-tuned from `{base_model or 'unknown'}` by the SER toolkit's train.py. Load it with `{loader}`.", "",
        "## Labels", "", ", ".join(f"`{i}: {name}`" for i, name in enumerate(class_names)), "",
        "## Input", "",
        (f"Mono audio at {rate} Hz. Trained on {contract.describe()}: feed clips of about "
         f"{contract.clip_seconds:g} s; score longer recordings in windows of that length."
         if contract is not None else "Mono audio; the checkpoint carried no input contract."), "",
        "## Training data and protocol", "", *_data_section(data_root, stats), "",
        "## Metrics", "", *_metrics_section(report), "",
        "## Intended use and limits", "",
        "Research on speech emotion recognition: comparing models and protocols, and labelling recordings "
        "for study. Not validated for clinical, hiring, surveillance or other decisions about people.", "",
        LIMITS, "",
    ]
    return "\n".join(sections)


def write_model_card(folder: Path, class_names: Sequence[str], contract: InputContract | None,
                     base_model: str | None, run_folder: Path | None, native: bool) -> Path:
    path = Path(folder) / "README.md"
    path.write_text(model_card(class_names, contract, base_model, run_folder, native), encoding="utf-8")
    return path
