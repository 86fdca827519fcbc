"""The preparation fingerprint covers input contents: a same-size edit is noticed, an unchanged
re-run reads no audio (digest cache), and ``overwrite: true`` always prepares again."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from data_preparation.config import CorpusSpec, PrepareConfig, SplitSpec, validate
from data_preparation.pipeline import prepare
from data_preparation.shards.shard_format import AUDIO_EXT, META_EXT, decode_audio
from data_preparation.shards.tar_writer import read_samples
from tests.corpus_fixtures import write_audio
from tests.test_prepare_pipeline import write_metadata


def small_corpus(root: Path) -> PrepareConfig:
    rows = []
    for n in range(6):
        write_audio(root / f"clips/c{n}.wav", 1.5, 16_000)
        rows.append((f"clips/c{n}.wav", ("neutral", "sad")[n % 2], f"s{n % 3}"))
    write_metadata(root, rows)
    return validate(PrepareConfig(corpora=[CorpusSpec("csv", str(root), {"name": "small"})],
                                  output=str(root.parent / "prepared"), split=SplitSpec(mode="stratified"),
                                  workers=1, progress=False))


def audio_of(out: Path, source: str) -> np.ndarray:
    """The decoded shard audio of the input ``source`` (whichever split it landed in)."""
    import json

    for tar in sorted((out / "shards").glob("*.tar")):
        for sample in read_samples([tar]):
            if json.loads(sample[META_EXT])["source"] == source:
                return decode_audio(sample[AUDIO_EXT])[0]
    raise AssertionError(f"{source} is in no shard")


def shard_digests(out: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((out / "shards").glob("*.tar"))}


def test_clip_edited_in_place_at_the_same_size_is_a_new_preparation(tmp_path: Path) -> None:
    config = small_corpus(tmp_path / "corpus")
    out = Path(config.output)
    first = prepare(config)
    before = audio_of(out, "clips/c0.wav")
    victim = tmp_path / "corpus/clips/c0.wav"
    size = victim.stat().st_size
    data, rate = sf.read(victim, dtype="float64")
    sf.write(victim, -data, rate, subtype="PCM_16")  # polarity inverted: other audio, same size
    assert victim.stat().st_size == size
    with pytest.raises(FileExistsError, match="other settings or inputs"):
        prepare(config)
    config.overwrite = True
    second = prepare(config)
    assert second.extra["fingerprint"] != first.extra["fingerprint"]
    np.testing.assert_allclose(audio_of(out, "clips/c0.wav"), -before, atol=2 / 32768)


def test_overwrite_always_prepares_again_with_identical_shards(tmp_path: Path) -> None:
    config = small_corpus(tmp_path / "corpus")
    out = Path(config.output)
    prepare(config)
    digests, stamp = shard_digests(out), (out / "stats.json").stat().st_mtime_ns
    config.overwrite = True
    prepare(config)
    assert (out / "stats.json").stat().st_mtime_ns != stamp  # prepared again, not "nothing to do"
    assert shard_digests(out) == digests and len(digests) >= 3


def test_unchanged_rerun_reads_no_input_and_a_touched_file_is_hashed_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from data_preparation.inputs import content_hash  # new with the content fingerprint

    config = small_corpus(tmp_path / "corpus")
    out = Path(config.output)
    prepare(config)
    assert (out / content_hash.CACHE_FILE).is_file()
    reads: list[Path] = []
    real = content_hash.file_digest
    monkeypatch.setattr(content_hash, "file_digest", lambda path: reads.append(path) or real(path))
    stamp = (out / "stats.json").stat().st_mtime_ns
    prepare(config)
    assert reads == [] and (out / "stats.json").stat().st_mtime_ns == stamp
    victim = tmp_path / "corpus/clips/c3.wav"
    victim.write_bytes(victim.read_bytes())  # same bytes, new mtime: re-hashed, still the same preparation
    prepare(config)
    assert reads == [victim] and (out / "stats.json").stat().st_mtime_ns == stamp
    reads.clear()
    prepare(config)  # the new digest was remembered
    assert reads == []
