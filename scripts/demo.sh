#!/usr/bin/env bash
# The README's main command (until training lands): sets up .venv, generates the embedded
# demo corpus, prepares it into WebDataset shards with speaker-independent splits, and prints
# what came out. Idempotent: each step is skipped when its output is already there.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup_env.sh
python=.venv/bin/python
corpus=data/demo_corpus
prepared=data/prepared/demo
if [ ! -f "$corpus/metadata.csv" ]; then
  "$python" -m data_preparation.demo_corpus --out "$corpus"
fi
# prepare_data.py does nothing when $prepared already holds this exact preparation, and
# replaces it when the config or the corpus changed.
"$python" prepare_data.py --config configs/data/demo.yaml --overwrite true
echo
echo "Samples per split and class (read back from the shards and checked against the manifest):"
"$python" -m data_preparation.verify "$prepared"
echo
echo "stats.json (classes, class weights, counts): $prepared/stats.json"
echo "manifest (every input file and its fate):    $prepared/manifest.csv"
echo "plots (class and duration distributions):    $prepared/plots/"
echo "shards:                                      $prepared/shards/"
