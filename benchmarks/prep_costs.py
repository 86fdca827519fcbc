"""Where preparation spends its time per file, stage by stage, with the stages' own functions.

``prepare()`` runs decode, resample, checks and the FLAC spool write in one worker call per file
(data_preparation/decode/decode.py) and the shard writing afterwards (data_preparation/shards/writers.py); this
times each of those pieces separately, in this process, on the same input files, so the split
does not depend on how a pool schedules them.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Sequence

import soundfile as sf

from data_preparation.decode.audio_io import probe, to_mono_16k
from data_preparation.shards.audio_codec import member_ext
from data_preparation.decode.decode import AudioFilter, check_wave, content_digest
from data_preparation.shards.shard_format import encode_audio
from data_preparation.shards.tar_writer import write_shards
from data_preparation.shards.writers import audio_payload


def preparation_costs(paths: Sequence[Path], codecs: Sequence[str]) -> dict[str, float]:
    """Milliseconds per file of each preparation stage over ``paths`` (CPU time of this process)."""
    totals: dict[str, float] = {"decode (native rate)": 0.0, "resample to 16 kHz": 0.0, "checks + digest": 0.0,
                                "FLAC spool write": 0.0}
    with tempfile.TemporaryDirectory() as scratch:
        spooled = []
        for index, path in enumerate(paths):
            clock = time.process_time()
            header = probe(path)
            wave, rate = sf.read(str(path), dtype="float32", always_2d=True)
            clock = _add(totals, "decode (native rate)", clock)
            wave = to_mono_16k(wave, rate)
            clock = _add(totals, "resample to 16 kHz", clock)
            check_wave(wave, AudioFilter(max_duration=max(5.0, header.duration + 1)))
            content_digest(wave)
            clock = _add(totals, "checks + digest", clock)
            spool = Path(scratch) / f"{index:07d}.flac"
            spool.write_bytes(encode_audio(wave))
            _add(totals, "FLAC spool write", clock)
            spooled.append(spool)
        for codec in codecs:
            clock = time.process_time()
            samples = ({"__key__": f"k{n}", member_ext(codec): audio_payload(p, codec), "json": b"{}"}
                       for n, p in enumerate(spooled))
            write_shards(samples, Path(scratch) / codec, "train", 1000)
            _add(totals, f"shard write ({codec})", clock)
    return {stage: 1000 * seconds / max(1, len(paths)) for stage, seconds in totals.items()}


def _add(totals: dict[str, float], stage: str, since: float) -> float:
    now = time.process_time()
    totals[stage] = totals.get(stage, 0.0) + now - since
    return now
