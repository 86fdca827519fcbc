"""Peak memory (RSS) of predict.py on 10 s, 1 h and 2 h recordings: streaming keeps it flat.

    python -m benchmarks.bench_predict_memory [--hours 1 2] [--model runs/demo/checkpoints/x.ckpt]

Each measurement is a fresh process (``predict.py``'s main on one 16 kHz mono WAV), so its peak RSS
(``ru_maxrss``) is its own: libraries, model, and whatever the recording costs. The figures are the
streamed path (predict.py) for each length, and, as the baseline in the same run, the whole-file
path (decode the whole recording, then predict its windows: what predict.py did before streaming)
on the longest one. Ratios are against the 10 s streamed figure. The model is the demo checkpoint
when runs/demo is trained, else the untrained demo architecture (same arithmetic).
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 16_000


def write_recording(path: Path, seconds: float, seed: int = 0) -> None:
    """A 16 kHz mono PCM-16 WAV of noise bursts, written a minute at a time (the writer stays small)."""
    rng = np.random.default_rng(seed)
    with sf.SoundFile(path, "w", RATE, 1, subtype="PCM_16") as target:
        left = int(seconds * RATE)
        while left > 0:
            n = min(left, 60 * RATE)
            envelope = np.abs(np.sin(np.linspace(0, 40 * np.pi, n)))
            target.write((0.1 * envelope * rng.standard_normal(n)).astype(np.float32))
            left -= n


def measure(mode: str, audio: Path, model: str | None, out: Path) -> dict:
    """Peak RSS of one fresh process running ``mode`` ("streamed" or "whole_file") on ``audio``."""
    command = [sys.executable, "-m", "benchmarks.bench_predict_memory", "--child", mode, str(audio), str(out),
               model or ""]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{mode} on {audio.name} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def child(mode: str, audio: str, out: str, model: str) -> None:
    from prediction import command as predict
    from benchmarks.bench_predict import untrained_demo_predictor
    from prediction.predictor import load_predictor
    from prediction.recording import load_recording, predict_wave
    from prediction.segments import SegmentSpec

    predictor = load_predictor(model, "cpu") if model else untrained_demo_predictor("cpu")
    if mode == "streamed":
        predict.load_predictor = lambda path, device="cpu": predictor  # the model above, through predict.py's main
        status = predict.main(["--model", model or "untrained", "--inputs", audio, "--output_dir", out, "--device", "cpu"])
        segments = len(json.loads((Path(out) / "predictions.json").read_text())["recordings"][0]["segments"])
        assert status == 0
    else:
        wave, _, _ = load_recording(audio)
        segments = len(predict_wave(predictor, wave, SegmentSpec()))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux -> MiB
    print(json.dumps({"mode": mode, "segments": segments, "peak_rss_mib": round(peak, 1)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, nargs="+", default=[1.0, 2.0])
    parser.add_argument("--model", type=str, default=None, help="checkpoint; default: runs/demo's best, else untrained")
    parser.add_argument("--child", nargs=4, metavar=("MODE", "AUDIO", "OUT", "MODEL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(*args.child)
    from benchmarks.bench_predict import demo_checkpoint

    model = args.model or (str(demo_checkpoint()) if demo_checkpoint() else None)
    print(f"model: {model or 'configs/net/small_cnn.yaml (untrained: no demo checkpoint)'}")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for seconds in [10.0] + [h * 3600 for h in args.hours]:
            audio = Path(folder) / f"rec_{seconds:g}s.wav"
            write_recording(audio, seconds)
            rows.append((seconds, measure("streamed", audio, model, Path(folder) / f"out_{seconds:g}")))
            if seconds == max(h * 3600 for h in args.hours):
                rows.append((seconds, measure("whole_file", audio, model, Path(folder) / "out_whole")))
            audio.unlink()
    base = rows[0][1]["peak_rss_mib"]
    for seconds, row in rows:
        print(f"{row['mode']:>10} {seconds / 3600:7.3f} h ({row['segments']:5d} segments): peak RSS "
              f"{row['peak_rss_mib']:8.1f} MiB = {row['peak_rss_mib'] / base:.2f}x the 10 s streamed run")


if __name__ == "__main__":
    main()
