#!/usr/bin/env bash
# (Re)build and install this package editable into the venv. Called by setup and by
# make whenever a file under csrc/ or setup.py changes.
set -euo pipefail
PY=$1
cd "$(dirname "$0")/.."
PY="$PY" bash scripts/pip_quiet.sh install -q --no-build-isolation --no-deps -e . \
  || { echo "[setup] ERROR: building iou_aware._C failed (see the compiler output above)" >&2; exit 1; }
