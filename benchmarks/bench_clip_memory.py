"""Bytes per clip that the main process of ``prepare_data.py`` holds, by structure and by stage.

The preparation's peak memory grows with the clip list the main process keeps (issue 24: the
process tree's PSS at 100,000 clips was 1.6-1.7x that at 10,000). This walks the same stages as
pipeline._prepare_into on a real corpus, in one process under tracemalloc, without decoding: each
clip's decode result is rebuilt from a finished preparation's manifest.csv (its durations,
reasons, rates; a made-up digest, so duplicates are not found again), and shards are not written.
At each checkpoint it prints the traced bytes per clip (the peak up to "decode results applied"
includes this script's reading of the manifest); at the end, what each structure alone holds (the
drop in traced bytes when it is freed, the last made first; the entries go last).

``python -m benchmarks.bench_clip_memory --prepared /work/bench24/scale/clips_100000/prepared_speaker``
(the config beside it, ``prepare_speaker.yaml``, names the corpora; ``--config`` another one).
"""
from __future__ import annotations

import argparse
import gc
import hashlib
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

from data_preparation.config import parse_config
from data_preparation.decode.decode import DecodeResult, DecodeTask
from data_preparation.inputs.content_hash import CACHE_FILE, DigestCache
from data_preparation.inputs.entries import collect_inputs
from data_preparation.inputs.manifest import read_manifest, write_manifest
from data_preparation.pipeline import input_fingerprint, shard_items
from data_preparation.quality.reasons import Reason
from data_preparation.shards.tar_writer import make_keys
from data_preparation.stages import _apply, assign_splits, drop_rare, mark_duplicates, spool_path

# Reasons a decode gives; the manifest's other reasons come from stages this script runs itself.
LATER_STAGES = {"duplicate", "label conflict", "rare class"}


def decode_results(entries: list, manifest: Path) -> list[DecodeResult]:
    """What decoding gave each kept entry, read back from a finished preparation's manifest."""
    rows = {(r["corpus"], r["path"]): r for r in read_manifest(manifest)}
    results = []
    for index, entry in enumerate(entries):
        if not entry.kept:
            continue
        row = rows[(entry.corpus, entry.source)]
        decoded = row["reason"] and row["reason"] not in LATER_STAGES
        reason = Reason(row["reason"], float(row["reason_value"]) if row["reason_value"] else None,
                        row["reason_detail"]) if decoded else None
        results.append(DecodeResult(
            index, _number(row["duration"]), None if decoded else hashlib.sha256(str(index).encode()).hexdigest(),
            reason, int(row["native_rate"]) if row["native_rate"] else None,
            int(row["native_channels"]) if row["native_channels"] else None, _number(row["header_duration"]),
            row["truncated"] == "yes", _number(row["trimmed"]) or 0.0))
    return results


def _number(text: str) -> float | None:
    return float(text) if text else None


class Report:
    """Prints traced bytes per clip at each checkpoint."""

    def __init__(self, clips: int) -> None:
        self.clips = clips

    def checkpoint(self, name: str) -> None:
        gc.collect()
        current, peak = tracemalloc.get_traced_memory()
        print(f"{name:<34} traced {current / self.clips:7.0f} B/clip  (peak so far {peak / self.clips:7.0f} B/clip)",
              flush=True)
        tracemalloc.reset_peak()

    def freed(self, held: dict[str, Any]) -> None:
        """Free each structure, the last made first: the drop is what it alone holds."""
        print("held per clip, by structure (what freeing it releases):")
        for name in reversed(list(held)):
            before = tracemalloc.get_traced_memory()[0]
            del held[name]
            gc.collect()
            print(f"  {name:<32} {(before - tracemalloc.get_traced_memory()[0]) / self.clips:7.0f} B/clip", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prepared", type=Path, required=True, help="a finished preparation (its manifest.csv)")
    parser.add_argument("--config", type=Path, help="its config (default: prepare_<split>.yaml beside it)")
    args = parser.parse_args(argv)
    config_path = args.config or args.prepared.parent / f"{args.prepared.name.replace('prepared_', 'prepare_')}.yaml"
    config = parse_config(["--config", str(config_path)])
    tracemalloc.start()
    held = {"entries": collect_inputs(config.corpora, config.taxonomy)}  # what the pipeline keeps, by name
    entries = held["entries"].entries
    report = Report(len(entries))
    report.checkpoint(f"inputs read ({len(entries)} entries)")
    digests = DigestCache.load(args.prepared / CACHE_FILE)
    input_fingerprint(entries, digests)
    report.checkpoint("input fingerprint (digest cache)")
    del digests  # as pipeline.prepare does once it has saved them
    held["initial labels"] = [e.label or "(excluded)" for e in entries if e.native_label]
    spool = Path("/nonexistent/.spool")
    tasks = [DecodeTask(i, str(e.path), str(spool_path(spool, i)), config.filter, config.trim) for i, e in enumerate(entries)
             if e.kept]
    report.checkpoint("decode tasks built")
    for result in decode_results(entries, args.prepared / "manifest.csv"):
        _apply(entries[result.index], result)
    del tasks
    report.checkpoint("decode results applied (tasks freed)")
    mark_duplicates(entries)
    drop_rare(entries, config.min_class_share)
    held["split outcome"] = outcome = assign_splits(entries, config.split)
    held["kept"] = [e for e in entries if e.kept]
    for entry, key in zip(held["kept"], make_keys([e.corpus for e in held["kept"]], [e.source for e in held["kept"]])):
        entry.key = key
    report.checkpoint("split and keys")
    with tempfile.TemporaryDirectory() as folder:
        write_manifest(entries, Path(folder) / "manifest.csv")
    report.checkpoint("manifest written")
    held["shard items"] = shard_items(entries, outcome, list(held["entries"].taxonomy.classes), spool, config.split.seed)
    del entries, outcome
    report.checkpoint("shard items planned")
    report.freed(held)


if __name__ == "__main__":
    main()
