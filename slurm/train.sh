#!/usr/bin/env bash
# Train on a SLURM cluster:  sbatch slurm/train.sh CONFIG [train.py overrides...]
#   sbatch slurm/train.sh configs/wavlm.yaml --trainer.max_epochs=20
# Submit from the repository root (or set SER_ROOT). Any #SBATCH default below can be overridden
# on the sbatch command line, which is how the variants are run:
#   one GPU:     sbatch --ntasks-per-node=1 --gres=gpu:1 slurm/train.sh CONFIG
#   two nodes:   sbatch --nodes=2 slurm/train.sh CONFIG            (ntasks-per-node = GPUs per node)
#                (interface, InfiniBand and timeout settings for NCCL: docs/multinode.md)
#   CPU debug:   sbatch --gres=none --ntasks-per-node=2 --cpus-per-task=1 --mem=4G --time=00:20:00 \
#                  slurm/train.sh configs/demo.yaml --trainer.accelerator=cpu
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
# SIGUSR1 90 s before the time limit: train.py checkpoints at the next step, requeues the job and exits;
# the requeued job (same id) resumes from that checkpoint in the same run folder and W&B run. Sites
# that preempt with PreemptMode=REQUEUE send SIGTERM instead (unless PreemptParameters=send_user_signal):
# SLURM then requeues by itself and --ckpt_path=last resumes from the newest complete checkpoint.
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
if [ ! -f "$root/slurm/job_setup.sh" ]; then
  echo "slurm/train.sh: no slurm/job_setup.sh in $root: submit from the repository root or set SER_ROOT" >&2
  exit 2
fi
# shellcheck source=slurm/job_setup.sh
source "$root/slurm/job_setup.sh" slurm/train.sh train.py "$config" "config file"

job="${SLURM_ARRAY_JOB_ID:+${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID:-}}"
job="${job:-${SLURM_JOB_ID:?slurm/train.sh runs under sbatch (SLURM_JOB_ID is not set)}}"
# Compute nodes often have no internet: HF_HOME / HF_HUB_OFFLINE=1 / WANDB_MODE=offline come from the
# submitting shell's environment, which sbatch passes on (README, "Running on a cluster"). Offline, the
# pretrained weights the config reads must be on disk already: checked here once per job (one line and
# exit 2 naming the model, the cache and the fix), not by every rank; `python fetch_weights.py` fills it.
case "${HF_HUB_OFFLINE:-}:${TRANSFORMERS_OFFLINE:-}" in
  1:*|*:1|[Tt]rue:*|*:[Tt]rue|[Yy]es:*|*:[Yy]es|[Oo]n:*|*:[Oo]n)
    python fetch_weights.py --check --config "$config" "$@" || exit 2 ;;
esac

echo "[$(date -Is)] job $job restart ${SLURM_RESTART_COUNT:-0} on ${SLURM_JOB_NODELIST:-?}: $nodes node(s) x $per_node task(s): $config $*"
# One task per device; Lightning's SLURMEnvironment takes ranks and the master address from SLURM.
# The run folder is derived from the config (its name ends in the config's fingerprint, which leaves
# out devices, nodes, ckpt_path and W&B settings), so a requeued job (same id) finds its preemption
# checkpoint there and `--ckpt_path last` resumes it, in the W&B run its run.json names; W&B runs
# are grouped by job id. Arguments after CONFIG come last and win.
srun --kill-on-bad-exit=1 python train.py --config "$config" \
  --trainer.num_nodes="$nodes" --trainer.devices="$per_node" \
  --ckpt_path=last --wandb.group="$job" "$@"
