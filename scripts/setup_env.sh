#!/usr/bin/env bash
# Creates .venv inside the clone and installs the runtime requirements into it; with --test, the
# test-only ones too (requirements-test.txt). Idempotent: re-installs only when the requirement
# files it installs changed since its last successful run.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python_bin="${PYTHON:-python3}"
files=(requirements.txt)
[ "${1:-}" = "--test" ] && files=(requirements.txt requirements-test.txt)
if [ ! -x .venv/bin/python ]; then
  "$python_bin" -m venv .venv
fi
stamp=".venv/.requirements.sha256"
want="$(cat "${files[@]}" | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -r "${files[-1]}"
  echo "$want" > "$stamp"
fi
