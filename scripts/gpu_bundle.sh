#!/usr/bin/env bash
# Fill .gpu-bundle/ with what tools/gpu/gpu_e2e.py installs on a GPU machine that has torch but
# no package registry (the tool library's device: Python 3.12, torch 2.11 cu130): wheels of
# mmengine, mmdet, pycocotools and their dependencies for that Python, the mmcv 2.1.0 sdist
# (compiled there with CUDA ops), setuptools < 70 for mmcv's setup.py, pytest/hypothesis.
# Carry it with the device tool's `carry: [".gpu-bundle"]` (64 MiB limit per call).
#   Usage: scripts/gpu_bundle.sh [PYTHON_VERSION=3.12] [OUT=.gpu-bundle]
set -euo pipefail
PYV=${1:-3.12}; OUT=${2:-.gpu-bundle}
cd "$(dirname "$0")/.."
mkdir -p "$OUT"
dl=(python3 -m pip download -q --dest "$OUT" --python-version "$PYV" --only-binary=:all:
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64)
# What torch's own environment usually lacks; torch, torchvision, numpy, pillow stay out.
"${dl[@]}" mmengine==0.10.7 mmdet==3.3.0 pycocotools opencv-python-headless scipy \
  matplotlib terminaltables shapely addict yapf termcolor rich pytest hypothesis \
  "setuptools<70" wheel ninja
python3 -m pip download -q --dest "$OUT" --no-deps --no-binary :all: mmcv==2.1.0
du -sh "$OUT"; ls "$OUT" | wc -l
