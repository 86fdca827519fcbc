"""prepare(config): corpora in, validated WebDataset shards, manifest, stats and plots out.

The run writes into ``<output>.partial`` and renames it into place only when everything is
written, so a crashed run never leaves a half dataset that looks finished; the same command after
a kill resumes that folder, keeping every clip decoded and every shard written (resume.py). Re-running with the
same settings finds stats.json with the same fingerprint and does nothing (idempotent); the
fingerprint covers the settings and every input file's bytes (data_preparation/inputs/content_hash.py).
``overwrite`` always prepares again. The ``.partial`` folder of a killed run is resumed by
the same command and removed by any other run, which says so, also when it has nothing to do; one a
running preparation is writing (its ``.owner`` names a live process) is left alone.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import socket
import sys
from pathlib import Path
from typing import Sequence

from data_preparation import plots
from data_preparation.config import PrepareConfig, fingerprint
from data_preparation.split.corpus_splits import format_corpus_summary
from data_preparation.split.emobox import format_partition_report
from data_preparation.split.folds import format_fold_plan
from data_preparation.inputs.content_hash import CACHE_FILE, DigestCache
from data_preparation.inputs.entries import Entry, Inputs, collect_inputs
from data_preparation.derived.logmel import LogmelSettings
from data_preparation.inputs.manifest import summarize, write_manifest
from data_preparation.parallel import WorkerPool
from data_preparation.resume import RESUME_FILE, mark_staging, remove_torn, resumable, write_atomic
from data_preparation.shards.shard_format import MANIFEST_FILE, SPLITS, STATS_FILE, DatasetInfo, SplitInfo
from data_preparation.shards.tar_writer import make_keys
from data_preparation.split.split_assignment import SplitOutcome, fold_split_names
from data_preparation.stages import assign_splits, decode_entries, drop_rare, mark_duplicates
from data_preparation.shards.stats import class_weights
from data_preparation.quality.trim import TOO_SHORT, format_trim_summary, trim_summary
from data_preparation.shards.writers import (ShardItem, augment_items, members_by_split, split_items, write_audio_split,
                                             write_logmel_split)

AUG_SPLIT = "train_aug"
OWNER_FILE = ".owner"  # in <output>.partial: the pid and host of the run writing it
LABEL_CONFLICT = "label conflict"


def prepare(config: PrepareConfig) -> DatasetInfo:
    """Run the whole preparation (or nothing, when ``output`` already holds this exact preparation)."""
    with WorkerPool(config.workers) as workers:  # forked before any input is listed: parallel.WorkerPool says why
        return _prepare(config, workers)


def _prepare(config: PrepareConfig, workers: WorkerPool) -> DatasetInfo:
    out = Path(config.output)
    inputs = collect_inputs(config.corpora, config.taxonomy)
    staging = out.with_name(out.name + ".partial")
    # A killed run left its digests in the staging folder: its rerun need not read every input again.
    digests = DigestCache.load(out / CACHE_FILE if (out / CACHE_FILE).is_file() else staging / CACHE_FILE)
    stamp = f"{fingerprint(config)}-{input_fingerprint(inputs.entries, digests)}"
    existing = _existing_info(out, stamp, config.overwrite)
    if existing is not None:
        if digests.changed:  # e.g. touched but unchanged files: remember their digests again
            digests.save(out / CACHE_FILE)
        owner = _live_owner(staging)
        if owner is None:
            _remove_leftover(config, staging)
        else:
            _log(config, f"{staging} is being written by a running preparation ({owner}); left alone")
        _log(config, f"{out} already holds this preparation (fingerprint {stamp}); nothing to do")
        return existing
    owner = _live_owner(staging)
    if owner is not None:
        raise FileExistsError(f"{staging} is being written by a running preparation ({owner}); "
                              "wait for it to end, or stop it and run again")
    _staging(config, staging, stamp)
    (staging / OWNER_FILE).write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
    digests.save(staging / CACHE_FILE)
    del digests  # saved, and nothing past here reads it: half a kilobyte a clip not held through decoding and writing
    spool = staging / ".spool"
    try:
        info = _finished_staging(staging, stamp)
        if info is None:
            spool.mkdir(parents=True, exist_ok=True)
            info = _prepare_into(config, inputs, staging, spool, workers)
            info.extra["fingerprint"] = stamp
            write_atomic(staging / STATS_FILE, info.to_json().encode())  # last: stats.json means every shard is written
        else:
            _log(config, f"{staging} holds this whole preparation (killed before it was moved into place)")
    except BaseException:  # the folder stays: a rerun of the same command resumes it, any other removes it
        (staging / OWNER_FILE).unlink(missing_ok=True)
        raise
    shutil.rmtree(spool, ignore_errors=True)
    (staging / OWNER_FILE).unlink()
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)  # resume.json moves with it: a kill before the rename still finds a resumable staging
    (out / RESUME_FILE).unlink(missing_ok=True)
    _log(config, f"prepared {sum(s.num_samples for s in info.splits.values())} samples into {out}")
    return info


def _staging(config: PrepareConfig, staging: Path, stamp: str) -> None:
    """Resume ``<output>.partial`` when a killed run of this same preparation left it, else make it anew.

    A leftover of other settings or inputs (or of a version without resume.json) is removed: none
    of it can be trusted for this preparation. data_preparation/resume.py says what is kept.
    """
    if resumable(staging, stamp):
        _log(config, f"resuming the killed preparation in {staging} (same settings and inputs)")
        remove_torn(staging)
        return
    _remove_leftover(config, staging)  # of other settings or inputs, or with no resume.json
    staging.mkdir(parents=True)
    mark_staging(staging, stamp)


def _finished_staging(staging: Path, stamp: str) -> DatasetInfo | None:
    """The staged dataset when the killed run had already written its stats.json (only the move was left)."""
    try:
        info = DatasetInfo.from_dict(json.loads((staging / STATS_FILE).read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return info if info.extra.get("fingerprint") == stamp else None


def input_fingerprint(entries: Sequence[Entry], digests: DigestCache | None = None) -> str:
    """Hash of every input's corpus, path, label and content: changed inputs mean a new preparation.

    Contents, not sizes: a clip re-encoded in place at the same size is a changed input. The
    per-file digests come from ``digests`` (cached by path, size and mtime, so an unchanged re-run
    reads no audio); absolute paths and mtimes stay out of the hash, so a copied corpus still matches.
    """
    digests = digests or DigestCache()
    digest = hashlib.sha256()
    for entry in entries:
        content = digests.digest(entry.path) or "-"
        digest.update(f"{entry.corpus}\t{entry.source}\t{entry.native_label}\t{entry.speaker}\t{content}\n".encode())
    return digest.hexdigest()[:16]


def _existing_info(out: Path, stamp: str, overwrite: bool) -> DatasetInfo | None:
    """The finished preparation at ``out`` if it matches and ``overwrite`` is off (then nothing is redone).

    ``overwrite`` prepares again even over an identical preparation (the way to force it); a
    different preparation is replaced only with ``overwrite``; a folder that is not a prepared
    dataset (no stats.json) is never deleted, whatever the settings say.
    """
    if not out.exists():
        return None
    if not (out / STATS_FILE).is_file():
        if any(out.iterdir()):
            raise FileExistsError(f"output {out} exists and is not a prepared dataset (no {STATS_FILE}); "
                                  "choose an empty or new folder")
        return None
    try:
        info = DatasetInfo.from_dict(json.loads((out / STATS_FILE).read_text()))
    except (ValueError, KeyError, TypeError) as error:
        if overwrite:
            return None
        raise FileExistsError(f"output {out}: unreadable {STATS_FILE} ({error}); set overwrite: true to replace it") from error
    if overwrite:
        return None
    if info.extra.get("fingerprint") == stamp:
        return info
    raise FileExistsError(
        f"output {out} holds a dataset prepared with other settings or inputs (fingerprint "
        f"{info.extra.get('fingerprint')} != {stamp}); set overwrite: true or choose another output"
    )


def _live_owner(staging: Path) -> str | None:
    """"pid N on HOST" of the running preparation writing ``staging``, or None when no process does.

    A run on another host (a shared file system) cannot be checked from here, so it counts as running.
    """
    try:
        owner = json.loads((staging / OWNER_FILE).read_text())
        pid, host = int(owner["pid"]), str(owner["host"])
    except (OSError, ValueError, KeyError, TypeError):  # none (left before owners were written), or cut short
        return None
    if host == socket.gethostname():
        if pid == os.getpid():  # this process: an earlier prepare() in it that ended without cleaning up
            return None
        try:
            os.kill(pid, 0)  # signal 0: only asks whether the process exists
        except ProcessLookupError:
            return None
        except PermissionError:  # another user's process
            pass
    return f"pid {pid} on {host}"


def _remove_leftover(config: PrepareConfig, staging: Path) -> None:
    """Delete the ``.partial`` folder a killed or failed run left, and say so in one line."""
    if not staging.exists():
        return
    size = sum(path.stat().st_size for path in staging.rglob("*") if path.is_file() and not path.is_symlink())
    shutil.rmtree(staging)
    _log(config, f"removed {staging} ({size / 1e6:.1f} MB), left by a preparation that did not finish")


def _prepare_into(config: PrepareConfig, inputs: Inputs, out: Path, spool: Path, workers: WorkerPool) -> DatasetInfo:
    entries = inputs.entries
    initial_labels = [e.label or "(excluded)" for e in entries if e.native_label]
    to_decode = sum(1 for e in entries if e.kept)
    _log(config, f"decoding {to_decode} files on {workers.workers} worker process(es)")
    reused = decode_entries(entries, spool, config.filter, workers, config.progress, config.trim)
    if reused:
        _log(config, f"resumed: {reused} of {to_decode} files already decoded, kept as they are")
    duplicates = mark_duplicates(entries)
    _warn_label_conflicts(config, entries)
    rare = drop_rare(entries, config.min_class_share)
    classes = [c for c in inputs.taxonomy.classes if any(e.kept and e.label == c for e in entries)]
    if not classes:
        write_manifest(entries, out / MANIFEST_FILE)
        raise ValueError(f"no clip survived preparation: {summarize(entries)['dropped_by_reason']}; see {out / MANIFEST_FILE}")
    outcome = assign_splits(entries, config.split)
    _log(config, format_corpus_summary(outcome.by_corpus) if outcome.folds is None else format_fold_plan(outcome.folds))
    if outcome.partition is not None:
        _log(config, format_partition_report(outcome.partition))
    kept = [e for e in entries if e.kept]
    for entry, key in zip(kept, make_keys([e.corpus for e in kept], [e.source for e in kept])):
        entry.key = key
    write_manifest(entries, out / MANIFEST_FILE)
    items = shard_items(entries, outcome, classes, spool, config.split.seed)
    if config.augmentation is not None:
        items[AUG_SPLIT] = augment_items(items["train"], config.augmentation, spool, workers, config.progress)
    splits = {name: _write_split(config, group, out, name, workers) for name, group in items.items()}
    info = DatasetInfo(
        classes=classes,
        class_weights=class_weights(classes, [it.meta.label for it in items.get("train", kept_items(items))]),
        splits=splits,
        taxonomy=inputs.taxonomy.name,
        folds=outcome.folds,
        codec=config.codec,
        extra=_extra(config, inputs, entries, rare, duplicates, outcome),
    )
    if config.trim is not None:
        _log(config, format_trim_summary(info.extra["trim"]))
    if config.logmel is not None:
        info.logmel = _write_logmel(config, items, out, workers)
    workers.close()  # the last parallel stage is done: idle workers need not outlive it
    _plot(config, entries, initial_labels, classes, splits, out)
    return info


def shard_items(entries: Sequence[Entry], outcome: SplitOutcome, classes: Sequence[str], spool: Path,
                seed: int) -> dict[str, list[ShardItem]]:
    """Each split's (or shard group's) items in writing order; the member lists they are made from go
    once they are made (preparation holds the items until every shard is written)."""
    members = members_by_split(entries)
    return {split: split_items(members.get(split, []), classes, spool, seed + n)
            for n, split in enumerate(fold_split_names(outcome))}


def _write_split(config: PrepareConfig, items: list[ShardItem], out: Path, split: str,
                 workers: WorkerPool) -> SplitInfo:
    info, kept = write_audio_split(items, out, split, config.shard_max_samples, config.codec, workers, config.progress)
    if kept:
        _log(config, f"resumed: {split}: {kept} of {len(info.shards)} shards already written, kept as they are")
    return info


def _write_logmel(config: PrepareConfig, items: dict[str, list[ShardItem]], out: Path, workers: WorkerPool) -> dict:
    settings = LogmelSettings.resolve(config.logmel, config.filter.max_duration)
    splits = {
        name: write_logmel_split(group, out, name, settings, config.shard_max_samples, workers, config.progress)
        for name, group in items.items()
    }
    return {"n_mels": settings.n_mels, "n_fft": settings.n_fft, "hop_length": settings.hop_length,
            "frames": settings.frames, "duration": settings.duration, "top_db": settings.top_db,
            "padding": "repeat", "splits": splits}


def kept_items(items: dict[str, list[ShardItem]]) -> list[ShardItem]:
    """Every written item (the class weights of a folds dataset; each fold recomputes its own)."""
    return [item for group in items.values() for item in group]


def _extra(config: PrepareConfig, inputs: Inputs, entries: Sequence[Entry], rare: dict[str, int], duplicates: int,
           outcome: SplitOutcome) -> dict:
    speakers = {s: len({(e.corpus, e.speaker) for e in entries if e.kept and e.split == s}) for s in SPLITS}
    return {
        "dropped_classes": rare,
        "min_class_share": config.min_class_share,
        "filter": dataclasses.asdict(config.filter),
        "split": dataclasses.asdict(config.split),
        "speakers_per_split": speakers,
        "split_by_corpus": outcome.by_corpus,
        "partition": outcome.partition,
        "duplicates": duplicates,
        "label_conflicts": label_conflicts(entries),
        "skipped_by_readers": inputs.skipped,
        "corpora": [{"name": c.name, "root": c.root} for c in config.corpora],
        "augmentation": None if config.augmentation is None else dataclasses.asdict(config.augmentation),
        "trim": _trim_summary(config, entries),
        **summarize(entries),
    }


def _trim_summary(config: PrepareConfig, entries: Sequence[Entry]) -> dict | None:
    """What ``trim:`` cut from the clips written to shards, and how many it set aside; None when off."""
    if config.trim is None:
        return None
    written = [e for e in entries if e.kept]
    too_short = sum(1 for e in entries if e.reason is not None and e.reason.category == TOO_SHORT)
    return trim_summary(config.trim, [e.trimmed for e in written], [e.duration or 0.0 for e in written], too_short)


def _plot(config: PrepareConfig, entries: Sequence[Entry], initial: list[str], classes: list[str],
          splits: dict[str, SplitInfo], out: Path) -> None:
    plot_dir = out / "plots"
    # As decoded (before any trim): the duration filter judged these.
    durations = [e.duration + e.trimmed if e.duration is not None else e.header_duration for e in entries]
    durations = [d for d in durations if d is not None]
    plots.plot_durations(durations, config.filter.min_duration, config.filter.max_duration, plot_dir)
    plots.plot_initial_labels(initial, plot_dir)
    plots.plot_final_labels(classes, {n: s.per_class for n, s in splits.items()}, plot_dir)


def label_conflicts(entries: Sequence[Entry]) -> list[dict[str, str]]:
    """Every dropped listing whose label disagrees with the kept one: its row and the detail naming both."""
    return [{"corpus": e.corpus, "path": e.source, "native_label": e.native_label, "label": e.label or "",
             "speaker": e.speaker, "detail": e.reason.detail}
            for e in entries if e.reason is not None and e.reason.category == LABEL_CONFLICT]


def _warn_label_conflicts(config: PrepareConfig, entries: Sequence[Entry]) -> None:
    conflicts = label_conflicts(entries)
    for conflict in conflicts[:10]:
        _log(config, f"warning: label conflict: {conflict['corpus']}/{conflict['path']}: {conflict['detail']}")
    if len(conflicts) > 10:
        _log(config, f"warning: {len(conflicts) - 10} more label conflicts; see stats.json extra.label_conflicts")


def _log(config: PrepareConfig, message: str) -> None:
    if config.progress:
        print(message, file=sys.stderr)
