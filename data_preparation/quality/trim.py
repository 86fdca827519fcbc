"""Seed 000's silence removal (§6.2.1): cut the leading and trailing frames that are silent.

The seed "considered any signal at the start and end of the sample softer than 20 dB to be silent
and removed them": librosa's ``effects.trim(y, top_db=20)`` rule, frames more than ``top_db`` below
the clip's loudest are silence. The rule is kept; the detector is silence.py's, not librosa's:

* ``librosa.effects.trim`` (installed) measures full-band RMS, DC offset included, against the single
  loudest frame. A DC offset or mains hum under the pauses holds them above the threshold (nothing
  is cut), and one click sets the reference (speech is cut as "silence").
* ``torchaudio.functional.vad`` (sox's VAD) trims only the front (the end needs a reversed second
  pass) and decides by its own noise model and a dozen tuning knobs, not by the seed's 20 dB rule.
* silence.py's frame levels (mean removed, 80 Hz - 7.6 kHz speech band, 20 ms frames) are what the
  silence filter already judges, and its loud level (95th percentile of the frames) ignores a click;
  so the trim and the filter share one definition of silence, and no second detector exists. On a
  clean clip the cut lands where librosa's does, within a frame (tests/test_trim.py).

Only the ends are cut: the seed removed no pause inside a clip.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from data_preparation.quality.reasons import Reason
from data_preparation.shards.shard_format import SAMPLE_RATE
from data_preparation.quality.silence import FRAME, LOUD_PERCENTILE, frame_levels

TOO_SHORT = "trimmed too short"


@dataclass(frozen=True)
class TrimSpec:
    """``trim:`` of a preparation config; absent (null) means no trimming and the shards of before."""

    top_db: float = 20.0  # frames this far below the clip's loud frames are silence (seed 000: "softer than 20 dB")
    keep_margin: float = 0.0  # seconds of the silence kept before the first and after the last loud-enough frame
    min_duration: float = 0.2  # seconds: a clip shorter than this once trimmed is set aside ("trimmed too short")


@dataclass(frozen=True)
class TrimResult:
    """What trimming left: the kept samples, seconds cut from the two ends, and a reason when too short."""

    wave: np.ndarray
    trimmed: float  # seconds cut (leading + trailing)
    reason: Reason | None


def speech_span(wave: np.ndarray, spec: TrimSpec) -> tuple[int, int]:
    """[start, stop) sample range from the first to the last frame within ``top_db`` of the loud level, plus the margin.

    >>> clip = np.concatenate([np.zeros(8000), np.sin(np.arange(16000) * 0.2), np.zeros(4000)])
    >>> speech_span(clip, TrimSpec())
    (8000, 24000)
    """
    levels = frame_levels(wave)
    loud = float(np.percentile(levels, LOUD_PERCENTILE))
    active = np.flatnonzero(levels >= loud - spec.top_db)  # never empty: the loud frames themselves pass
    margin = int(round(spec.keep_margin * SAMPLE_RATE))
    start = max(0, int(active[0]) * FRAME - margin)
    stop = min(int(wave.size), (int(active[-1]) + 1) * FRAME + margin)
    return start, stop


def trim_clip(wave: np.ndarray, spec: TrimSpec) -> TrimResult:
    """The clip without its leading and trailing silence, or the reason it is too short once trimmed."""
    start, stop = speech_span(wave, spec)
    kept = wave[start:stop]
    trimmed = round((wave.size - kept.size) / SAMPLE_RATE, 4)
    left = kept.size / SAMPLE_RATE
    if left < spec.min_duration:
        detail = (f"{left:.3f} s of {wave.size / SAMPLE_RATE:.3f} s is within {spec.top_db:g} dB of the loud frames "
                  f"< trim.min_duration {spec.min_duration:g} s")
        return TrimResult(kept, trimmed, Reason(TOO_SHORT, round(left, 3), detail))
    return TrimResult(kept, trimmed, None)


def trim_summary(spec: TrimSpec, trimmed: Sequence[float], kept_seconds: Sequence[float], too_short: int) -> dict:
    """stats.json ``extra.trim``: the settings and what they cut from the written clips.

    ``trimmed`` and ``kept_seconds`` are per written clip (seconds cut, seconds left); ``too_short``
    counts the clips set aside as "trimmed too short".

    >>> trim_summary(TrimSpec(), [0.5, 0.0], [1.5, 2.0], 1)["seconds_trimmed"]
    0.5
    """
    cut = float(np.sum(trimmed)) if len(trimmed) else 0.0
    before = cut + (float(np.sum(kept_seconds)) if len(kept_seconds) else 0.0)
    return {
        "settings": {"top_db": spec.top_db, "keep_margin": spec.keep_margin, "min_duration": spec.min_duration},
        "clips": len(trimmed),
        "clips_trimmed": int(sum(1 for t in trimmed if t > 0)),
        "seconds_trimmed": round(cut, 3),
        "seconds_before": round(before, 3),
        "share_trimmed": round(cut / before, 4) if before else 0.0,
        "trimmed_too_short": too_short,
    }


def format_trim_summary(summary: dict) -> str:
    """One line for the printed preparation summary.

    >>> print(format_trim_summary(trim_summary(TrimSpec(), [0.5, 0.0], [1.5, 2.0], 1)))
    trim (top_db 20, keep_margin 0 s): 1 of 2 written clips trimmed, 0.500 s of 4.000 s cut (12.5%); 1 set aside as "trimmed too short"
    """
    settings = summary["settings"]
    return (f"trim (top_db {settings['top_db']:g}, keep_margin {settings['keep_margin']:g} s): "
            f"{summary['clips_trimmed']} of {summary['clips']} written clips trimmed, "
            f"{summary['seconds_trimmed']:.3f} s of {summary['seconds_before']:.3f} s cut "
            f"({summary['share_trimmed']:.1%}); {summary['trimmed_too_short']} set aside as \"{TOO_SHORT}\"")
