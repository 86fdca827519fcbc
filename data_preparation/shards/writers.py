"""Turn the split entries into shards: waveform shards, augmented train copies, log-mel shards.

All three consume ``ShardItem``s (key, spooled FLAC, metadata), so a sample's key and JSON are
identical across shards/, logmel/ and the manifest.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from data_preparation.derived.augment import AugmentTask, augment_clip, plan
from data_preparation.config import AugmentationSpec
from data_preparation.inputs.entries import Entry
from data_preparation.derived.logmel import LogmelSettings, LogmelTask, logmel_npy
from data_preparation.parallel import ordered_map
from data_preparation.shards.audio_codec import DEFAULT_CODEC, decode_pcm16, encode_pcm16, member_ext
from data_preparation.shards.shard_format import LOGMEL_EXT, META_EXT, SAMPLE_RATE, SampleMeta, SplitInfo
from data_preparation.shards.tar_writer import seeded_order, write_shards
from data_preparation.shards.stats import split_info


@dataclass(frozen=True)
class ShardItem:
    key: str
    flac_path: Path
    meta: SampleMeta


def split_items(entries: Sequence[Entry], split: str, classes: Sequence[str], spool_of: dict[int, Path], seed: int) -> list[ShardItem]:
    """The split's samples in their seeded writing order (shuffled once, so shards mix classes)."""
    members = [(i, e) for i, e in enumerate(entries) if e.kept and e.split == split]
    items = []
    for position in seeded_order(len(members), seed):
        index, entry = members[position]
        meta = SampleMeta(
            key=entry.key, label=entry.label or "", label_id=classes.index(entry.label), corpus=entry.corpus,
            speaker=entry.speaker, native_label=entry.native_label, source=entry.source,
            duration=round(entry.duration or 0.0, 4), attributes=dict(entry.attributes),
        )
        items.append(ShardItem(entry.key, spool_of[index], meta))
    return items


def write_audio_split(
    items: Sequence[ShardItem], out_dir: Path, split: str, max_per_shard: int, codec: str = DEFAULT_CODEC
) -> SplitInfo:
    """shards/{split}-NNNNNN.tar of audio in ``codec`` + JSON; FLAC is copied from the spool as it is."""
    ext = member_ext(codec)
    samples = ({"__key__": it.key, ext: audio_payload(it.flac_path, codec), META_EXT: it.meta.to_json()}
               for it in items)
    shards = write_shards(samples, out_dir, split, max_per_shard)
    return _info(shards, items)


def audio_payload(flac_path: Path, codec: str) -> bytes:
    """A spooled clip's bytes in ``codec``: the same int16 samples, so no codec changes the audio."""
    data = flac_path.read_bytes()
    if codec == "flac":
        return data
    pcm, rate = decode_pcm16(data, "flac", SAMPLE_RATE)
    return encode_pcm16(pcm, rate, codec)


def augment_items(
    train: Sequence[ShardItem], spec: AugmentationSpec, spool: Path, workers: int, progress: bool
) -> list[ShardItem]:
    """Augmented copies of the training items, in train order then technique/copy order."""
    jobs = plan(spec)
    tasks = [
        AugmentTask(i, item.flac_path, spool / f"aug-{i:07d}-{technique}{copy}.flac", technique, copy, low, high, spec.seed, keep)
        for i, item in enumerate(train)
        for technique, copy, low, high, keep in jobs
    ]
    items = []
    for task, result in zip(tasks, ordered_map(augment_clip, tasks, workers, "augment", progress)):
        source = train[task.index]
        key = f"{source.key}-{task.technique}{task.copy}"
        attributes = {**source.meta.attributes, "augmentation_factor": round(result.factor, 6)}
        meta = dataclasses.replace(source.meta, key=key, augmentation=task.technique,
                                   duration=round(result.duration, 4), attributes=attributes)
        items.append(ShardItem(key, task.out_path, meta))
    return items


def write_logmel_split(
    items: Sequence[ShardItem], out_dir: Path, split: str, settings: LogmelSettings, max_per_shard: int,
    workers: int, progress: bool,
) -> SplitInfo:
    """logmel/{split}-NNNNNN.tar of float16 npy images + the same JSON as the waveform shards."""
    tasks = [LogmelTask(i, item.flac_path, settings) for i, item in enumerate(items)]
    images = ordered_map(logmel_npy, tasks, workers, f"log-mel {split}", progress)
    samples: Iterator[dict] = (
        {"__key__": item.key, LOGMEL_EXT: npy, META_EXT: item.meta.to_json()} for item, npy in zip(items, images)
    )
    shards = write_shards(samples, out_dir, split, max_per_shard, folder="logmel")
    return _info(shards, items)


def _info(shards: list[str], items: Sequence[ShardItem]) -> SplitInfo:
    return split_info(shards, [it.meta.label for it in items], [it.meta.corpus for it in items],
                      [it.meta.duration for it in items])
