#!/usr/bin/env bash
# Train on a SLURM cluster:  sbatch slurm/train.sh CONFIG [train.py overrides...]
#   sbatch slurm/train.sh configs/wavlm.yaml --trainer.max_epochs=20
# Submit from the repository root (or set SER_ROOT). Any #SBATCH default below can be overridden
# on the sbatch command line, which is how the variants are run:
#   one GPU:     sbatch --ntasks-per-node=1 --gres=gpu:1 slurm/train.sh CONFIG
#   two nodes:   sbatch --nodes=2 slurm/train.sh CONFIG            (ntasks-per-node = GPUs per node)
#   CPU debug:   sbatch --gres=none --ntasks-per-node=2 --cpus-per-task=1 --mem=4G --time=00:20:00 \
#                  slurm/train.sh CONFIG --trainer.accelerator=cpu --trainer.devices=2
# Site settings (partition, account, qos) belong on the command line or in ~/.slurm defaults,
# e.g. `sbatch --partition=gpu --account=myproject slurm/train.sh CONFIG`.
#
# ---- the defaults you edit: one task per GPU, Lightning reads ranks from SLURM ---------------
#SBATCH --job-name=ser-train
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=4
#SBATCH --gres=gpu:4
#SBATCH --cpus-per-task=8
#SBATCH --mem=64G
#SBATCH --time=24:00:00
##SBATCH --partition=gpu
##SBATCH --account=myproject
# ---- preemption and logs: leave as they are ----------------------------------------------------
# SIGUSR1 90 s before the time limit (or preemption): train.py checkpoints, requeues, exits, and the
# requeued job (same job id) resumes from that checkpoint into the same run directory and W&B run.
#SBATCH --signal=USR1@90
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output=%x-%j.out
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "usage: sbatch slurm/train.sh CONFIG [train.py overrides...]" >&2
  exit 2
fi
config="$1"
shift
root="${SER_ROOT:-${SLURM_SUBMIT_DIR:-$PWD}}"
cd "$root"
if [ ! -f train.py ]; then
  echo "slurm/train.sh: no train.py in $root: submit from the repository root or set SER_ROOT" >&2
  exit 2
fi
if [ ! -f "$config" ]; then
  echo "slurm/train.sh: config file not found: $config (relative to $root)" >&2
  exit 2
fi
venv="${SER_VENV:-$root/.venv}"
if [ -f "$venv/bin/activate" ]; then
  # shellcheck disable=SC1091
  source "$venv/bin/activate"
else
  echo "slurm/train.sh: no virtual environment at $venv (bash scripts/setup_env.sh); using $(command -v python)" >&2
fi

job="${SLURM_ARRAY_JOB_ID:+${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}}"
job="${job:-$SLURM_JOB_ID}"
stem="$(basename "${config%.*}")"
# W&B: one run per job, named after the config, grouped by job id; the id survives requeues.
export WANDB_RUN_GROUP="${WANDB_RUN_GROUP:-$job}"
export WANDB_NAME="${WANDB_NAME:-$stem}"
export WANDB_RUN_ID="${WANDB_RUN_ID:-$stem-$job}"
export WANDB_RESUME="${WANDB_RESUME:-allow}"
# Compute nodes often have no internet: set HF_HOME / HF_HUB_OFFLINE=1 / WANDB_MODE=offline in your
# environment or ~/.bashrc (docs/cluster.md); sbatch passes the submitting shell's environment on.
export SER_RUN_DIR="${SER_RUN_DIR:-runs/$stem/$job}"
export PYTHONUNBUFFERED=1

echo "[$(date -Is)] job $job restart ${SLURM_RESTART_COUNT:-0} on ${SLURM_JOB_NODELIST:-?}: $config $*"
# srun starts one task per GPU; Lightning's SLURMEnvironment reads the ranks from SLURM_PROCID etc.
srun --kill-on-bad-exit=1 python train.py --config "$config" --ckpt_path auto "$@"
