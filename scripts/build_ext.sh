#!/usr/bin/env bash
# (Re)build and install this package editable into the venv: `make setup` runs it after
# scripts/setup_env.sh, and again whenever a file under csrc/, setup.py or pyproject.toml changes.
set -euo pipefail
PY=$1
cd "$(dirname "$0")/.."
echo "[setup] building and installing iou-aware (editable, compiled extension)"
PY="$PY" bash scripts/pip_quiet.sh install -q --no-build-isolation --no-deps -e . \
  || { echo "[setup] ERROR: building iou_aware._C failed (see the compiler output above)" >&2; exit 1; }
# An editable install leaves out the interpreter-start hook that a wheel install puts in
# site-packages (iou_aware_config_scope.pth: `iou_aware::` configs load without importing
# iou_aware first); place it by hand.
cp iou_aware_config_scope.pth "$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/"
"$PY" -c 'import iou_aware, mmcv.ops, mmdet; print("[setup] ready: iou_aware", iou_aware.__version__, "| mmcv", mmcv.__version__, "| mmdet", mmdet.__version__)'
