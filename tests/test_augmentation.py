"""WaveformAugment and SpecAugment: each op does what it says, per sample, within lengths, reproducibly."""
from __future__ import annotations

import math

import pytest
import torch

from lightning_modules.components.augmentation import SpecAugment, WaveformAugment

RATE = 16_000
OFF = dict(gain_prob=0.0, noise_prob=0.0, shift_prob=0.0, speed_prob=0.0)


def tones(batch: int = 8, size: int = RATE, freq: float = 500.0) -> tuple[torch.Tensor, torch.Tensor]:
    """A tone per row with decreasing valid lengths and zero padding."""
    t = torch.arange(size) / RATE
    lengths = torch.linspace(size, size // 4, batch).long()
    audio = 0.5 * torch.sin(2 * math.pi * freq * t).repeat(batch, 1) * (torch.arange(size) < lengths[:, None])
    return audio, lengths


def only(**settings) -> WaveformAugment:
    return WaveformAugment(**{**OFF, **settings}).train()


def test_eval_mode_is_identity() -> None:
    audio, lengths = tones()
    augment = WaveformAugment(gain_prob=1, noise_prob=1, shift_prob=1, speed_prob=1, seed=0).eval()
    out, out_lengths = augment(audio, lengths)
    assert out is audio and out_lengths is lengths
    spec = torch.randn(2, 16, 50)
    assert SpecAugment(seed=0).eval()(spec) is spec


def test_same_seed_same_result_other_seed_differs() -> None:
    audio, lengths = tones()
    settings = dict(gain_prob=0.5, noise_prob=0.5, shift_prob=0.5, speed_prob=0.5)
    first = WaveformAugment(**settings, seed=3).train()(audio, lengths)
    second = WaveformAugment(**settings, seed=3).train()(audio, lengths)
    other = WaveformAugment(**settings, seed=4).train()(audio, lengths)
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    assert not torch.equal(first[0], other[0])


def test_gain_is_per_sample_within_range() -> None:
    audio, lengths = tones()
    out, _ = only(gain_prob=1.0, gain_db=(-6.0, 6.0), seed=0)(audio, lengths)
    ratio = out[:, 100] / audio[:, 100]
    db = 20 * torch.log10(ratio)
    assert ((db >= -6.0 - 1e-4) & (db <= 6.0 + 1e-4)).all() and db.unique().numel() == len(db)
    assert torch.allclose(out, audio * ratio[:, None], atol=1e-6)


def test_probability_selects_about_that_share_of_the_batch() -> None:
    audio = torch.ones(2000, 64)
    out, _ = only(gain_prob=0.3, gain_db=(3.0, 6.0), seed=0)(audio, torch.full((2000,), 64))
    changed = (out[:, 0] != 1.0).float().mean().item()
    assert abs(changed - 0.3) < 0.04  # binomial sd ~0.01


def test_noise_reaches_the_drawn_snr_on_valid_samples_only() -> None:
    audio, lengths = tones(size=4 * RATE)
    out, _ = only(noise_prob=1.0, snr_db=(10.0, 10.0), seed=0)(audio, lengths)
    noise = out - audio
    valid = torch.arange(audio.shape[1]) < lengths[:, None]
    assert not noise[~valid].any()
    snr = 10 * torch.log10(((audio**2) * valid).sum(1) / ((noise**2) * valid).sum(1))
    assert torch.allclose(snr, torch.full_like(snr, 10.0), atol=0.3)


@pytest.mark.parametrize("mode", ["roll", "zero"])
def test_shift_moves_the_valid_part_only(mode: str) -> None:
    audio = torch.arange(1, 101, dtype=torch.float32).repeat(4, 1)
    lengths = torch.tensor([100, 80, 50, 20])
    audio = audio * (torch.arange(100) < lengths[:, None])
    out, _ = only(shift_prob=1.0, shift_max=0.3, shift_mode=mode, seed=1)(audio, lengths)
    for row, source, length in zip(out, audio, lengths.tolist()):
        assert not row[length:].any()
        valid = source[:length]
        if mode == "roll":
            shifts = [s for s in range(-length + 1, length) if torch.equal(row[:length], torch.roll(valid, s))]
        else:
            shifts = [s for s in range(-length + 1, length) if torch.equal(row[:length], _zero_shift(valid, s))]
        assert shifts and min(abs(s) for s in shifts) <= 0.3 * length  # a roll by s equals one by s - length
    assert not torch.equal(out, audio)


def _zero_shift(valid: torch.Tensor, s: int) -> torch.Tensor:
    out = torch.zeros_like(valid)
    if s >= 0:
        out[s:] = valid[: len(valid) - s]
    else:
        out[:s] = valid[-s:]
    return out


def dominant_hz(row: torch.Tensor, length: int) -> float:
    spectrum = torch.fft.rfft(row[:length]).abs()
    return spectrum.argmax().item() * RATE / length


@pytest.mark.parametrize("factor", [1.1, 0.9])
def test_speed_scales_pitch_and_duration(factor: float) -> None:
    audio, lengths = tones(batch=4, freq=500.0)
    out, new_lengths = only(speed_prob=1.0, speed_factors=(factor,), seed=0)(audio, lengths)
    expected = torch.clamp(torch.ceil(lengths / factor), max=audio.shape[1]).long()
    assert torch.equal(new_lengths, expected)
    for row, length in zip(out, new_lengths.tolist()):
        assert not row[length:].any()
        assert dominant_hz(row, length) == pytest.approx(500.0 * factor, rel=0.02)


def test_speed_groups_samples_by_factor() -> None:
    audio, lengths = tones(batch=32)
    _, new_lengths = only(speed_prob=1.0, speed_factors=(0.9, 1.0, 1.1), seed=0)(audio, lengths)
    uncropped = new_lengths < audio.shape[1]
    factors = {round(old / new, 1) for old, new in zip(lengths[uncropped].tolist(), new_lengths[uncropped].tolist())}
    assert factors == {0.9, 1.0, 1.1}


def test_bad_settings_are_named() -> None:
    with pytest.raises(ValueError, match="noise_prob=1.5"):
        WaveformAugment(noise_prob=1.5)
    with pytest.raises(ValueError, match="speed_factors"):
        WaveformAugment(speed_factors=(0.0, 1.1))


def test_specaugment_masks_bands_and_spans_within_lengths() -> None:
    spec = torch.randn(64, 40, 100) + 5.0
    lengths = torch.randint(30, 101, (64,))
    out = SpecAugment(freq_masks=1, freq_width=10, time_masks=1, time_width=15, seed=0).train()(spec, lengths)
    mean = spec.mean(dim=(1, 2))
    for row, source, fill, length in zip(out, spec, mean, lengths.tolist()):
        masked = row != source
        assert torch.allclose(row[masked], fill.expand_as(row[masked]))
        full_bins = masked.all(dim=1)  # frequency bands cover every frame
        full_frames = masked.all(dim=0)  # time spans cover every bin
        assert full_bins.sum() <= 10 and full_frames.sum() <= 15
        assert not full_frames[length:].any(), "a time mask landed on padding"
        assert masked.equal(full_bins[:, None] | full_frames[None, :])
        for mask in (full_bins, full_frames):
            where = torch.nonzero(mask).flatten()
            assert where.numel() == 0 or where[-1] - where[0] + 1 == where.numel(), "mask is not one span"
    assert (out != spec).any(dim=(1, 2)).float().mean() > 0.8


def test_specaugment_shares_masks_across_channels_and_honours_probability() -> None:
    spec = torch.randn(200, 3, 20, 50)
    out = SpecAugment(prob=0.5, fill="zero", seed=0).train()(spec)
    masked = out != spec
    assert torch.equal(masked[:, 0], masked[:, 1]) and torch.equal(masked[:, 0], masked[:, 2])
    assert (out[masked] == 0).all()
    assert abs(masked.flatten(1).any(1).float().mean().item() - 0.5) < 0.12
