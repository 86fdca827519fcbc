#!/usr/bin/env bash
# Rewrites constraints.txt from .venv after the suite passed there (bash scripts/test.sh): its header
# comments kept, then `pip freeze` without editable or local (`name @ URL`) lines, torch as pip reports it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
header="$(grep '^#' constraints.txt)"
pins="$(.venv/bin/python -m pip freeze --exclude-editable | grep -v ' @ ')"
printf '%s\n%s\n' "$header" "$pins" > constraints.txt
