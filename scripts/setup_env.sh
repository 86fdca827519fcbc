#!/usr/bin/env bash
# Creates .venv inside the clone and installs the runtime requirements into it; with --test, the
# test-only ones too (requirements-test.txt). Versions are pinned by constraints.txt (the ones the
# suite passed with); SER_CONSTRAINTS= (empty) installs from the requirements' ranges alone, e.g. on
# another Python or with a cluster's own torch. Idempotent: re-installs only when the requirement
# files it installs (or the constraints it applies) changed since its last successful run.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python_bin="${PYTHON:-python3}"
files=(requirements.txt)
[ "${1:-}" = "--test" ] && files=(requirements.txt requirements-test.txt)
constraints="${SER_CONSTRAINTS-constraints.txt}"
pins=()
[ -n "$constraints" ] && pins=(-c "$constraints")
if [ ! -x .venv/bin/python ]; then
  "$python_bin" -m venv .venv
fi
stamp=".venv/.requirements.sha256"
want="$(cat "${files[@]}" ${constraints:+"$constraints"} | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -r "${files[-1]}" ${pins[@]+"${pins[@]}"}
  echo "$want" > "$stamp"
fi
