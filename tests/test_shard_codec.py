"""The shard audio codec (flac, wav, raw int16): exact round trips, byte-identical preparation per
codec, and the same batches and the same evaluation scores whatever codec the shards use."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from data_preparation.shards import audio_codec
from data_preparation.config import CorpusSpec, PrepareConfig, SplitSpec, parse_config, validate
from data_preparation.demo_corpus import generate
from data_preparation.input_contract import InputOverrides
from data_preparation.pipeline import prepare
from data_preparation.shards.shard_format import STATS_FILE, DatasetInfo, decode_audio, encode_audio, load_dataset_info
from data_preparation.shards.tar_writer import read_samples
from data_preparation.verify import verify
from datamodules import shard_data_module
from prediction.split_logits import collect_logits
from evaluation.report import build_report
from lightning_modules.components import create_network
from prediction.predictor import ModelPredictor
from tests.shard_factory import make_dataset

pytestmark = pytest.mark.xdist_group("test_shard_codec")  # one worker builds the module fixtures once

CODECS = list(audio_codec.CODECS)


def test_doctests() -> None:
    import doctest

    assert doctest.testmod(audio_codec).failed == 0


@pytest.mark.parametrize("codec", CODECS)
def test_round_trip_gives_the_quantised_samples_exactly(codec: str) -> None:
    rng = np.random.default_rng(3)
    wave = np.concatenate([rng.normal(0, 0.3, 20_011), [1.0, -1.0, 1.7, -2.0, 0.5 / 32768]]).astype(np.float32)
    data = encode_audio(wave, codec=codec)
    pcm, rate = audio_codec.decode_pcm16(data, codec, 16_000)
    assert rate == 16_000 and pcm.dtype == np.int16
    assert np.array_equal(pcm, audio_codec.quantise(wave))  # lossless: exactly the stored int16 samples
    decoded, _ = decode_audio(data, codec)
    assert decoded.dtype == np.float32 and np.array_equal(decoded, pcm.astype(np.float32) / 32768)
    assert np.abs(decoded - np.clip(wave, -1, 1)).max() <= 1 / 32768
    assert encode_audio(wave, codec=codec) == data  # deterministic bytes


def test_pcm_codecs_store_two_bytes_per_sample_and_flac_is_smaller() -> None:
    wave = (0.2 * np.sin(np.arange(32_000) / 9)).astype(np.float32)
    sizes = {codec: len(encode_audio(wave, codec=codec)) for codec in CODECS}
    assert sizes["raw"] == 64_000 and sizes["wav"] == 64_044 and sizes["flac"] < sizes["raw"] // 2


def test_bad_payloads_and_unknown_codecs_are_named() -> None:
    with pytest.raises(ValueError, match="unknown shard audio codec 'mp3'; known: flac, wav, raw"):
        audio_codec.member_ext("mp3")
    with pytest.raises(ValueError, match="3 bytes: not a whole number"):
        audio_codec.decode_pcm16(b"abc", "raw", 16_000)
    with pytest.raises(ValueError, match="not a PCM WAV"):
        audio_codec.decode_pcm16(b"RIFF0000WAVEjunk", "wav", 16_000)


def test_stats_codec_defaults_to_flac_and_rejects_unknown(tmp_path: Path) -> None:
    info = make_dataset(tmp_path / "old", num_classes=2, per_class={"train": 2, "val": 1, "test": 1})
    data = json.loads(info.to_json())
    del data["codec"]  # a stats.json written before codecs existed
    assert DatasetInfo.from_dict(data).codec == "flac" and DatasetInfo.from_dict(data).audio_ext == "flac"
    with pytest.raises(ValueError, match="stats.json: codec: unknown shard audio codec 'ogg'"):
        DatasetInfo.from_dict({**data, "codec": "ogg"})


def test_config_accepts_the_codecs_only(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    base = ["--corpora", json.dumps([{"name": "csv", "root": str(tmp_path)}]), "--output", str(tmp_path / "o")]
    assert parse_config([*base, "--codec", "raw"]).codec == "raw"
    assert parse_config(base).codec == "flac"
    with pytest.raises(SystemExit):
        parse_config([*base, "--codec", "mp3"])
    assert "codec" in capsys.readouterr().err


def _tars(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*.tar"))}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The demo corpus prepared once per codec (the same clips, splits and order)."""
    base = tmp_path_factory.mktemp("codec")
    generate(base / "corpus", speakers=4, clips_per_class=2, seed=2, workers=1, progress=False)
    out = {}
    for codec in CODECS:
        out[codec] = base / codec
        prepare(_config(base / "corpus", out[codec], codec, workers=2))
    return out


def _config(corpus: Path, out: Path, codec: str, workers: int) -> PrepareConfig:
    return validate(PrepareConfig(corpora=[CorpusSpec("csv", str(corpus), {"name": "demo"})], output=str(out),
                                  split=SplitSpec(mode="speaker"), shard_max_samples=5, codec=codec,
                                  workers=workers, progress=False))


@pytest.mark.parametrize("codec", ["wav", "raw"])
def test_preparation_per_codec_is_byte_identical_and_verifies(prepared: dict[str, Path], tmp_path: Path, codec: str) -> None:
    again = tmp_path / "again"
    prepare(_config(prepared[codec].parent / "corpus", again, codec, workers=1))
    assert _tars(again) == _tars(prepared[codec]) and len(_tars(again)) >= 3
    assert (again / STATS_FILE).read_bytes() == (prepared[codec] / STATS_FILE).read_bytes()
    info = load_dataset_info(str(again))
    assert info.codec == codec
    names = {name.split(".", 1)[1] for name in _members(again / info.splits["train"].shards[0])}
    assert names == {audio_codec.member_ext(codec), "json"}
    assert verify(again).problems == []


def _members(tar: Path) -> list[str]:
    import tarfile

    with tarfile.open(tar) as handle:
        return handle.getnames()


def test_codecs_hold_the_same_samples_and_flac_the_fewest_bytes(prepared: dict[str, Path]) -> None:
    decoded, size = {}, {}
    for codec, root in prepared.items():
        info = load_dataset_info(str(root))
        samples = list(read_samples([root / p for p in info.splits["test"].shards]))
        decoded[codec] = {s["__key__"]: decode_audio(s[info.audio_ext], codec)[0] for s in samples}
        size[codec] = sum(len(s[info.audio_ext]) for s in samples)
    assert decoded["flac"].keys() == decoded["wav"].keys() == decoded["raw"].keys()
    for key, wave in decoded["flac"].items():
        assert np.array_equal(wave, decoded["wav"][key]) and np.array_equal(wave, decoded["raw"][key])
    assert size["flac"] < size["raw"] == size["wav"] - 44 * len(samples)


@pytest.mark.parametrize("padding", ["repeat", "zero"])
def test_datamodule_batches_are_identical_across_codecs(prepared: dict[str, Path], padding: str) -> None:
    batches = {}
    for codec, root in prepared.items():
        dm = shard_data_module(str(root), batch_size=4, num_workers=0, clip_seconds=2.0, padding=padding, shuffle_buffer=4)
        batches[codec] = list(dm.train_dataloader()) + list(dm.val_dataloader())
    for codec in ("wav", "raw"):
        assert len(batches[codec]) == len(batches["flac"]) > 2
        for ours, reference in zip(batches[codec], batches["flac"]):
            assert ours["key"] == reference["key"] and torch.equal(ours["audio"], reference["audio"])
            assert torch.equal(ours["lengths"], reference["lengths"]) and torch.equal(ours["label"], reference["label"])


def test_evaluation_scores_are_identical_across_codecs(tmp_path: Path) -> None:
    torch.manual_seed(0)
    predictor = ModelPredictor(create_network("test_small_cnn", 3), [f"class{c}" for c in range(3)])
    scores = {}
    for codec in CODECS:
        root = tmp_path / codec
        make_dataset(root, num_classes=3, per_class={"train": 1, "val": 1, "test": 5}, seconds=(0.5, 1.5), codec=codec)
        logits = collect_logits({"net": predictor}, root, "test", batch_size=4,
                                overrides=InputOverrides(pad_to_seconds=1.5))
        report = build_report(logits.labels, logits.logits["net"], logits.class_names)
        scores[codec] = (logits.keys, logits.logits["net"], report)
    for codec in ("wav", "raw"):
        assert scores[codec][0] == scores["flac"][0]
        assert np.array_equal(scores[codec][1], scores["flac"][1])  # bit for bit, not approximately
        assert scores[codec][2] == scores["flac"][2]


def _wave_module_read(data: bytes) -> tuple[np.ndarray, int] | str:
    """The reader _read_wav replaced (the stdlib ``wave`` module), as the reference: samples and rate, or 'error'."""
    import io
    import wave

    try:
        with wave.open(io.BytesIO(data), "rb") as reader:
            channels, width, rate = reader.getnchannels(), reader.getsampwidth(), reader.getframerate()
            frames = reader.readframes(reader.getnframes())
    except (wave.Error, EOFError, RuntimeError):
        return "error"
    if width != 2:
        return "error"
    pcm = np.frombuffer(frames[: len(frames) - len(frames) % (2 * channels)], dtype="<i2").reshape(-1, channels)
    return (pcm[:, 0] if channels == 1 else np.rint(pcm.mean(axis=1)).astype("<i2")), rate


def _riff(*chunks: tuple[bytes, bytes], riff_size: int | None = None) -> bytes:
    body = b"WAVE" + b"".join(name + len(data).to_bytes(4, "little") + data + b"\0" * (len(data) & 1)
                              for name, data in chunks)
    return b"RIFF" + (len(body) if riff_size is None else riff_size).to_bytes(4, "little") + body


def _fmt(channels: int = 1, rate: int = 16_000, bits: int = 16, tag: int = 1) -> bytes:
    import struct

    return struct.pack("<HHLLHH", tag, channels, rate, rate * channels * bits // 8, channels * bits // 8, bits)


def test_wav_members_decode_as_the_wave_module_decodes_them() -> None:
    """The copy-free RIFF reader gives the stdlib reader's samples and rate, and fails where it fails."""
    rng = np.random.default_rng(5)
    pcm = rng.integers(-32768, 32767, 2_001, dtype=np.int16).astype("<i2").tobytes()
    members = {
        "ours": audio_codec.encode_pcm16(np.frombuffer(pcm, "<i2"), 16_000, "wav"),
        "stereo": _riff((b"fmt ", _fmt(channels=2)), (b"data", pcm[:4000])),
        "odd chunk before fmt": _riff((b"LIST", b"abc"), (b"fmt ", _fmt(rate=8_000)), (b"data", pcm)),
        "two fmt chunks": _riff((b"fmt ", _fmt(rate=8_000)), (b"fact", b"1234"), (b"fmt ", _fmt()), (b"data", pcm)),
        "half a frame at the end": _riff((b"fmt ", _fmt(channels=2)), (b"data", pcm[:4002])),
        "data cut short": _riff((b"fmt ", _fmt()), (b"data", pcm))[:-1001],
        "RIFF size shorter than the file": _riff((b"fmt ", _fmt()), (b"data", pcm), riff_size=4 + 24 + 8 + 1000),
        "empty data": _riff((b"fmt ", _fmt()), (b"data", b"")),
        "a chunk after data": _riff((b"fmt ", _fmt()), (b"data", pcm[:100]), (b"LIST", b"xy")),
        "8-bit": _riff((b"fmt ", _fmt(bits=8)), (b"data", pcm[:100])),
        "not PCM": _riff((b"fmt ", _fmt(tag=3)), (b"data", pcm[:100])),
        "no channels": _riff((b"fmt ", _fmt(channels=0)), (b"data", pcm[:100])),
        "data before fmt": _riff((b"data", pcm[:100]), (b"fmt ", _fmt())),
        "no data": _riff((b"fmt ", _fmt()),),
        "short fmt": _riff((b"fmt ", _fmt()[:14]), (b"data", pcm[:100])),
        "not RIFF": b"RIFX" + _riff((b"fmt ", _fmt()), (b"data", pcm))[4:],
        "not WAVE": b"RIFF\x04\0\0\0AVI ",
        "RIFF size too small for WAVE": b"RIFF\x02\0\0\0WAVE",
        "header only": b"RIFF",
        "nothing": b"",
    }
    for name, data in members.items():
        expected = _wave_module_read(data)
        for given in (data, memoryview(data)):  # bytes from a pipe, a view of a mapped local shard
            try:
                got = audio_codec.decode_pcm16(given, "wav", 16_000)
            except ValueError:
                got = "error"
            assert (got == "error") == (expected == "error"), name
            if expected != "error":
                assert got[1] == expected[1] and got[0].dtype == np.int16 and np.array_equal(got[0], expected[0]), name
    assert np.shares_memory(audio_codec.decode_pcm16(members["ours"], "wav", 16_000)[0], np.frombuffer(members["ours"], np.uint8))
