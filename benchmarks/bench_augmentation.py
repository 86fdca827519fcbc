"""Batched on-device WaveformAugment against audiomentations applied clip by clip (the baseline).

Both chains apply every op to every clip (probability 1) with comparable ranges: gain, Gaussian
noise at a random SNR, a time shift with rollover, and a pitch-changing perturbation (ours:
Kaldi-style speed perturbation by resampling; audiomentations: PitchShift, and separately
TimeStretch). Prints clips/s for each and the ratio ours / baseline.

    python -m benchmarks.bench_augmentation [--batch 64] [--seconds 4] [--repeats 3] [--device cpu]
"""
from __future__ import annotations

import argparse
import time
from typing import Callable

import numpy as np
import torch
from audiomentations import AddGaussianSNR, Compose, Gain, PitchShift, Shift, TimeStretch

from lightning_modules.components.augmentation import WaveformAugment

RATE = 16_000


def clips_per_second(run: Callable[[], None], clips: int, repeats: int) -> float:
    run()  # warm-up: filter caches, allocator, lazy imports
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return clips / best


def baseline(stretch: Callable[..., object], **extra: object) -> Compose:
    return Compose([
        Gain(min_gain_db=-6.0, max_gain_db=6.0, p=1.0),
        AddGaussianSNR(min_snr_db=10.0, max_snr_db=30.0, p=1.0),
        Shift(min_shift=-0.2, max_shift=0.2, rollover=True, p=1.0),
        stretch(p=1.0, **extra),
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    size = int(args.seconds * RATE)
    audio_np = (0.1 * rng.standard_normal((args.batch, size))).astype(np.float32)
    device = torch.device(args.device)
    audio = torch.from_numpy(audio_np).to(device)
    lengths = torch.full((args.batch,), size, device=device)
    ours = WaveformAugment(gain_prob=1, noise_prob=1, shift_prob=1, speed_prob=1, speed_factors=(0.9, 1.1), seed=0).train()

    def run_ours() -> None:
        ours(audio, lengths)
        if device.type == "cuda":
            torch.cuda.synchronize()

    def clip_by_clip(chain: Compose) -> Callable[[], None]:
        return lambda: [chain(samples=clip, sample_rate=RATE) for clip in audio_np]

    print(f"{args.batch} clips x {args.seconds:g} s at 16 kHz; device {device}; torch threads {torch.get_num_threads()}")
    ours_rate = clips_per_second(run_ours, args.batch, args.repeats)
    print(f"WaveformAugment (batched, gain+noise+shift+speed): {ours_rate:10.1f} clips/s")
    for name, chain in (
        ("PitchShift", baseline(PitchShift, min_semitones=-2.0, max_semitones=2.0)),
        ("TimeStretch", baseline(TimeStretch, min_rate=0.9, max_rate=1.1)),
    ):
        rate = clips_per_second(clip_by_clip(chain), args.batch, args.repeats)
        print(f"audiomentations clip by clip (gain+noise+shift+{name}): {rate:10.1f} clips/s"
              f"   ratio ours/baseline: {ours_rate / rate:6.1f}x")
    light = Compose([op for op in baseline(PitchShift).transforms[:3]])
    light_ours = WaveformAugment(gain_prob=1, noise_prob=1, shift_prob=1, speed_prob=0, seed=0).train()
    light_rate = clips_per_second(lambda: light_ours(audio, lengths), args.batch, args.repeats)
    base_rate = clips_per_second(clip_by_clip(light), args.batch, args.repeats)
    print(f"without the pitch/speed op: ours {light_rate:10.1f} clips/s, audiomentations {base_rate:10.1f} clips/s"
          f"   ratio {light_rate / base_rate:6.1f}x")


if __name__ == "__main__":
    main()
