"""The results page: ``python -m protocols.report RUNS... --output docs/results.md``.

Collects the ``results.json`` files cross_validate.py (or the classical baseline) wrote, under the
given files or folders, into one Markdown page: a summary of every protocol's mean UA per recipe,
then per protocol its corpus, the source of its folds, its classes, one row per recipe (UA / WA /
macro-F1 mean ± sample std over folds, the change in UA against the baseline recipe on the same
folds, wall and CPU time per fold, the load average and the machine), and the published figures for
that corpus (``docs/published_results.yaml``) with their citation and whether their protocol is
ours. The page names the command that made it, so it is regenerated, never edited. Files from before
the timing fields (no ``cost``/``machine``/``train``) still load: their cells say "not recorded".
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import yaml

from data_preparation.config import name_value_pairs
from protocols.results import METRIC_DEFINITIONS
from protocols.scores import format_mean_std, mean_std
from user_errors import UserError, exit_on_user_error

DEFAULT_PUBLISHED = Path(__file__).resolve().parents[1] / "docs" / "published_results.yaml"
SHOWN = ("ua", "wa", "macro_f1")
NOT_RECORDED = "not recorded"


@dataclass
class Entry:
    """One results.json: a protocol run with one recipe."""

    path: Path
    data: dict[str, Any]

    @property
    def protocol(self) -> str:
        return str(self.data["protocol"])

    @property
    def folds(self) -> list[dict[str, Any]]:
        return list(self.data["folds"])

    @property
    def recipe(self) -> str:
        """The recipe (train.py or classical config) and its extra arguments; older files name it per fold."""
        first = self.folds[0] if self.folds else {}
        train = self.data.get("recipe") or self.data.get("train") or first.get("train")
        args = self.data.get("train_args", first.get("train_args")) or []
        return shlex.join([train, *args]) if train else NOT_RECORDED

    @property
    def corpora(self) -> list[str]:
        """The corpora the protocol reads: the file's ``corpora``, else the corpora its folds scored."""
        if self.data.get("corpora"):
            return list(self.data["corpora"])
        return sorted({c for f in self.folds for c in f.get("per_corpus", {})})


@dataclass
class Published:
    """A figure from the literature, with its citation, for one corpus."""

    corpus: str
    model: str
    citation: str
    protocol: str
    scores: dict[str, float] = field(default_factory=dict)
    same_as: list[str] = field(default_factory=list)  # our protocol names that use the same folds
    note: str = ""


def find_results(paths: Sequence[Path]) -> list[Path]:
    """Every results.json named or found under the folders, sorted; a missing path is a user error."""
    found: list[Path] = []
    for path in paths:
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            found.extend(sorted(path.rglob("results.json")))
        else:
            raise UserError(f"{path}: no such file or folder")
    if not found:
        raise UserError(f"no results.json under {', '.join(map(str, paths))}")
    return sorted(set(found))


def load_entry(path: Path) -> Entry:
    """A results.json, checked for what the page reads; a bad file is a user error naming it."""
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UserError(f"{path}: not a readable results.json ({error})") from None
    if not isinstance(data, dict) or "protocol" not in data or not isinstance(data.get("folds"), list):
        raise UserError(f"{path}: not a protocol results.json (needs 'protocol' and a 'folds' list)")
    for k, fold in enumerate(data["folds"]):
        missing = [m for m in (*SHOWN, "fold") if m not in fold]
        if missing:
            raise UserError(f"{path}: folds[{k}] has no {', '.join(missing)}")
    return Entry(path, data)


def load_published(path: Path) -> list[Published]:
    """docs/published_results.yaml: a list of figures; a bad entry is a user error naming it."""
    try:
        items = yaml.safe_load(path.read_text()) or []
    except (OSError, yaml.YAMLError) as error:
        raise UserError(f"{path}: not a readable YAML list of published figures ({error})") from None
    figures = []
    for k, item in enumerate(items if isinstance(items, list) else []):
        try:
            figures.append(Published(**item))
        except TypeError as error:
            raise UserError(f"{path}: entry {k}: {error}") from None
    if not isinstance(items, list):
        raise UserError(f"{path}: expected a YAML list of published figures")
    return figures


def _fold_names(entry: Entry) -> list[str]:
    return [str(f["fold"]) for f in entry.folds]


def delta_ua(entry: Entry, baseline: Entry | None) -> str:
    """Mean UA minus the baseline's mean UA over the same folds (points), or why there is none."""
    if baseline is None:
        return "no baseline run"
    if baseline is entry:
        return "(baseline)"
    theirs = {str(f["fold"]): f["ua"] for f in baseline.folds}
    names = _fold_names(entry)
    if not set(names) <= set(theirs):
        return "baseline lacks these folds"
    ours = mean_std([f["ua"] for f in entry.folds])["mean"]
    base = mean_std([theirs[n] for n in names])["mean"]
    return f"{(ours - base) * 100:+.2f}"


def fold_cost(fold: dict[str, Any]) -> dict[str, Any] | None:
    """A fold's wall_s, cpu_s and 1-minute loads: train.py folds keep them under ``cost``
    (protocols/machine.py), classical folds at the top (``loadavg_start``/``_end``: the three averages)."""
    if fold.get("cost"):
        return fold["cost"]
    if "wall_s" in fold:
        loads = [fold[k][0] for k in ("loadavg_start", "loadavg_end") if fold.get(k)]
        return {"wall_s": fold["wall_s"], "cpu_s": fold.get("cpu_s"), "loads": loads}
    return None


def cost_cells(entry: Entry) -> list[str]:
    """Wall s per fold (mean, max), CPU s per fold (mean, max), the load average range, the machine."""
    costs = [c for c in map(fold_cost, entry.folds) if c]
    if not costs:
        return [NOT_RECORDED] * 4
    wall = [c["wall_s"] for c in costs]
    cpu = [c["cpu_s"] for c in costs if c.get("cpu_s") is not None] or [float("nan")]
    loads = [c[k] for c in costs for k in ("load_before", "load_after") if c.get(k) is not None]
    loads += [v for c in costs for v in c.get("loads", [])]
    machines = sorted({_machine(f["machine"]) for f in entry.folds if f.get("machine")}) or [NOT_RECORDED]
    partial = "" if len(costs) == len(entry.folds) else f" ({len(costs)} of {len(entry.folds)} folds)"
    return [f"{sum(wall) / len(wall):.0f} (max {max(wall):.0f}){partial}",
            f"{sum(cpu) / len(cpu):.0f} (max {max(cpu):.0f})",
            f"{min(loads):.1f}-{max(loads):.1f}" if loads else NOT_RECORDED, "; ".join(machines)]


def _machine(machine: dict[str, Any]) -> str:
    gpu = f", {machine['gpu']}" if machine.get("gpu") else ""
    return f"{machine.get('cpu_model', '?')}, {machine.get('cores', '?')} cores{gpu}"


def _classes(entries: Sequence[Entry]) -> str:
    for entry in entries:
        if entry.data.get("classes"):
            classes = entry.data["classes"]
            return f"{', '.join(classes)} ({len(classes)})"
    return NOT_RECORDED


def _folds_cell(entry: Entry) -> str:
    total = entry.data.get("protocol_folds") or len(entry.folds)
    return str(total) if total == len(entry.folds) else f"first {len(entry.folds)} of {total}"


def protocol_section(name: str, entries: Sequence[Entry], published: Sequence[Published], baseline: str,
                     notes: dict[str, str]) -> list[str]:
    """One protocol: what it is, a row per recipe, the published figures for its corpora."""
    corpora = sorted({c for e in entries for c in e.corpora})
    sources = sorted({e.data.get("source") or "(not stated)" for e in entries})
    lines = [f"## {name}", "", f"- Corpus: {', '.join(corpora) or NOT_RECORDED}"]
    lines += [f"- Note: {notes[c]}" for c in corpora if c in notes]
    lines += [f"- Folds from: {'; '.join(sources)}", f"- Classes: {_classes(entries)}", ""]
    base = _baseline_entry(entries, baseline)
    lines += ["| recipe | folds | UA | WA | macro-F1 | UA vs " + f"`{baseline}` (points, same folds) | "
              "wall s/fold | CPU s/fold | load avg | machine |", "|" + " --- |" * 10]
    for entry in sorted(entries, key=lambda e: (e.recipe != baseline, e.recipe, -len(e.folds))):
        cells = [format_mean_std(mean_std([f[m] for f in entry.folds])) for m in SHOWN]
        lines.append(f"| `{entry.recipe}` | {_folds_cell(entry)} | " + " | ".join(cells)
                     + f" | {delta_ua(entry, base)} | " + " | ".join(cost_cells(entry)) + " |")
    figures = [p for p in published if p.corpus in corpora]
    if figures:
        lines += ["", "Published figures for this corpus:", "",
                  "| model | UA | WA | macro-F1 | same protocol as this one? | citation |", "|" + " --- |" * 6]
        for p in figures:
            same = "yes" if name in p.same_as else f"no: {p.protocol}"
            same += f" ({p.note})" if p.note else ""
            cells = [f"{p.scores[m]:.2f}" if m in p.scores else "—" for m in SHOWN]
            lines.append(f"| {p.model} | " + " | ".join(cells) + f" | {same} | {p.citation} |")
    return lines + [""]


def _baseline_entry(entries: Sequence[Entry], baseline: str) -> Entry | None:
    """The baseline recipe's run of a protocol, preferring one that ran every fold."""
    runs = [e for e in entries if e.recipe == baseline]
    return next((e for e in runs if e.data.get("protocol_folds", len(e.folds)) == len(e.folds)), None) or \
        next(iter(runs), None)


def summary_section(by_protocol: dict[str, list[Entry]], baseline: str) -> list[str]:
    """One table over every protocol: each recipe's mean UA and its gain over the baseline on the same
    folds, so that "does the recipe beat the demo everywhere" is read in one place, not per section."""
    recipes = sorted({e.recipe for es in by_protocol.values() for e in es}, key=lambda r: (r != baseline, r))
    lines = ["## Summary: mean UA per protocol (points over the baseline on the same folds)", "",
             "| protocol | " + " | ".join(f"`{r}`" for r in recipes) + " |", "|" + " --- |" * (len(recipes) + 1)]
    for name in sorted(by_protocol):
        base = _baseline_entry(by_protocol[name], baseline)
        cells = []
        for recipe in recipes:
            runs = sorted((e for e in by_protocol[name] if e.recipe == recipe), key=lambda e: -len(e.folds))
            if not runs:
                cells.append("—")
                continue
            entry = runs[0]
            ua = f"{mean_std([f['ua'] for f in entry.folds])['mean'] * 100:.2f}"
            gain = "" if entry is base else f" ({delta_ua(entry, base)})"
            partial = "" if _folds_cell(entry) == str(len(entry.folds)) else f", {_folds_cell(entry)} folds"
            cells.append(ua + gain + partial)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines + [""]


def build_page(entries: Sequence[Entry], published: Sequence[Published], command: str, baseline: str,
               notes: dict[str, str]) -> str:
    """The whole page: how it was made, the metric definitions, one section per protocol."""
    lines = ["# Results on real corpora", "",
             f"Generated by `{command}` from {len(entries)} results.json file(s); regenerate it, do not edit it.",
             "", f"Metrics (percent, mean ± sample std over folds): {METRIC_DEFINITIONS} "
             "Wall and CPU time are per fold, end to end (train.py start to test report); CPU time is "
             "user+sys of the fold's processes, the load average is the machine's 1-minute figure at "
             "the fold's start and end (on a shared machine wall time is inflated by the load).", ""]
    by_protocol: dict[str, list[Entry]] = {}
    for entry in entries:
        by_protocol.setdefault(entry.protocol, []).append(entry)
    lines += summary_section(by_protocol, baseline)
    for name in sorted(by_protocol):
        lines += protocol_section(name, by_protocol[name], published, baseline, notes)
    return "\n".join(lines).rstrip() + "\n"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m protocols.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", type=Path, help="results.json files or folders holding them")
    parser.add_argument("--output", type=Path, required=True, help="the Markdown page to write")
    parser.add_argument("--published", type=Path, default=DEFAULT_PUBLISHED,
                        help="YAML list of published figures (default: docs/published_results.yaml)")
    parser.add_argument("--baseline", default="configs/demo.yaml",
                        help="the recipe each row's UA is compared with, on the same folds")
    parser.add_argument("--note", action="append", default=[], metavar="CORPUS=TEXT",
                        help="a note shown with every figure of CORPUS (repeatable)")
    return parser.parse_args(argv)


def _notes(items: Sequence[str]) -> dict[str, str]:
    try:
        return name_value_pairs(items, "--note", "CORPUS=TEXT")
    except ValueError as error:
        raise UserError(str(error)) from None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    with exit_on_user_error("protocols.report"):
        notes = _notes(args.note)
        entries = [load_entry(p) for p in find_results(args.paths)]
        published = load_published(args.published) if args.published.is_file() else []
        if not args.published.is_file() and args.published != DEFAULT_PUBLISHED:
            raise UserError(f"--published {args.published}: no such file")
        page = build_page(entries, published, shlex.join(["python", "-m", "protocols.report", *argv]),
                          args.baseline, notes)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(page)
    print(f"{args.output}: {len(entries)} results.json file(s), {len({e.protocol for e in entries})} protocol(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
