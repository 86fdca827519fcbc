#!/usr/bin/env bash
# The README's main command: sets up .venv, generates the embedded demo corpus, prepares it into
# WebDataset shards with speaker-independent splits, trains the small CNN of configs/demo.yaml on
# them, tests the best checkpoint and prints the test scores and where the reports are.
# Idempotent: set-up and corpus generation are skipped when their output is there, the shards are
# prepared again byte for byte, and a finished training run is resumed from its last checkpoint
# (so nothing is retrained) and tested again.
# Extra arguments go to train.py, e.g. `bash scripts/demo.sh --trainer.max_epochs=3`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup_env.sh
python=.venv/bin/python
corpus=data/demo_corpus
prepared=data/prepared/demo
export WANDB_SILENT=true
if [ ! -f "$corpus/metadata.csv" ]; then
  "$python" -m data_preparation.demo_corpus --out "$corpus"
fi
# --overwrite true prepares again every time (byte-identical shards when nothing changed, so
# the finished run below is resumed, not retrained) and picks up any change to the config or corpus.
"$python" prepare_data.py --config configs/prepare/demo.yaml --overwrite true
echo
echo "Samples per split and class (read back from the shards and checked against the manifest):"
"$python" -m data_preparation.verify "$prepared"
echo
echo "Data: stats $prepared/stats.json, manifest $prepared/manifest.csv, plots $prepared/plots/"
echo
"$python" train.py --config configs/demo.yaml --ckpt_path=last "$@"
