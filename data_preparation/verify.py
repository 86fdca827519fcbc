"""Read a prepared dataset back and check that shards, manifest and stats.json agree.

``python -m data_preparation.verify data/prepared/demo`` prints the counts per split and class
and exits non-zero listing every disagreement: a sample in the wrong split, a label that
differs from the manifest, audio that does not decode at 16 kHz, a count that does not add up, and
every shard or member that cannot be read, with its reason (a corrupt one never stops the check).
"""
from __future__ import annotations

import argparse
import io
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import webdataset as wds

from data_preparation.inputs.manifest import read_manifest
from data_preparation.shards.shard_format import (
    LOGMEL_EXT, MANIFEST_FILE, META_EXT, SAMPLE_RATE, SPLITS, DatasetInfo, SplitInfo, decode_audio,
    load_dataset_info,
)

AUG_SPLIT = "train_aug"


@dataclass
class Verification:
    """What was read back: samples per split and class, and every disagreement found."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # split -> class -> samples
    problems: list[str] = field(default_factory=list)


def verify(root: Path, decode: bool = True) -> Verification:
    """Check every shard of the dataset at ``root`` against manifest.csv and stats.json."""
    info = load_dataset_info(str(root))
    rows = read_manifest(root / MANIFEST_FILE)
    result = Verification()
    result.problems += _check_manifest(rows, info)
    expected: dict[str, dict[str, dict]] = {s: {} for s in _written_splits(info)}
    for row in rows:  # one pass: a fold plan can have hundreds of shard groups
        if row["fate"] in expected:
            expected[row["fate"]][row["key"]] = row
    for split, split_info in info.splits.items():
        wanted = expected.get(split) or _augmented(expected.get("train", {}), split_info, root)
        result.counts[split] = _check_split(root, split, split_info, wanted, info, decode, result.problems)
    for split, split_info in ((info.logmel or {}).get("splits") or {}).items():
        wanted = _keys_of(root, info.splits[split])
        _check_split(root, f"logmel/{split}", split_info, wanted, info, decode, result.problems, logmel=info.logmel)
    return result


def _written_splits(info: DatasetInfo) -> list[str]:
    """The manifest's fates: train/val/test, or the shard groups of a folds dataset (fold_plan.py)."""
    return list(info.splits) if info.folds else list(SPLITS)


def _check_manifest(rows: list[dict[str, str]], info: DatasetInfo) -> list[str]:
    problems = []
    fates = Counter(r["fate"] for r in rows)
    for row in rows:
        if row["fate"] not in (*_written_splits(info), "dropped"):
            problems.append(f"manifest: {row['corpus']}/{row['path']} has fate {row['fate']!r}")
        elif row["fate"] == "dropped" and not row["reason"]:
            problems.append(f"manifest: {row['corpus']}/{row['path']} is dropped without a reason")
        elif row["fate"] != "dropped" and row["label"] not in info.classes:
            problems.append(f"manifest: {row['corpus']}/{row['path']} kept with label {row['label']!r} not in classes")
    if info.extra.get("input_files") not in (None, len(rows)):
        problems.append(f"manifest has {len(rows)} rows but stats.json counted {info.extra['input_files']} input files")
    for split in _written_splits(info):
        if split in info.splits and info.splits[split].num_samples != fates[split]:
            problems.append(f"{split}: stats.json says {info.splits[split].num_samples} samples, manifest {fates[split]}")
    return problems


def _augmented(train: dict[str, dict], split_info: SplitInfo, root: Path) -> dict[str, dict]:
    """Expected rows of train_aug: each key is a train key plus "-<technique><copy>"."""
    found = _keys_of(root, split_info)
    return {key: train.get(key.rsplit("-", 1)[0], {"key": key, "label": "?"}) for key in found}


def _keys_of(root: Path, split_info: SplitInfo) -> dict[str, dict]:
    # its problems are reported when _check_split reads the same shards
    return {key: meta for key, meta, _ in _members(root, "", split_info, [])}


class _Recorder:
    """WebDataset handler: an unreadable shard or member becomes a problem with its reason; reading goes on."""

    def __init__(self, split: str, shard: str, problems: list[str]) -> None:
        self.where, self.problems = f"{split}: shard {shard}", problems

    def __call__(self, error: Exception) -> bool:
        self.problems.append(f"{self.where}: unreadable ({type(error).__name__}: {error})")
        return True


def _members(root: Path, split: str, split_info: SplitInfo, problems: list[str]) -> Iterator[tuple[str, dict, dict]]:
    """(key, metadata, raw sample) of each readable member; a missing shard, an unreadable tar or JSON is a problem."""
    for shard in split_info.shards:
        if not (root / shard).is_file():
            problems.append(f"{split}: shard {shard} is missing")
            continue
        pipeline = wds.DataPipeline(wds.SimpleShardList(str(root / shard)),
                                    wds.tarfile_to_samples(handler=_Recorder(split, shard, problems)))
        for sample in pipeline:
            key = sample["__key__"]
            try:
                meta = json.loads(sample[META_EXT])
                absent = [name for name in ("label", "label_id", "duration") if name not in meta]
                if absent:
                    raise KeyError(f"no {', '.join(absent)}")
            except (KeyError, TypeError, ValueError) as error:
                problems.append(f"{split}: {key} in {shard}: unreadable .{META_EXT} ({type(error).__name__}: {error})")
                continue
            yield key, meta, sample


def _check_split(root: Path, split: str, split_info: SplitInfo, wanted: dict[str, dict], info: DatasetInfo,
                 decode: bool, problems: list[str], logmel: dict | None = None) -> dict[str, int]:
    seen: Counter[str] = Counter()
    keys: set[str] = set()
    for key, meta, sample in _members(root, split, split_info, problems):
        seen[meta["label"]] += 1
        if key in keys:
            problems.append(f"{split}: sample {key} appears twice")
        keys.add(key)
        row = wanted.get(key)
        if row is None:
            problems.append(f"{split}: sample {key} is not in the manifest for this split")
            continue
        if row.get("label") not in (meta["label"], None):
            problems.append(f"{split}: {key} labelled {meta['label']!r} in the shard, {row.get('label')!r} in the manifest")
        if not 0 <= meta["label_id"] < len(info.classes) or info.classes[meta["label_id"]] != meta["label"]:
            problems.append(f"{split}: {key} label_id {meta['label_id']} is not {meta['label']!r}")
        if decode:
            problems += _check_payload(split, key, sample, meta, info, logmel)
    missing = sorted(set(wanted) - keys)
    if missing:
        problems.append(f"{split}: {len(missing)} manifest sample(s) missing from the shards, e.g. {missing[0]}")
    if sum(seen.values()) != split_info.num_samples or dict(seen) != {k: v for k, v in split_info.per_class.items() if v}:
        problems.append(f"{split}: shards hold {dict(seen)}, stats.json says {split_info.per_class}")
    return dict(sorted(seen.items()))


def _check_payload(split: str, key: str, sample: dict, meta: dict, info: DatasetInfo, logmel: dict | None) -> list[str]:
    """Problems of one member's audio (in the dataset's codec) or log-mel; an undecodable one is listed with its reason."""
    extension = info.audio_ext if logmel is None else LOGMEL_EXT
    if extension not in sample:
        return [f"{split}: {key} has no .{extension} member (stats.json codec {info.codec!r})"]
    try:
        if logmel is not None:
            image = np.load(io.BytesIO(sample[extension]), allow_pickle=False)
        else:
            wave, rate = decode_audio(sample[extension], info.codec, info.sample_rate)
    except Exception as error:  # libsndfile and numpy raise their own types; list the member either way
        return [f"{split}: {key} in {Path(str(sample.get('__url__'))).name}: unreadable .{extension} "
                f"({type(error).__name__}: {error})"]
    if logmel is not None:
        if image.shape != (logmel["n_mels"], logmel["frames"]) or not np.isfinite(image).all():
            return [f"{split}: {key} log-mel has shape {image.shape} or non-finite values"]
        return []
    if rate != SAMPLE_RATE or abs(wave.size / rate - meta["duration"]) > 1e-3:
        return [f"{split}: {key} decodes to {wave.size / rate:.3f} s at {rate} Hz, meta says {meta['duration']} s"]
    return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path, help="prepared dataset folder (holds stats.json)")
    parser.add_argument("--no-decode", action="store_true", help="check keys and labels only")
    args = parser.parse_args(argv)
    result = verify(args.root, decode=not args.no_decode)
    order = [*SPLITS, AUG_SPLIT]
    for split, counts in sorted(result.counts.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 99):
        print(f"{split:>9}: {sum(counts.values()):6d}  " + "  ".join(f"{c} {n}" for c, n in counts.items()))
    for problem in result.problems:
        print(f"problem: {problem}", file=sys.stderr)
    return 1 if result.problems else 0


if __name__ == "__main__":
    sys.exit(main())
