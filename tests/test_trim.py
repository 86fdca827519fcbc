"""Silence trimming (``trim:``, seed 000's silence removal): known silences are cut within a frame,
speech is kept, an all-speech clip is untouched, a clip that trims to too little is set aside with its
reason, and trimming off leaves the preparation (fingerprint, audio) as it was before trimming existed."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf

from data_preparation.config import CorpusSpec, PrepareConfig, SplitSpec, fingerprint, parse_config, validate
from data_preparation.decode.decode import AudioFilter
from data_preparation.inputs.manifest import read_manifest
from data_preparation.pipeline import prepare
from data_preparation.shards.shard_format import SAMPLE_RATE
from data_preparation.quality.silence import FRAME, QUANTISATION_NOISE_DB
from data_preparation.quality.trim import TOO_SHORT, TrimSpec, speech_span, trim_clip
from data_preparation.verify import verify
from tests.test_prepare_fingerprint import audio_of
from tests.test_prepare_pipeline import write_metadata

SR = SAMPLE_RATE


def voiced(seconds: float, f0: float = 150.0, seed: int = 0) -> np.ndarray:
    """A voiced-sounding tone with syllable-rate loudness changes (never below -12 dB of its peak), 5 ms ramps."""
    t = np.arange(int(round(seconds * SR))) / SR
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.03 * np.sin(2 * np.pi * 5 * t))) / SR
    wave = sum(np.sin(k * phase) / k for k in range(1, 6)) * (0.625 + 0.375 * np.sin(2 * np.pi * 4 * t + seed))
    ramp = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.005)
    return 0.12 * ramp * wave


def pause(seconds: float, seed: int = 0) -> np.ndarray:
    """Room silence: noise about 50 dB under the speech."""
    return 3e-4 * np.random.default_rng(seed).standard_normal(int(round(seconds * SR)))


def test_known_leading_and_trailing_silence_is_cut_within_a_frame() -> None:
    lead, speech, tail = pause(0.37), voiced(1.5), pause(0.61, seed=1)
    clip = np.concatenate([lead, speech, tail]) + 0.05  # a DC offset under everything: not "sound"
    start, stop = speech_span(clip, TrimSpec(top_db=20))
    assert abs(start - lead.size) <= FRAME and abs(stop - (lead.size + speech.size)) <= FRAME
    cut = trim_clip(clip, TrimSpec(top_db=20))
    assert cut.reason is None and np.array_equal(cut.wave, clip[start:stop])  # speech samples kept as they were
    assert cut.trimmed == pytest.approx(0.37 + 0.61, abs=2 * FRAME / SR)


def test_keep_margin_keeps_that_much_silence_at_each_end() -> None:
    lead, speech = pause(0.5), voiced(1.0)
    clip = np.concatenate([lead, speech, pause(0.5, seed=1)])
    plain, kept = speech_span(clip, TrimSpec()), speech_span(clip, TrimSpec(keep_margin=0.1))
    assert kept == (plain[0] - int(0.1 * SR), plain[1] + int(0.1 * SR))


def test_all_speech_clip_is_untouched() -> None:
    clip = voiced(2.0)[160:-160]  # starts and ends mid-sound
    cut = trim_clip(clip, TrimSpec(top_db=20))
    assert cut.trimmed == 0.0 and cut.reason is None and np.array_equal(cut.wave, clip)


def test_cut_matches_librosa_on_a_clean_clip_and_survives_the_dc_offset_librosa_does_not() -> None:
    clip = np.concatenate([pause(0.4), voiced(1.2), pause(0.3, seed=1)])
    ours = speech_span(clip, TrimSpec(top_db=20))
    _, theirs = librosa.effects.trim(clip, top_db=20, frame_length=FRAME, hop_length=FRAME)
    assert abs(ours[0] - theirs[0]) <= FRAME and abs(ours[1] - theirs[1]) <= FRAME
    offset = clip + 0.05
    assert speech_span(offset, TrimSpec(top_db=20)) == ours  # the mean is removed before judging
    _, fooled = librosa.effects.trim(offset, top_db=20, frame_length=FRAME, hop_length=FRAME)
    assert fooled[1] - fooled[0] > 1.2 * (ours[1] - ours[0])  # librosa's RMS counts the offset as sound


def test_clip_that_trims_to_too_little_has_a_reason() -> None:
    clip = np.concatenate([pause(0.8), voiced(0.15), pause(0.8, seed=1)])
    cut = trim_clip(clip, TrimSpec(min_duration=0.2))
    assert cut.reason is not None and cut.reason.category == TOO_SHORT
    assert cut.reason.value == pytest.approx(0.15, abs=2 * FRAME / SR)
    assert "trim.min_duration 0.2" in cut.reason.detail


def write_corpus(root: Path) -> dict[str, tuple[float, float]]:
    """Six 16 kHz clips with known (leading, trailing) silence; ``burst.wav`` is 0.15 s of sound in 1.75 s."""
    layouts = {f"c{n}.wav": (0.1 * n, 0.25) for n in range(5)}
    rows = []
    for n, (name, (lead, tail)) in enumerate(layouts.items()):
        clip = np.concatenate([pause(lead, n), voiced(1.2, 120 + 30 * n, n), pause(tail, 10 + n)])
        sf.write(root / name, clip, SR, subtype="PCM_16")
        rows.append((name, ("neutral", "sad")[n % 2], f"s{n % 3}"))
    sf.write(root / "burst.wav", np.concatenate([pause(0.8), voiced(0.15), pause(0.8, 1)]), SR, subtype="PCM_16")
    rows.append(("burst.wav", "sad", "s2"))
    write_metadata(root, rows)
    return layouts


def small_config(root: Path, out: Path, trim: TrimSpec | None, progress: bool = False) -> PrepareConfig:
    return validate(PrepareConfig(corpora=[CorpusSpec("csv", str(root), {"name": "small"})], output=str(out),
                                  trim=trim, split=SplitSpec(mode="stratified"), shard_max_samples=2,
                                  workers=1, progress=progress))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, tuple[float, float]]]:
    root = tmp_path_factory.mktemp("trim_corpus")
    return root, write_corpus(root)


def test_trimmed_preparation_cuts_reports_and_verifies(corpus, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root, layouts = corpus
    out = tmp_path / "trimmed"
    info = prepare(small_config(root, out, TrimSpec(top_db=20, min_duration=0.2), progress=True))
    printed = capsys.readouterr().err
    assert "5 of 5 written clips trimmed" in printed and '1 set aside as "trimmed too short"' in printed
    for name, (lead, tail) in layouts.items():
        decoded = sf.read(root / name)[0]
        stored = audio_of(out, name)
        assert abs(stored.size - (decoded.size - round((lead + tail) * SR))) <= 2 * FRAME, name
    summary = info.extra["trim"]
    expected = sum(lead + tail for lead, tail in layouts.values())
    assert summary["seconds_trimmed"] == pytest.approx(expected, abs=2 * FRAME / SR * len(layouts))
    assert summary["clips"] == 5 and summary["trimmed_too_short"] == 1 and summary["settings"]["top_db"] == 20
    manifest = {row["path"]: row for row in read_manifest(out / "manifest.csv")}
    assert manifest["burst.wav"]["fate"] == "dropped" and manifest["burst.wav"]["reason"] == TOO_SHORT
    assert float(manifest["c4.wav"]["trimmed"]) == pytest.approx(0.65, abs=2 * FRAME / SR)
    assert info.extra["dropped_by_reason"] == {TOO_SHORT: 1}
    assert verify(out).problems == []  # meta durations match the trimmed audio


def test_trimming_off_keeps_the_old_fingerprint_and_the_audio_as_decoded(corpus, tmp_path: Path) -> None:
    root, layouts = corpus
    # The stamp of this config without trim (commit c69da17 added trimming and kept it), so switching
    # trim off changes nothing. It moved once since, from 907ff752f371d6f7, when the silence filter's
    # default floor went from -70 dBFS to the 16-bit rounding noise (issue 17): those preparations
    # had dropped quiet speech, so they must be made again rather than pass as "nothing to do". And
    # again, from ade21bf57ce86eb7, when it went to the 24-bit rounding noise (issue 23: the 16-bit
    # floor dropped quiet takes stored as float that their 16-bit copies kept).
    old = PrepareConfig(corpora=[CorpusSpec("csv", "corpus", {"name": "small"})], output="out")
    assert fingerprint(old) == "ee5f7acc1c503ee3"
    sixteen_bit_floor = AudioFilter(silence_threshold_db=QUANTISATION_NOISE_DB)
    assert fingerprint(dataclasses.replace(old, filter=sixteen_bit_floor)) == "ade21bf57ce86eb7"
    assert fingerprint(dataclasses.replace(old, filter=AudioFilter(silence_threshold_db=-70.0))) == "907ff752f371d6f7"
    out = tmp_path / "plain"
    info = prepare(small_config(root, out, None))
    assert info.extra["trim"] is None and "dropped" not in info.extra["fates"]
    for name in [*layouts, "burst.wav"]:
        np.testing.assert_array_equal(audio_of(out, name), sf.read(root / name, dtype="float32")[0])


def test_trimmed_and_untrimmed_preparations_never_share_an_output(corpus, tmp_path: Path) -> None:
    root, _ = corpus
    out = tmp_path / "prepared"
    plain, trimmed = small_config(root, out, None), small_config(root, out, TrimSpec())
    assert fingerprint(plain) != fingerprint(trimmed) != fingerprint(small_config(root, out, TrimSpec(top_db=30)))
    prepare(plain)
    with pytest.raises(FileExistsError, match="other settings"):
        prepare(trimmed)


def test_trim_yaml_parses_and_bad_values_name_their_key(tmp_path: Path) -> None:
    config = tmp_path / "prep.yaml"
    config.write_text("corpora: [{name: csv, root: corpus}]\noutput: out\ntrim: {top_db: 25, keep_margin: 0.05}\n")
    parsed = parse_config(["--config", str(config)])
    assert parsed.trim == TrimSpec(top_db=25.0, keep_margin=0.05)
    with pytest.raises(ValueError, match="trim.top_db"):
        parse_config(["--config", str(config), "--trim.top_db=-3"])
    with pytest.raises(ValueError, match="trim.min_duration"):
        parse_config(["--config", str(config), "--trim.min_duration=9"])


def test_seed000_trim_configs_are_seed000_plus_trim_and_rows_train_on_them() -> None:
    for base, trimmed in (("seed000", "seed000_trim"), ("seed000_speaker", "seed000_speaker_trim")):
        plain = parse_config(["--config", f"configs/prepare/{base}.yaml"])
        cut = parse_config(["--config", f"configs/prepare/{trimmed}.yaml"])
        assert cut.trim == TrimSpec(top_db=20.0, keep_margin=0.0, min_duration=cut.trim.min_duration)
        assert cut.output != plain.output and fingerprint(cut) != fingerprint(plain)
        assert json.dumps({**vars(cut), "trim": None, "output": ""}, default=str) == \
            json.dumps({**vars(plain), "output": ""}, default=str), f"{trimmed} differs from {base} only in trim/output"
    output = parse_config(["--config", "configs/prepare/seed000_trim.yaml"]).output
    rows = sorted(Path("configs/seeds/000").glob("table6_3_*_silence_*.yaml"))
    assert len(rows) == 4
    for row in rows:
        assert f"data.data_root: {output}" in row.read_text(), row
