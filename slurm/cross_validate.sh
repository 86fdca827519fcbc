#!/usr/bin/env bash
# One fold of a benchmark protocol per array task:
#   python cross_validate.py --config CONFIG --prepare_only     # once: prepares, prints K
#   sbatch --array=0-<K-1> slurm/cross_validate.sh CONFIG [train.py overrides...]
# Each task trains and tests its fold (SLURM_ARRAY_TASK_ID) in the fold's own run folder,
# resuming it when requeued; the task that finishes the last fold writes results.{md,csv,json}.
# `python cross_validate.py --config CONFIG --aggregate_only` (or any rerun) aggregates again.
# Submit from the repository root (or set SER_ROOT). The #SBATCH lines below are per task, as in
# slurm/train.sh; override them on the sbatch command line (CPU debug: --gres=none --ntasks-per-node=1).
#SBATCH --job-name=ser-cv
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=4
#SBATCH --gres=gpu:4
#SBATCH --cpus-per-task=8
#SBATCH --mem=64G
#SBATCH --time=24:00:00
##SBATCH --partition=gpu
##SBATCH --account=myproject
#SBATCH --signal=USR1@90
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output=%x-%A_%a.out
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "usage: sbatch --array=0-<K-1> slurm/cross_validate.sh CONFIG [train.py overrides...]" >&2
  exit 2
fi
config="$1"
shift
root="${SER_ROOT:-${SLURM_SUBMIT_DIR:-$PWD}}"
if [ ! -f "$root/slurm/job_setup.sh" ]; then
  echo "slurm/cross_validate.sh: no slurm/job_setup.sh in $root: submit from the repository root or set SER_ROOT" >&2
  exit 2
fi
# shellcheck source=slurm/job_setup.sh
source "$root/slurm/job_setup.sh" slurm/cross_validate.sh cross_validate.py "$config" "protocol file"
fold="${SLURM_ARRAY_TASK_ID:?slurm/cross_validate.sh runs as an array job: sbatch --array=0-<K-1> ...}"

echo "[$(date -Is)] array job ${SLURM_ARRAY_JOB_ID:-?} task $fold restart ${SLURM_RESTART_COUNT:-0}: $nodes node(s) x $per_node task(s): $config"
# The protocol's own train_args come first and these after, so the allocation's device counts and
# the command line's overrides win. Each argument travels as one list element (no shell re-parsing).
train_args=(--trainer.num_nodes="$nodes" --trainer.devices="$per_node" "$@")
python cross_validate.py --config "$config" --fold "$fold" --launcher "srun --kill-on-bad-exit=1" \
  --extra_train_args "$(python -c 'import json, sys; print(json.dumps(sys.argv[1:]))' "${train_args[@]}")"
