"""predict.py's real-time factor on this machine for the demo model on a ten-minute recording.

    python -m benchmarks.bench_predict                          # runs/demo's best checkpoint if trained
    python -m benchmarks.bench_predict --model path/to/x.ckpt --minutes 10 --device cpu

Real-time factor (RTF) = processing seconds / audio seconds; below 1 is faster than real time.
Figures: the first model load (library imports and weights, paid once per process), decoding and
resampling the 44.1 kHz stereo WAV, end to end (predict.py's main with libraries already imported:
load the checkpoint, decode, segment, batch, predict, write JSON and CSV) and the prediction stage alone. The
baseline named in the ratio is the same model fed one segment at a time (batch size 1).
Without a trained checkpoint the demo architecture (configs/net/small_cnn.yaml) is used
untrained, which costs the same arithmetic; the output says which it measured.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from prediction import command as predict
from prediction.predictor import ModelPredictor, Predictor, load_predictor
from prediction.recording import load_recording, predict_wave
from prediction.segments import SegmentSpec
from training.last_checkpoint import LAST_NAME
from training.resume import best_checkpoint

DEMO_RUN = Path("runs/demo/checkpoints")
DEMO_NET = Path("configs/net/small_cnn.yaml")
DEMO_CLASSES = ["anger", "happy", "neutral", "sad"]


def synthetic_recording(path: Path, minutes: float, rate: int = 44_100, seed: int = 0) -> float:
    """A stereo WAV of speech-like bursts (varying tones under an envelope, pauses, noise); returns seconds."""
    rng = np.random.default_rng(seed)
    parts, total = [], 0
    while total < minutes * 60 * rate:
        n = int(rng.uniform(0.5, 3.0) * rate)
        t = np.arange(n) / rate
        tone = sum(np.sin(2 * np.pi * rng.uniform(120, 3000) * t) for _ in range(3))
        envelope = np.abs(np.sin(np.pi * rng.uniform(1, 6) * t))
        burst = 0.1 * envelope * tone + rng.normal(0, 0.01, n)
        pause = rng.normal(0, 0.003, int(rng.uniform(0.1, 0.8) * rate))
        parts += [burst, pause]
        total += n + len(pause)
    mono = np.concatenate(parts)[: int(minutes * 60 * rate)].astype(np.float32)
    sf.write(path, np.stack([mono, 0.8 * mono], axis=1), rate)
    return len(mono) / rate


def demo_checkpoint() -> Path | None:
    """The demo run's best checkpoint by validation F1 (recorded in its last.ckpt), else None."""
    return best_checkpoint(DEMO_RUN) if (DEMO_RUN / LAST_NAME).is_file() else None


def untrained_demo_predictor(device: str) -> Predictor:
    from jsonargparse import ArgumentParser
    from torch import nn

    parser = ArgumentParser()
    parser.add_argument("--net", type=nn.Module)  # instantiated by class_path, with num_classes below
    config = parser.parse_object({"net": {**_yaml(DEMO_NET), "init_args": {**_yaml(DEMO_NET)["init_args"],
                                                                           "num_classes": len(DEMO_CLASSES)}}})
    instantiate = getattr(parser, "instantiate", None) or parser.instantiate_classes  # renamed in 4.49
    network = instantiate(config).net
    return ModelPredictor(network, DEMO_CLASSES, device)


def _yaml(path: Path) -> dict:
    import yaml

    return yaml.safe_load(path.read_text())


def time_stage(predictor: Predictor, wave: np.ndarray, batch_size: int, repeats: int) -> float:
    """Best-of-``repeats`` seconds to predict every 5 s window of ``wave``."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        predict_wave(predictor, wave, SegmentSpec(), batch_size)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    model = args.model or demo_checkpoint()
    with tempfile.TemporaryDirectory() as folder:
        audio = Path(folder) / "ten_minutes.wav"
        seconds = synthetic_recording(audio, args.minutes)
        wave, _, _ = load_recording(audio)
        figures = {"audio_seconds": seconds, "device": args.device, "torch_threads": torch.get_num_threads(),
                   "batch_size": args.batch_size}
        started = time.perf_counter()
        if model is not None:
            predictor, figures["model"] = load_predictor(model, args.device), str(model)
        else:
            predictor, figures["model"] = untrained_demo_predictor(args.device), f"{DEMO_NET} (untrained: no demo checkpoint)"
        figures["first_load_seconds"] = time.perf_counter() - started  # imports of torch libraries + weights
        started = time.perf_counter()
        load_recording(audio)
        figures["decode_resample_seconds"] = time.perf_counter() - started
        if model is not None:
            started = time.perf_counter()
            predict.main(["--model", str(model), "--inputs", str(audio), "--output_dir",
                          str(Path(folder) / "out"), "--device", args.device, "--batch_size", str(args.batch_size)])
            figures["end_to_end_seconds"] = time.perf_counter() - started
            figures["end_to_end_rtf"] = figures["end_to_end_seconds"] / seconds
        batched = time_stage(predictor, wave, args.batch_size, args.repeats)
        single = time_stage(predictor, wave, 1, args.repeats)
    figures.update({"predict_seconds": batched, "predict_rtf": batched / seconds,
                    "baseline_batch1_seconds": single, "baseline_batch1_rtf": single / seconds,
                    "speedup_vs_batch1": single / batched})
    for key, value in figures.items():
        print(f"{key:>26}: {value:.4f}" if isinstance(value, float) else f"{key:>26}: {value}")


if __name__ == "__main__":
    main()
