"""Turn the split entries into shards: waveform shards, augmented train copies, log-mel shards.

All three consume ``ShardItem``s (key, spooled FLAC, metadata), so a sample's key and JSON are
identical across shards/, logmel/ and the manifest.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from data_preparation.derived.augment import AugmentTask, augment_clip, plan
from data_preparation.config import AugmentationSpec
from data_preparation.inputs.entries import Entry
from data_preparation.derived.logmel import LogmelSettings, LogmelTask, logmel_npy
from data_preparation.parallel import Workers, ordered_map
from data_preparation.resume import Journal
from data_preparation.shards.audio_codec import DEFAULT_CODEC, decode_pcm16, encode_pcm16, member_ext
from data_preparation.shards.shard_format import LOGMEL_EXT, META_EXT, SAMPLE_RATE, SampleMeta, SplitInfo, shard_name
from data_preparation.shards.tar_writer import seeded_order, shard_ranges, write_tar
from data_preparation.shards.stats import split_info
from data_preparation.stages import spool_path


AUGMENT_JOURNAL = "augmented.jsonl"


@dataclass(frozen=True, slots=True)
class ShardItem:
    key: str
    flac_path: str  # a string, not a Path: one item per clip stays in the main process (decode.DecodeTask says why)
    meta: SampleMeta


def members_by_split(entries: Sequence[Entry]) -> dict[str, list[tuple[int, Entry]]]:
    """(index, entry) of every kept entry, per split or shard group, in one pass (a fold plan has many groups)."""
    members: dict[str, list[tuple[int, Entry]]] = {}
    for index, entry in enumerate(entries):
        if entry.kept:
            members.setdefault(entry.split or "", []).append((index, entry))
    return members


def split_items(members: Sequence[tuple[int, Entry]], classes: Sequence[str], spool: Path, seed: int) -> list[ShardItem]:
    """The split's samples (``members_by_split``) in their seeded writing order (shuffled once: shards mix classes);
    each entry's audio is the clip decoding spooled under ``spool`` (``stages.spool_path``)."""
    label_id = {label: n for n, label in enumerate(classes)}
    items = []
    for position in seeded_order(len(members), seed):
        index, entry = members[position]
        meta = SampleMeta(
            key=entry.key, label=entry.label or "", label_id=label_id[entry.label], corpus=entry.corpus,
            speaker=entry.speaker, native_label=entry.native_label, source=entry.source,
            duration=round(entry.duration or 0.0, 4), attributes=dict(entry.attributes),
        )
        items.append(ShardItem(entry.key, str(spool_path(spool, index)), meta))
    return items


@dataclass(frozen=True)
class AudioShard:
    """One waveform shard to write: its path and its items, in order."""

    path: Path
    items: tuple[ShardItem, ...]
    codec: str


def write_audio_split(
    items: Sequence[ShardItem], out_dir: Path, split: str, max_per_shard: int, codec: str = DEFAULT_CODEC,
    workers: Workers = 1, progress: bool = False,
) -> tuple[SplitInfo, int]:
    """shards/{split}-NNNNNN.tar of audio in ``codec`` + JSON; FLAC is copied from the spool as it is.

    Shards are written one per worker process (each whole or not at all, tar_writer.write_tar);
    a shard already there is kept, since the rerun of a killed preparation plans the very same
    shards. Returns the split's info and how many shards were kept.
    """
    names = [shard_name(split, n) for n in range(len(shard_ranges(len(items), max_per_shard)))]
    jobs = [AudioShard(out_dir / name, tuple(items[i] for i in group), codec)
            for name, group in zip(names, shard_ranges(len(items), max_per_shard)) if not (out_dir / name).is_file()]
    for _ in ordered_map(write_audio_shard, jobs, workers, f"shards {split}", progress, done=len(names) - len(jobs),
                         unit="shard"):
        pass
    return _info(names, items), len(names) - len(jobs)


def write_audio_shard(shard: AudioShard) -> None:
    """Worker: one waveform shard."""
    ext = member_ext(shard.codec)
    write_tar(shard.path, ({"__key__": it.key, ext: audio_payload(it.flac_path, shard.codec), META_EXT: it.meta.to_json()}
                           for it in shard.items))


def audio_payload(flac_path: Path | str, codec: str) -> bytes:
    """A spooled clip's bytes in ``codec``: the same int16 samples, so no codec changes the audio."""
    data = Path(flac_path).read_bytes()
    if codec == "flac":
        return data
    pcm, rate = decode_pcm16(data, "flac", SAMPLE_RATE)
    return encode_pcm16(pcm, rate, codec)


def augment_items(
    train: Sequence[ShardItem], spec: AugmentationSpec, spool: Path, workers: Workers, progress: bool
) -> list[ShardItem]:
    """Augmented copies of the training items, in train order then technique/copy order."""
    jobs = plan(spec)
    tasks = [
        AugmentTask(i, Path(item.flac_path), spool / "aug" / f"{i // 1000:04d}" / f"{i:07d}-{technique}{copy}.flac",
                    technique, copy, low, high, spec.seed, keep)
        for i, item in enumerate(train)
        for technique, copy, low, high, keep in jobs
    ]
    journal = Journal(spool / AUGMENT_JOURNAL)  # task number -> factor, duration (resume.py)
    finished = {n: r for n, r in journal.load().items() if n < len(tasks) and tasks[n].out_path.is_file()}
    todo = [n for n in range(len(tasks)) if n not in finished]
    with journal:
        for n, result in zip(todo, ordered_map(augment_clip, [tasks[n] for n in todo], workers, "augment", progress,
                                                done=len(finished))):
            finished[n] = {"index": n, "factor": result.factor, "duration": result.duration}
            journal.append(finished[n])
    items = []
    for n, task in enumerate(tasks):
        source = train[task.index]
        key = f"{source.key}-{task.technique}{task.copy}"
        attributes = {**source.meta.attributes, "augmentation_factor": round(finished[n]["factor"], 6)}
        meta = dataclasses.replace(source.meta, key=key, augmentation=task.technique,
                                   duration=round(finished[n]["duration"], 4), attributes=attributes)
        items.append(ShardItem(key, str(task.out_path), meta))
    return items


def write_logmel_split(
    items: Sequence[ShardItem], out_dir: Path, split: str, settings: LogmelSettings, max_per_shard: int,
    workers: Workers, progress: bool,
) -> SplitInfo:
    """logmel/{split}-NNNNNN.tar of float16 npy images + the same JSON as the waveform shards.

    Images are computed on every core, only for the shards not already written (a resumed run).
    """
    ranges = shard_ranges(len(items), max_per_shard)
    names = [shard_name(split, n, "logmel") for n in range(len(ranges))]
    missing = [(name, group) for name, group in zip(names, ranges) if not (out_dir / name).is_file()]
    tasks = [LogmelTask(i, Path(items[i].flac_path), settings) for _, group in missing for i in group]
    images = iter(ordered_map(logmel_npy, tasks, workers, f"log-mel {split}", progress,
                              done=len(items) - len(tasks)))
    for name, group in missing:
        write_tar(out_dir / name, ({"__key__": items[i].key, LOGMEL_EXT: next(images), META_EXT: items[i].meta.to_json()}
                                   for i in group))
    return _info(names, items)


def _info(shards: list[str], items: Sequence[ShardItem]) -> SplitInfo:
    return split_info(shards, [it.meta.label for it in items], [it.meta.corpus for it in items],
                      [it.meta.duration for it in items])
