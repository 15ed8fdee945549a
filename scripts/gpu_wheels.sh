#!/usr/bin/env bash
# Download the wheels tools/gpu/gpu_check.py needs on a GPU machine that may have no package
# registry: pytest and hypothesis with their dependencies, pure Python, for Python 3.12,
# into .gpu-wheels/ (git-ignored; copy it along with the checkout). gpu_check.py installs
# them with `pip install --no-index --find-links .gpu-wheels` when they are missing.
#   bash scripts/gpu_wheels.sh [python]   (any python with pip; default python3)
set -euo pipefail
PY=${1:-python3}
cd "$(dirname "$0")/.."
# Ranges, not pins: mirrors differ in what they hold (the venv has pytest 9.2, hypothesis 6.170).
"$PY" -m pip download --quiet --dest .gpu-wheels --only-binary=:all: \
  --python-version 3.12 --implementation py --abi none --platform any \
  'pytest>=8.3,<10' 'hypothesis>=6.100,<7'
echo "[gpu-wheels] $(ls .gpu-wheels | wc -l) wheels in .gpu-wheels/:"
ls .gpu-wheels | sed 's/^/  /'
