#!/usr/bin/env bash
# One check of a GPU machine, in under 8 minutes, ending in one table:
#   1. benchmarks/bench_gpu.py: training clips/s of WavLM-base and EfficientNet-B5 (bf16) against
#      the loader's clips/s, and on-device augmentation;
#   2. the demo shards (generated corpus -> prepare_data.py);
#   3. a WavLM-base-sized encoder (transformers defaults, random weights) saved to a local folder;
#   4. one real training epoch of configs/wavlm.yaml on the demo shards, the encoder loaded through
#      model.net.init_args.model_name (the path a hub name takes), on-device augmentation on;
#   5. the same epoch as 2-process DDP when the machine has two GPUs (skipped otherwise).
#
#   bash benchmarks/gpu_check.sh            # on a GPU machine (CUDA build of torch in .venv)
#   bash benchmarks/gpu_check.sh --tiny     # CPU smoke run of every step (tests/test_gpu_check.py)
#
# Each step has its own time limit (the sum stays under 8 minutes) and log; a failed or timed-out
# step is marked in the table with its log's tail, and the script goes on, then exits 1.
# SER_PYTHON picks the interpreter (default: .venv/bin/python, else python); GPU_CHECK_WORK keeps
# the work folder (default: a temporary one, removed at exit).
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
tiny=0
case "${1:-}" in
  "") ;;
  --tiny) tiny=1 ;;
  *) echo "usage: bash benchmarks/gpu_check.sh [--tiny]" >&2; exit 2 ;;
esac
python="${SER_PYTHON:-}"
if [ -z "$python" ]; then
  if [ -x .venv/bin/python ]; then python=.venv/bin/python; else python="$(command -v python)"; fi
fi
work="${GPU_CHECK_WORK:-}"
if [ -z "$work" ]; then
  work="$(mktemp -d -t gpu_check.XXXXXX)"
  trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work"
export WANDB_MODE=disabled WANDB_SILENT=true HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1

if [ "$tiny" = 1 ]; then
  device=cpu
  bench_args=(--tiny --device cpu --workers 0 --clips 8 --steps 1)
  corpus_args=(--speakers 3 --clips-per-class 2 --workers 1)
  prepare_args=(--shard_max_samples 2)  # enough training shards for 2 ranks
  train_args=(--config configs/debug/fast.yaml --data.batch_size=4 --data.clip_seconds=1.0)  # one batch per stage
  gpus=2  # the DDP step runs as 2 CPU processes (gloo), so --tiny exercises it too
  limits=(120 30 60 30 60 60)
else
  device=cuda
  bench_args=(--device cuda)
  corpus_args=()
  prepare_args=()
  train_args=(--trainer.max_epochs=1 --data.num_workers=4)  # 2 ranks x 4 workers <= the demo's 9 training shards
  gpus="$("$python" -c 'import torch; print(torch.cuda.device_count())' 2>/dev/null || echo 0)"
  limits=(180 20 40 30 90 100)
  if [ "$gpus" -lt 1 ]; then
    echo "benchmarks/gpu_check.sh: $python sees no CUDA device; run with --tiny for the CPU smoke run" >&2
    exit 2
  fi
fi

rows=()
failed=0
# step NAME LIMIT COMMAND...: runs COMMAND (a program, not a function: timeout runs it) with its output
# in $work/NAME.log; sets $elapsed and $status.
step() {
  local name="$1" limit="$2"
  shift 2
  local start=$SECONDS
  timeout --kill-after=10 "$limit" "$@" > "$work/$name.log" 2>&1
  local rc=$?
  elapsed=$(( SECONDS - start ))
  if [ $rc -eq 0 ]; then status=ok
  elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then status="TIMEOUT (${limit} s)"; failed=1
  else status="FAILED ($rc)"; failed=1
  fi
  if [ "$status" != ok ]; then
    echo "--- $name: $status; last lines of $work/$name.log:" >&2
    tail -n 25 "$work/$name.log" >&2
  fi
}
row() { rows+=("$(printf '%-30s %-16s %6s s  %s' "$1" "$2" "$3" "$4")"); }
# clips/s of a train.py run: the last train/device/samples_per_sec (per GPU) of its CSV log, and epoch wall time
train_rate() {
  "$python" - "$1" <<'PY'
import csv, sys
from pathlib import Path
log = Path(sys.argv[1]) / "csv" / "metrics.csv"
if not log.exists():
    sys.exit(print("no CSV log (--tiny: one batch per stage, fast_dev_run)"))
rows = list(csv.DictReader(open(log)))
rates = [float(r["train/device/samples_per_sec"]) for r in rows if r.get("train/device/samples_per_sec")]
print(f"{rates[-1]:.1f} clips/s per device" if rates else "no throughput logged (fewer steps than its window)")
PY
}

echo "gpu_check: $([ $tiny = 1 ] && echo 'tiny, CPU' || echo "$gpus GPU(s)"); work folder $work"

step bench_gpu "${limits[0]}" "$python" -m benchmarks.bench_gpu "${bench_args[@]}"
summary="$(grep -E 'training .* clips/s|keeps up|NOT keep up|augmentation:' "$work/bench_gpu.log" | sed 's/  */ /g' | paste -sd ';' -)"
row "bench_gpu.py" "$status" "$elapsed" "${summary:-see $work/bench_gpu.log}"

step demo_corpus "${limits[1]}" "$python" -m data_preparation.demo_corpus --out "$work/demo_corpus" "${corpus_args[@]}"
row "demo corpus" "$status" "$elapsed" "$(tail -n 1 "$work/demo_corpus.log")"
step demo_shards "${limits[2]}" "$python" prepare_data.py --config configs/prepare/demo.yaml --output "$work/demo" \
  --workers 0 --corpora "[{name: csv, root: $work/demo_corpus, options: {name: demo}}]" "${prepare_args[@]}"
row "demo shards" "$status" "$elapsed" "$work/demo"

step encoder "${limits[3]}" "$python" - "$work/wavlm-base" "$tiny" <<'PY'
import sys
from transformers import WavLMConfig, WavLMModel
tiny = sys.argv[2] == "1"
small = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, conv_dim=(16, 16, 16),
             conv_stride=(5, 4, 4), conv_kernel=(10, 8, 8), num_conv_pos_embeddings=16,
             num_conv_pos_embedding_groups=2, num_buckets=16, max_bucket_distance=64)
model = WavLMModel(WavLMConfig(**(small if tiny else {})))  # WavLMConfig defaults: base size, 12 x 768
model.save_pretrained(sys.argv[1])
print(f"{sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters -> {sys.argv[1]}")
PY
row "WavLM-base-sized encoder" "$status" "$elapsed" "$(tail -n 1 "$work/encoder.log")"

# one epoch of configs/wavlm.yaml; the encoder comes in through model_name, as a hub name would
epoch=("$python" train.py --config configs/wavlm.yaml --model.net.init_args.model_name="$work/wavlm-base"
       --data.data_root="$work/demo" --run.root="$work/runs" --wandb.mode=disabled "${train_args[@]}"
       --trainer.log_every_n_steps=1)
step train_epoch "${limits[4]}" "${epoch[@]}" --run.name=one-device --trainer.devices=1
row "wavlm.yaml, 1 epoch, 1 device" "$status" "$elapsed" "$([ "$status" = ok ] && train_rate "$work/runs/one-device")"

if [ "$gpus" -ge 2 ]; then
  ddp=(--run.name=ddp-2 --trainer.devices=2 --trainer.strategy=ddp)
  [ "$tiny" = 1 ] && ddp+=(--trainer.accelerator=cpu)
  step ddp_epoch "${limits[5]}" "${epoch[@]}" "${ddp[@]}"
  row "wavlm.yaml, 1 epoch, 2-proc DDP" "$status" "$elapsed" "$([ "$status" = ok ] && train_rate "$work/runs/ddp-2")"
else
  row "wavlm.yaml, 1 epoch, 2-proc DDP" "skipped" 0 "one GPU"
fi

echo
printf '%-30s %-16s %8s  %s\n' "check" "status" "time" "result"
printf '%s\n' "${rows[@]}"
exit $failed
