#!/usr/bin/env bash
# The README's test command: sets up everything, then runs the whole suite (slow tests included) on
# pytest-xdist workers, one per core up to 4 (tests/conftest.py keeps shared resources on one worker),
# printing the 15 slowest tests and the suite's wall time at the end.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m "not slow"` for the inner loop, or
# `-n 0` to run in this one process.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup_system.sh
bash scripts/setup_env.sh --test
export WANDB_MODE=offline WANDB_SILENT=true HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
start=$SECONDS
status=0
.venv/bin/python -m pytest -n auto --maxprocesses=4 --dist loadgroup --durations=15 "$@" || status=$?
echo "suite time: $((SECONDS - start)) s on $(nproc) cores (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
exit "$status"
