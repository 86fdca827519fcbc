#!/usr/bin/env bash
# System packages the full test suite uses: SLURM + munge (real single-node cluster),
# ffmpeg (MELD mp4 clips), chromium + chromedriver (web page test).
# Installs only what is missing; needs root (or passwordless sudo). Without either it
# warns and the tests that need these packages are skipped with that reason.
set -euo pipefail
need=()
command -v slurmctld >/dev/null || need+=(slurm-wlm)
command -v munged >/dev/null || need+=(munge)
command -v ffmpeg >/dev/null || need+=(ffmpeg)
command -v chromium >/dev/null || need+=(chromium chromium-driver)
[ ${#need[@]} -eq 0 ] && exit 0
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if sudo -n true 2>/dev/null; then sudo="sudo -n"; else
    echo "setup_system: not root; missing ${need[*]} (tests needing them will be skipped)" >&2
    exit 0
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
