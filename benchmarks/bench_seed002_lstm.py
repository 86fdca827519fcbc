"""Seed 002's recurrent rows on the demo corpus: LSTM-only and CNN-LSTM against its CNN-BLSTM-attention.

Each network (seed 002's own net config, the demo's small CNN as the reference) is trained by train.py
with configs/demo.yaml's settings on a prepared demo corpus (speaker-independent split: the test
speakers are never heard in training); the test macro F1 / weighted accuracy of the best checkpoint
and the wall time are printed, with each score as a ratio to the CNN-BLSTM-attention trained in the
same run. The machine's load changes the times, not the scores (training is seeded).

    python prepare_data.py --config configs/prepare/demo.yaml --output /tmp/demo_prepared
    python -m benchmarks.bench_seed002_lstm --data_root /tmp/demo_prepared --epochs 10
"""
from __future__ import annotations

import argparse
import tempfile
import time

from training import command as train

BASELINE = "seed002_cnn_blstm_attention"
NETS = {
    "small_cnn (demo reference)": "configs/net/small_cnn.yaml",
    BASELINE: "configs/net/seeds/seed002_cnn_blstm_attention.yaml",
    "seed002_cnn_lstm": "configs/net/seeds/seed002_cnn_lstm.yaml",
    "seed002_lstm": "configs/net/seeds/seed002_lstm.yaml",
}


def train_and_test(net: str, data_root: str, epochs: int, clip_seconds: float) -> dict[str, float]:
    """Test scores of ``net`` trained with the demo's settings, plus its wall time in seconds."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as root:
        scores = train.main([
            "--config", "configs/demo.yaml", f"--model.net={net}", f"--data.data_root={data_root}",
            f"--trainer.max_epochs={epochs}", f"--data.clip_seconds={clip_seconds}", "--data.num_workers=0",
            "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false", "--wandb.mode=disabled",
            f"--early_stopping.patience={epochs}", "--report.every_n_val_epochs=1000", f"--run.root={root}",
            "--run.name=bench"])
    return {"macro_f1": float(scores["test/macro_f1"]), "wa": float(scores["test/wa"]),
            "seconds": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data_root", required=True, help="a prepared demo corpus (configs/prepare/demo.yaml)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--clip_seconds", type=float, default=3.0, help="seed 002's 3 s clips")
    parser.add_argument("--only", nargs="*", default=None, help="names of NETS to run (default: all)")
    args = parser.parse_args()
    names = args.only or list(NETS)
    results = {name: train_and_test(NETS[name], args.data_root, args.epochs, args.clip_seconds) for name in names}
    base = results.get(BASELINE)
    print(f"\n{'network':30s} {'test macro F1':>13s} {'test WA':>8s} {'F1 / BLSTM-att':>15s} {'wall s':>7s}")
    for name, r in results.items():
        ratio = f"{r['macro_f1'] / base['macro_f1']:.2f}" if base and base["macro_f1"] > 0 else "-"
        print(f"{name:30s} {r['macro_f1']:13.3f} {r['wa']:8.3f} {ratio:>15s} {r['seconds']:7.0f}")


if __name__ == "__main__":
    main()
