#!/usr/bin/env bash
# One-command environment for iou-aware: .venv with torch, mmengine, mmcv (with ops),
# mmdet and pycocotools. scripts/build_ext.sh then installs this package (`make setup` runs both).
#
# Idempotent: each stage is skipped when already done, so `make test` after the first
# setup costs seconds. The mmcv wheel (a ~25 min build on 2 cores) is cached outside the
# repo, keyed by mmcv, torch and Python versions, so fresh clones and CI reuse it.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

PYTHON=${PYTHON:-python3.11}
VENV=${VENV:-.venv}
# Exact versions come from the constraints file (pyproject.toml has the supported ranges).
CONSTRAINTS="$here/requirements/constraints.txt"
pin() { sed -n "s/^$1==//p" "$CONSTRAINTS"; }
TORCH_VERSION=$(pin torch)
TORCHVISION_VERSION=$(pin torchvision)
MMENGINE_VERSION=$(pin mmengine)
MMCV_VERSION=$(pin mmcv)
MMDET_VERSION=$(pin mmdet)
CACHE_DIR=${IOU_AWARE_CACHE:-$HOME/.cache/iou-aware}

stage() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

# --- prerequisites: say what is missing instead of failing deep inside a build ---------
command -v "$PYTHON" >/dev/null 2>&1 \
  || die "'$PYTHON' not found. iou-aware's setup needs Python 3.11 or 3.12; install one or set PYTHON=/path/to/python3.12."
pyver=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>&1) \
  || die "'$PYTHON' is not a working Python ($(printf '%s' "$pyver" | head -n 1)). Set PYTHON=/path/to/python3.11."
case $pyver in
  3.11|3.12) ;;
  *) die "'$PYTHON' is Python $pyver; the setup supports Python 3.11 and 3.12. Set PYTHON=/path/to/python3.11." ;;
esac
"$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1 \
  || die "'$PYTHON' lacks the venv/ensurepip modules (Debian: apt-get install python$pyver-venv)."
CXX_BIN=${CXX:-c++}  # what torch.utils.cpp_extension invokes
command -v "$CXX_BIN" >/dev/null 2>&1 \
  || die "no C++ compiler ('$CXX_BIN' not found). Install g++ >= 10 (Debian: apt-get install g++) or set CXX."
"$PYTHON" - <<'PY' || die "Python headers missing (Python.h); Debian: apt-get install python3-dev."
import os, sysconfig, sys
sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")) else 1)
PY

# --- venv ------------------------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
  stage "creating $VENV with $PYTHON ($pyver)"
  "$PYTHON" -m venv "$VENV"
fi
case $VENV in /*) ;; *) VENV="$here/$VENV" ;; esac
PY="$VENV/bin/python"
export PY
PIP=(bash "$here/scripts/pip_quiet.sh")

have() {  # have DIST VERSION: is that exact distribution version installed in the venv?
  "$PY" - "$1" "$2" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version, PackageNotFoundError
try:
    sys.exit(0 if version(sys.argv[1]).split("+")[0] == sys.argv[2] else 1)
except PackageNotFoundError:
    sys.exit(1)
PY
}

if ! have torch "$TORCH_VERSION" || ! have torchvision "$TORCHVISION_VERSION"; then
  stage "installing torch $TORCH_VERSION and torchvision $TORCHVISION_VERSION (~2 min)"
  "${PIP[@]}" install -q -c "$CONSTRAINTS" torch torchvision
fi

# Build tooling. torch 2.14 wants setuptools >= 77; mmengine imports pkg_resources (to
# resolve `mmdet::` config paths), which setuptools removes from 81 on.
SETUPTOOLS_SPEC="setuptools==$(pin setuptools)"
export SETUPTOOLS_SPEC
if ! "$PY" -c 'import ninja, wheel, setuptools, sys; v = int(setuptools.__version__.split(".")[0]); sys.exit(not 77 <= v < 81)' >/dev/null 2>&1; then
  stage "installing build tools ($SETUPTOOLS_SPEC, wheel, ninja)"
  "${PIP[@]}" install -q -c "$CONSTRAINTS" setuptools wheel ninja
fi

# --- mmcv with compiled ops: cached wheel or a build from the registry's sdist ---------
if ! have mmcv "$MMCV_VERSION" || ! "$PY" -c 'import mmcv.ops' >/dev/null 2>&1; then
  tag=$("$PY" -c 'import sys, torch; print("torch%s-cp%d%d" % (torch.__version__.split("+")[0], *sys.version_info[:2]))')
  wheel_dir="$CACHE_DIR/wheels/mmcv-$MMCV_VERSION-$tag"
  wheel=$(ls "$wheel_dir"/mmcv-"$MMCV_VERSION"-*.whl 2>/dev/null | head -n 1 || true)
  if [ -z "$wheel" ]; then
    bash "$here/scripts/build_mmcv_wheel.sh" "$PY" "$MMCV_VERSION" "$wheel_dir"
    wheel=$(ls "$wheel_dir"/mmcv-"$MMCV_VERSION"-*.whl | head -n 1)
  else
    stage "using cached mmcv wheel $wheel"
  fi
  "${PIP[@]}" install -q "$wheel"
fi

# --- the rest of the stack -------------------------------------------------------------
if ! have mmengine "$MMENGINE_VERSION" || ! have mmdet "$MMDET_VERSION" \
   || ! "$PY" -c 'import pycocotools, pytest, hypothesis, matplotlib, scipy, sklearn' >/dev/null 2>&1; then
  stage "installing mmengine $MMENGINE_VERSION, mmdet $MMDET_VERSION, pycocotools, scikit-learn, pytest, hypothesis"
  "${PIP[@]}" install -q -c "$CONSTRAINTS" mmengine mmdet pycocotools matplotlib scipy \
    scikit-learn pytest hypothesis
fi

# deployment: ONNX export (torch.onnx dynamo exporter: onnx + onnxscript) and the runner
if ! "$PY" -c 'import onnx, onnxscript, onnxruntime' >/dev/null 2>&1; then
  stage "installing onnx, onnxscript, onnxruntime (tools/export.py and its runner)"
  "${PIP[@]}" install -q -c "$CONSTRAINTS" onnx onnxscript onnxruntime
fi

"$PY" -c 'import mmcv.ops, mmdet; print("[setup] environment ready: mmcv", mmcv.__version__, "with ops | mmdet", mmdet.__version__)'
