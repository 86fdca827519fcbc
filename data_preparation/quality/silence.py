"""Is there anything in a clip but silence or its own noise floor? Decided relative to the clip itself.

How loud a clip is says nothing about whether it holds speech: a soft-spoken actor, a microphone
gain set low or a recording normalised down sits 40-60 dB under full scale and is as much speech
as a loud one, while a DC offset is loud and holds nothing. So, after removing the mean, a clip is
judged against *itself*:

* the *loud frames* (95th percentile of 20 ms frame levels in the 80 Hz - 7.6 kHz speech band)
  must stand ``min_contrast_db`` above the clip's own *noise floor* (10th percentile of the frame
  levels): speech comes and goes in syllables and pauses, a noise floor does not. Both levels
  move together with the gain, so the test is scale-invariant;
* a clip that does not (stationary) is noise only when its long-term spectrum is flat
  (``noise_flatness_db``, the spectral flatness over 100 Hz - 3.8 kHz, 0 dB for white noise):
  a steady tone or a held vowel is not flat, hiss and dither are. The 3.8 kHz top keeps 8 kHz
  sources fair;
* the one absolute level is digital silence, and it is judged on the clip *as the shards store
  it*, 16-bit samples (:func:`as_stored`), so that it cannot depend on the sample format a clip
  came in: a float, 24-bit or 16-bit copy of one take are judged on (nearly) the same samples. A
  clip is silent when it is constant, or when its stored loud frames sit under
  ``silence_threshold_db``, by default the rounding noise of 24-bit samples (DIGITAL_SILENCE_DB,
  -149.3 dBFS): a frame of 16-bit samples is that quiet only when it holds (almost) only zeros,
  so this says that at least 95 % of the stored clip is digital silence. The floor used to be the 16-bit rounding noise
  (QUANTISATION_NOISE_DB, -101.1 dBFS) measured on the samples as decoded, which judged one clip
  twice (issue 23): a 16-bit copy of a quiet take at -60 dB holds rounding noise that lifts its
  loud frames over that floor, its float copy holds none and sat under it at -102.6 dBFS. Dither,
  16- or 24-bit, is still dropped: 24-bit dither is stored as zeros, 16-bit dither is flat and
  steady (noise only). Speech 60 dB under full scale has its loud frames near -70 to -105 dBFS.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from data_preparation.shards.audio_codec import PCM_SCALE, quantise
from data_preparation.shards.shard_format import SAMPLE_RATE

FRAME = SAMPLE_RATE // 50  # 20 ms
LOUD_PERCENTILE = 95.0  # a click or two does not make a silent clip loud
FLOOR_PERCENTILE = 10.0  # the quiet tenth of a clip is its noise floor
LEVEL_BAND = (80.0, 7600.0)  # Hz: the speech band; rumble and DC drift do not count as activity
FLATNESS_BAND = (100.0, 3800.0)  # Hz
FLOOR_DB = -200.0  # level of an all-zero frame
# RMS of the error of rounding to 16-bit samples (uniform over one step of 1/32768: step / sqrt(12)).
QUANTISATION_NOISE_DB = round(20 * math.log10(1 / 32768 / math.sqrt(12)), 1)  # -101.1 dBFS
# The same for 24-bit samples (step 2**-23): the default digital-silence floor, for loud frames of
# the clip as stored; a frame of 16-bit samples is that quiet only when it holds (almost) only zeros.
DIGITAL_SILENCE_DB = round(20 * math.log10(2.0**-23 / math.sqrt(12)), 1)  # -149.3 dBFS


@dataclass(frozen=True)
class Activity:
    """A clip's activity; levels in dB relative to full scale (a mean square of 1.0 is 0 dB)."""

    loud_db: float  # level of the loud frames
    floor_db: float  # the clip's noise floor
    flatness_db: float  # long-term spectral flatness, 0 dB = white noise, very negative = tonal
    dc_offset: float  # the mean that was removed

    @property
    def contrast_db(self) -> float:
        return self.loud_db - self.floor_db


def measure_activity(wave: np.ndarray) -> Activity:
    """Frame levels and spectral flatness of a 16 kHz clip (any length; shorter than a frame is one frame).

    >>> a = measure_activity(np.full(16000, 0.25, np.float32))
    >>> a.loud_db, round(a.dc_offset, 2)
    (-200.0, 0.25)
    """
    x, dc = _without_dc(wave)
    power, freqs = _frame_power(x[: x.size // FRAME * FRAME])
    levels = _band_levels(power, freqs)
    spectrum = power[:, (freqs >= FLATNESS_BAND[0]) & (freqs <= FLATNESS_BAND[1])].mean(axis=0)
    if spectrum.max() <= 0:
        flatness = 0.0
    else:
        spectrum = np.maximum(spectrum, spectrum.max() * 1e-12)
        flatness = float(10 * np.log10(np.exp(np.mean(np.log(spectrum))) / np.mean(spectrum)))
    return Activity(
        loud_db=round(float(np.percentile(levels, LOUD_PERCENTILE)), 1),
        floor_db=round(float(np.percentile(levels, FLOOR_PERCENTILE)), 1),
        flatness_db=round(flatness, 1),
        dc_offset=dc,
    )


def as_stored(wave: np.ndarray) -> np.ndarray:
    """The clip as the shards store and decode it: rounded to 16-bit samples, read back as float32.

    >>> as_stored(np.array([1e-6, 2e-5, -0.5, 1.5])).tolist()
    [0.0, 3.0517578125e-05, -0.5, 0.999969482421875]
    """
    return quantise(wave).astype(np.float32) / np.float32(PCM_SCALE)


def frame_levels(wave: np.ndarray) -> np.ndarray:
    """Speech-band level (dBFS) of every 20 ms frame of a 16 kHz clip after removing its mean, shape (ceil(n / FRAME),).

    Frame i covers samples [i * FRAME, (i + 1) * FRAME); a partial last frame is zero-padded into a
    frame of its own, so every sample belongs to one frame (measure_activity drops that tail).
    The same levels measure_activity judges, so a trim and the silence filter agree on what is silent.

    >>> frame_levels(np.zeros(330, np.float32)).tolist()
    [-200.0, -200.0]
    """
    x, _ = _without_dc(wave)
    x = np.pad(x, (0, -x.size % FRAME))
    return _band_levels(*_frame_power(x))


def _without_dc(wave: np.ndarray) -> tuple[np.ndarray, float]:
    """The clip as float64 minus its mean, at least one frame long (zero-padded), and the mean removed."""
    x = np.asarray(wave, dtype=np.float64)
    dc = float(x.mean()) if x.size else 0.0
    x = x - dc
    if x.size < FRAME:
        x = np.pad(x, (0, FRAME - x.size))
    return x, dc


def _frame_power(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hann-windowed power spectra of consecutive FRAME-sample frames (x.size a multiple of FRAME), and their frequencies (Hz)."""
    frames = x.reshape(-1, FRAME)
    power = np.abs(np.fft.rfft(frames * np.hanning(FRAME), axis=1)) ** 2
    return power, np.fft.rfftfreq(FRAME, 1 / SAMPLE_RATE)


def _band_levels(power: np.ndarray, freqs: np.ndarray) -> np.ndarray:
    """Each frame's LEVEL_BAND power as dBFS, floored at FLOOR_DB."""
    in_band = (freqs >= LEVEL_BAND[0]) & (freqs <= LEVEL_BAND[1])
    # Parseval with the window's energy: a frame's band power as a mean square (1.0 = 0 dBFS).
    mean_square = 2 * power[:, in_band].sum(axis=1) / (FRAME * np.sum(np.hanning(FRAME) ** 2))
    return np.maximum(10 * np.log10(np.maximum(mean_square, 1e-30)), FLOOR_DB)
