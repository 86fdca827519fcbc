"""What every fixture writer shares: the expectation type and writers of audio, text and CSV."""
from __future__ import annotations

import csv
import shutil
import subprocess
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf


@dataclass
class FixtureExpectation:
    """What reading a fixture tree must give. Paths are relative to ``root``, POSIX style."""

    corpus: str  # registered reader name
    root: Path
    records: int
    labels: dict[str, int]  # native label -> count
    speakers: set[str]
    problems: dict[str, str] = field(default_factory=dict)  # path -> fragment of the reason
    skipped: dict[str, int] = field(default_factory=dict)  # skip reason -> count
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)  # path -> expected subset
    options: dict[str, Any] = field(default_factory=dict)  # reader options to read it with
    skipped_parts: list[str] = field(default_factory=list)  # parts of the fixture not written, and why


def write_audio(
    path: Path,
    duration: float = 0.5,
    sample_rate: int = 16_000,
    *,
    container: str | None = None,
    subtype: str | None = "PCM_16",
    channels: int = 1,
    seed_name: str | None = None,
) -> Path:
    """A voiced-sounding tone (harmonics, vibrato, noise) at ``path``.

    The content is seeded by the file name (or ``seed_name``), so two copies of one recording
    under different folders are byte-identical, and different recordings differ. ``container``
    forces the format regardless of the extension (e.g. FLAC bytes under a ``.wav`` name).
    """
    rng = np.random.default_rng(zlib.crc32((seed_name or path.name).encode()))
    n = max(1, int(round(duration * sample_rate)))
    t = np.arange(n) / sample_rate
    f0 = rng.uniform(90.0, 320.0) * (1.0 + 0.03 * np.sin(2 * np.pi * rng.uniform(3, 7) * t))
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    wave = sum(np.sin(k * phase) / k for k in range(1, 6))
    envelope = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.05 + 1e-3)
    wave = 0.3 * envelope * wave / 2.3 + 0.01 * rng.standard_normal(n)
    data = np.repeat(wave[:, None], channels, axis=1) if channels > 1 else wave
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = container or {".wav": "WAV", ".flac": "FLAC", ".mp3": "MP3", ".aiff": "AIFF", ".aif": "AIFF"}[path.suffix.lower()]
    if fmt == "MP3":
        subtype = "MPEG_LAYER_III"
    sf.write(path, data.astype(np.float32), sample_rate, format=fmt, subtype=subtype)
    return path


def write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def durations(count: int, seed: int, low: float = 1.2, high: float = 3.8) -> list[float]:
    return [round(float(d), 3) for d in np.random.default_rng(seed).uniform(low, high, count)]


def ffmpeg_available() -> bool:
    return shutil.which("ffmpeg") is not None


def encode_mp4(wav: Path, mp4: Path) -> None:
    """An MP4 (AAC audio, no video) made from ``wav`` with ffmpeg, as MELD ships its clips."""
    mp4.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(wav), "-c:a", "aac", "-b:a", "64k", str(mp4)],
        check=True,
    )
