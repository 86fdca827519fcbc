"""Utterance-level features of a prepared split, extracted once from its shards and cached.

Feature sets (one name each, so a cache file says what it holds):

* ``egemaps``: openSMILE eGeMAPSv02 functionals (88 values), the ``opensmile`` package.
* ``compare``: openSMILE ComParE_2016 functionals (6373 values; seed 000 used its IS13 predecessor).
* ``librosa``: seed 001 / 003's hand-made set: mean and std over frames of 40 MFCCs with deltas and
  delta-deltas, 12 chroma, 64 log-mel bands, ZCR, RMS and 7 spectral-contrast bands (410 values).

Shards are read with WebDataset and decoded with the shard format's own decoder, one shard per task
over all cores (``workers=0``) with a progress bar. The cache is ``<cache>/<split>-<set>.npz``
(plain arrays, read with ``allow_pickle=False``), keyed by the split's shard list and stats, so a
re-prepared dataset is re-extracted and nothing is decoded twice otherwise.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data_preparation.shards.shard_format import SAMPLE_RATE

FEATURE_SETS = ("egemaps", "compare", "librosa")


@dataclass(frozen=True)
class SplitFeatures:
    """Features [N, D] float32, labels [N], sample keys and corpora of one split."""

    features: np.ndarray
    labels: np.ndarray
    keys: list[str]
    corpora: list[str]


def librosa_features(wave: np.ndarray, rate: int) -> np.ndarray:
    """Seed 001 / 003's librosa set: mean and std over frames of each of 205 descriptor rows -> [410]."""
    import librosa

    mfcc = librosa.feature.mfcc(y=wave, sr=rate, n_mfcc=40)
    rows = [mfcc, librosa.feature.delta(mfcc, width=5, mode="nearest"),
            librosa.feature.delta(mfcc, order=2, width=5, mode="nearest"),
            librosa.feature.chroma_stft(y=wave, sr=rate, n_fft=512),
            librosa.power_to_db(librosa.feature.melspectrogram(y=wave, sr=rate, n_mels=64)),
            librosa.feature.zero_crossing_rate(wave), librosa.feature.rms(y=wave),
            librosa.feature.spectral_contrast(y=wave, sr=rate, n_fft=1024)]
    frames = min(row.shape[1] for row in rows)
    stacked = np.concatenate([row[:, :frames] for row in rows], axis=0)
    return np.concatenate([stacked.mean(axis=1), stacked.std(axis=1)]).astype(np.float32)


def opensmile_extractor(feature_set: str) -> Callable[[np.ndarray, int], np.ndarray]:
    """A function wave -> functionals of the named openSMILE set (built once per worker)."""
    import opensmile

    sets = {"egemaps": opensmile.FeatureSet.eGeMAPSv02, "compare": opensmile.FeatureSet.ComParE_2016}
    smile = opensmile.Smile(feature_set=sets[feature_set], feature_level=opensmile.FeatureLevel.Functionals)

    def extract(wave: np.ndarray, rate: int) -> np.ndarray:
        return smile.process_signal(wave, rate).to_numpy(dtype=np.float32).reshape(-1)

    return extract


def extractor(feature_set: str) -> Callable[[np.ndarray, int], np.ndarray]:
    """The extraction function of ``feature_set`` (one of FEATURE_SETS)."""
    if feature_set not in FEATURE_SETS:
        raise ValueError(f"feature_set={feature_set!r}: expected one of {list(FEATURE_SETS)}")
    return librosa_features if feature_set == "librosa" else opensmile_extractor(feature_set)


@dataclass(frozen=True)
class ShardTask:
    """One shard to featurise (picklable, for worker processes)."""

    url: str
    feature_set: str
    codec: str = "flac"  # stats.json's shard audio codec
    sample_rate: int = SAMPLE_RATE  # stats.json's rate (raw int16 members carry none)


def featurise_shard(task: ShardTask) -> tuple[list[np.ndarray], list[int], list[str], list[str]]:
    """Features, label ids, keys and corpora of every sample in one shard."""
    import webdataset as wds

    from data_preparation.shards.audio_codec import member_ext
    from data_preparation.shards.shard_format import META_EXT, decode_audio

    extract = extractor(task.feature_set)
    out: tuple[list, list, list, list] = ([], [], [], [])
    for sample in wds.DataPipeline(wds.SimpleShardList(task.url), wds.tarfile_to_samples()):
        meta = json.loads(sample[META_EXT])
        wave, rate = decode_audio(sample[member_ext(task.codec)], task.codec, task.sample_rate)
        for column, value in zip(out, (extract(wave, rate), int(meta["label_id"]), meta["key"], meta["corpus"])):
            column.append(value)
    return out


def cache_path(cache: Path, split: str, feature_set: str, urls: list[str], stats_text: str) -> Path:
    """``<cache>/<split>-<set>-<hash>.npz``: the hash covers the shard list and stats.json's content."""
    digest = hashlib.sha256(("\n".join(urls) + stats_text).encode()).hexdigest()[:12]
    return cache / f"{split}-{feature_set}-{digest}.npz"


def split_features(data_root: str, split: str, feature_set: str, cache: Path, workers: int = 0,
                   progress: bool = True) -> SplitFeatures:
    """The features of ``split`` of the prepared dataset at ``data_root``, from the cache when there."""
    from data_preparation.parallel import ordered_map
    from data_preparation.shards.shard_format import STATS_FILE, DatasetInfo, shard_urls

    stats_text = (Path(data_root) / STATS_FILE).read_text()
    info = DatasetInfo.from_dict(json.loads(stats_text))
    if split not in info.splits:
        raise ValueError(f"split {split!r} is not in {data_root}/{STATS_FILE} (it has {sorted(info.splits)})")
    urls = shard_urls(data_root, info.splits[split])
    path = cache_path(Path(cache), split, feature_set, urls, stats_text)
    if path.is_file():
        return load_features(path)
    columns: tuple[list, list, list, list] = ([], [], [], [])
    tasks = [ShardTask(url, feature_set, info.codec, info.sample_rate) for url in urls]
    for result in ordered_map(featurise_shard, tasks, workers, f"{split} {feature_set} features", progress):
        for column, values in zip(columns, result):
            column.extend(values)
    features = SplitFeatures(np.stack(columns[0]), np.asarray(columns[1], np.int64), columns[2], columns[3])
    save_features(features, path)
    return features


def sample_speakers(data_root: str, split: str) -> dict[str, str]:
    """Sample key -> ``corpus/speaker`` of a split, from its shards' metadata (for speaker normalisation:
    the feature cache predates it and holds no speakers, and reading the metadata decodes no audio)."""
    import webdataset as wds

    from data_preparation.shards.shard_format import META_EXT, STATS_FILE, DatasetInfo, shard_urls

    info = DatasetInfo.from_dict(json.loads((Path(data_root) / STATS_FILE).read_text()))
    speakers = {}
    for url in shard_urls(data_root, info.splits[split]):
        for sample in wds.DataPipeline(wds.SimpleShardList(url), wds.tarfile_to_samples()):
            meta = json.loads(sample[META_EXT])
            speakers[meta["key"]] = f"{meta['corpus']}/{meta['speaker']}"
    return speakers


def save_features(features: SplitFeatures, path: Path) -> None:
    """Write the cache atomically (a killed run leaves no half file that looks complete)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npz")
    np.savez(partial, features=features.features, labels=features.labels,
             keys=np.asarray(features.keys, dtype=str), corpora=np.asarray(features.corpora, dtype=str))
    partial.replace(path)


def load_features(path: Path) -> SplitFeatures:
    with np.load(path, allow_pickle=False) as data:
        return SplitFeatures(data["features"], data["labels"], data["keys"].tolist(), data["corpora"].tolist())
