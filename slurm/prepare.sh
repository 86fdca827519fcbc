#!/usr/bin/env bash
# Prepare a (large) corpus as one SLURM job, decoding and writing shards on every CPU it asks for:
#   sbatch --cpus-per-task=32 slurm/prepare.sh CONFIG [prepare_data.py overrides...]
#   e.g. sbatch --cpus-per-task=32 slurm/prepare.sh configs/prepare/seed000.yaml --output /scratch/prepared/seed000
# The job passes its CPUs as --workers (SLURM_CPUS_PER_TASK); the overrides come after, so they win.
# Killed or requeued (time limit, preemption, node failure), the same job resumes the preparation
# it left in <output>.partial: finished clips and shards are kept (data_preparation/resume.py).
# Submit from the repository root (or set SER_ROOT); override the #SBATCH lines on the sbatch line.
#SBATCH --job-name=ser-prepare
#SBATCH --nodes=1
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=16
#SBATCH --mem=16G
#SBATCH --time=12:00:00
##SBATCH --partition=cpu
##SBATCH --account=myproject
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output=%x-%j.out
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "usage: sbatch --cpus-per-task=N slurm/prepare.sh CONFIG [prepare_data.py overrides...]" >&2
  exit 2
fi
config="$1"
shift
root="${SER_ROOT:-${SLURM_SUBMIT_DIR:-$PWD}}"
if [ ! -f "$root/slurm/job_setup.sh" ]; then
  echo "slurm/prepare.sh: no slurm/job_setup.sh in $root: submit from the repository root or set SER_ROOT" >&2
  exit 2
fi
# shellcheck source=slurm/job_setup.sh
source "$root/slurm/job_setup.sh" slurm/prepare.sh prepare_data.py "$config" "config file"
workers="${SLURM_CPUS_PER_TASK:-1}"

echo "[$(date -Is)] job ${SLURM_JOB_ID:-?} restart ${SLURM_RESTART_COUNT:-0}: preparing $config on $workers CPU(s)"
# Not a terminal: progress comes as one line every 10 s with its rate and ETA (data_preparation/progress.py).
python prepare_data.py --config "$config" --workers "$workers" "$@"
