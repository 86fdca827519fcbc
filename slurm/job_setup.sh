# Sourced, not run: the checks and environment every job script here needs before it starts Python.
#   source "$root/slurm/job_setup.sh" SCRIPT ENTRY CONFIG WHAT
# SCRIPT names the caller in messages, ENTRY is the repository file it runs (train.py), CONFIG the file
# it was given, WHAT what that file is ("config file"). sbatch runs a copy of the job script from its
# spool folder, so the caller finds this file through the repository root ($root), not its own path.
# Leaves the shell in $root with the virtual environment active and sets `nodes` and `per_node`.
job_script="$1" entry="$2" job_config="$3" what="$4"
cd "$root"
if [ ! -f "$entry" ]; then
  echo "$job_script: no $entry in $root: submit from the repository root or set SER_ROOT" >&2
  exit 2
fi
if [ ! -f "$job_config" ]; then
  echo "$job_script: $what not found: $job_config (relative to $root)" >&2
  exit 2
fi
venv="${SER_VENV:-$root/.venv}"
if [ -f "$venv/bin/activate" ]; then
  # shellcheck disable=SC1091
  source "$venv/bin/activate"
else
  echo "$job_script: no virtual environment at $venv (bash scripts/setup_env.sh); using $(command -v python)" >&2
fi

# accelerator: auto would quietly train on the CPU for the whole time limit if the node's CUDA is
# broken (wrong torch build, driver mismatch): a job that was given GPUs refuses to start without them.
gpus="${SLURM_JOB_GPUS:-${SLURM_STEP_GPUS:-${SLURM_GPUS_ON_NODE:-}}}"
if [ -n "$gpus" ] && ! python -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  echo "$job_script: SLURM gave this job GPUs ($gpus) but $(command -v python) sees no CUDA: install a CUDA build of torch (README, 'Install')" >&2
  exit 2
fi

nodes="${SLURM_JOB_NUM_NODES:-${SLURM_NNODES:-1}}"
per_node="${SLURM_NTASKS_PER_NODE:-$(( ${SLURM_NTASKS:-1} / nodes ))}"
per_node="${per_node%%(*}"  # heterogeneous forms like "2(x3)" keep their leading count
export PYTHONUNBUFFERED=1
