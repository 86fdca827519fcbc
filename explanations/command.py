"""Explain a trained model's decisions on audio files: ``python explain.py --checkpoint C --audio a.wav [b.wav ...]``.

CNN and timm networks get a Grad-CAM heatmap over their log-mel / MFCC input; speech encoders
(Wav2Vec2 / WavLM / HuBERT) get an integrated-gradients curve over time (explanations/attribution.py says
why). PNGs go to ``--out`` (default: the run's ``reports/explain/`` beside ``checkpoints/``) and, with
``--wandb``, into an offline W&B run there. ``--target`` names the class to explain (default: the
predicted class of each clip). A user error is one line on stderr and exit status 2.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch


def explain_file(net: torch.nn.Module, class_names: list[str], audio_path: Path, out: Path,
                 target: int | None, sample_rate: int, max_seconds: float) -> Path:
    """One PNG for one file: Grad-CAM for conv networks, a time curve for speech encoders."""
    from data_preparation.decode.audio_io import probe, read_audio
    from explanations.attribution import time_attribution
    from explanations.gradcam import gradcam
    from explanations.plots import plot_gradcam, plot_time_attribution
    from lightning_modules.components.speech_encoder import SpeechEncoderClassifier

    wave = torch.from_numpy(read_audio(audio_path, probe(audio_path)))[: int(max_seconds * sample_rate)]
    if isinstance(net, SpeechEncoderClassifier):
        curve, chosen = time_attribution(net, wave, len(wave), target, sample_rate)
        return plot_time_attribution(wave.numpy(), curve, sample_rate, 0.02, class_names[chosen],
                                     out / f"{audio_path.stem}-time.png")
    if target is None:
        with torch.no_grad():
            target = int(net(wave[None], torch.tensor([len(wave)])).argmax(-1))
    features, heatmaps = gradcam(net, wave[None], torch.tensor([len(wave)]), [target])
    return plot_gradcam(features[0], heatmaps[0], class_names[target], out / f"{audio_path.stem}-gradcam.png")


def log_to_wandb(paths: list[Path], out: Path) -> None:
    import wandb

    run = wandb.init(mode="offline", dir=str(out), job_type="explain")
    run.log({"explain": [wandb.Image(str(p), caption=p.stem) for p in paths]})
    run.finish()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--audio", type=Path, nargs="+", required=True)
    parser.add_argument("--target", default=None, help="class name to explain (default: the predicted class)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--max_seconds", type=float, default=10.0)
    parser.add_argument("--wandb", action="store_true", help="also log the PNGs to an offline W&B run in --out")
    args = parser.parse_args(argv)
    from prediction.predictor import load_checkpoint_predictor

    try:
        predictor = load_checkpoint_predictor(args.checkpoint)
        names = predictor.class_names
        if args.target is not None and args.target not in names:
            raise ValueError(f"--target {args.target!r}: the model's classes are {names}")
        missing = [str(p) for p in args.audio if not p.is_file()]
        if missing:
            raise FileNotFoundError(f"--audio: no such file: {', '.join(missing)}")
        out = args.out or args.checkpoint.resolve().parent.parent / "reports" / "explain"
        target = None if args.target is None else names.index(args.target)
        net = predictor.module.net
        paths = [explain_file(net, names, p, out, target, predictor.sample_rate, args.max_seconds) for p in args.audio]
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.wandb:
        log_to_wandb(paths, out)
    for path in paths:
        print(path)
    return 0


def run(argv: list[str] | None = None) -> None:
    """The command line (``ser-explain``): :func:`main`'s status as the exit status."""
    sys.exit(main(argv))


if __name__ == "__main__":
    run()
