#!/usr/bin/env bash
# Install iou-aware as a user with an existing environment would, into a fresh venv with
# another Python and torch: the stack first (torch, mmcv with ops, from the cached wheel or
# a build), then `pip install --no-build-isolation .` (not editable) from a clean copy of
# HEAD. Then: import it, inherit a shipped config through the `iou_aware::` scope from a
# folder outside the repo, and train it for a few steps.
#   Usage: scripts/check_install.sh PYTHON TORCH_VERSION TORCHVISION_VERSION [VENV]
#   e.g.   scripts/check_install.sh python3.12 2.11.0 0.26.0
set -euo pipefail
PYTHON=$1; TORCH=$2; TORCHVISION=$3; VENV=${4:-/tmp/iou-aware-install-check}
here=$(cd "$(dirname "$0")/.." && pwd)
say() { printf '[check-install] %s\n' "$*"; }
rm -rf "$VENV"; "$PYTHON" -m venv "$VENV"; PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check)
pyver=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
say "venv $VENV: Python $pyver; installing torch $TORCH, torchvision $TORCHVISION"
"${PIP[@]}" install -q "torch==$TORCH" "torchvision==$TORCHVISION"
"${PIP[@]}" install -q "setuptools>=77,<81" wheel ninja
wheel_dir=${IOU_AWARE_CACHE:-$HOME/.cache/iou-aware}/wheels/mmcv-2.1.0-torch$TORCH-cp${pyver/./}
if ! ls "$wheel_dir"/mmcv-2.1.0-*.whl >/dev/null 2>&1; then
  SETUPTOOLS_SPEC="setuptools>=77,<81" bash "$here/scripts/build_mmcv_wheel.sh" "$PY" 2.1.0 "$wheel_dir"
fi
"${PIP[@]}" install -q "$wheel_dir"/mmcv-2.1.0-*.whl

src=$(mktemp -d); git -C "$here" archive HEAD | tar -x -C "$src"
say "pip install --no-build-isolation . (a clean copy of HEAD in $src; dependencies from pyproject's ranges)"
(cd "$src" && "${PIP[@]}" install -q --no-build-isolation .)
cd "$(mktemp -d)"  # nowhere near the repo: the installed package only
"$PY" - <<'PY'
import sys, torch, mmcv, mmdet, mmengine, iou_aware
from iou_aware.ops import has_extension, prroi_pool
assert has_extension(), 'iou_aware._C missing'
assert '/site-packages/' in iou_aware.__file__, iou_aware.__file__
x = prroi_pool(torch.ones(1, 1, 4, 4), torch.tensor([[0., 0, 0, 2, 2]]), 1)
print(f'[check-install] import iou_aware {iou_aware.__version__} from {iou_aware.__file__}: '
      f'Python {sys.version.split()[0]}, torch {torch.__version__}, mmcv {mmcv.__version__}, '
      f'mmdet {mmdet.__version__}, mmengine {mmengine.__version__}; prroi_pool ok ({x.item():.3f})')
PY
"$PY" "$src/tools/make_shapes_dataset.py" --out-dir shapes --train-images 8 --val-images 4 \
  --image-size 128 >/dev/null
cat > my_config.py <<'CFG'
_base_ = 'iou_aware::iou_aware_retinanet/iou-aware-retinanet_tiny-r18_fpn_shapes.py'
CFG
say "training the tiny IoU-aware RetinaNet through a config that inherits iou_aware:: (4 steps)"
"$PY" "$src/tools/train.py" my_config.py --work-dir work --cfg-options \
  train_dataloader.dataset.data_root=shapes/ val_dataloader.dataset.data_root=shapes/ \
  test_dataloader.dataset.data_root=shapes/ val_evaluator.ann_file=shapes/annotations/val.json \
  test_evaluator.ann_file=shapes/annotations/val.json train_cfg.max_epochs=2 \
  train_dataloader.num_workers=0 train_dataloader.persistent_workers=False \
  val_dataloader.num_workers=0 val_dataloader.persistent_workers=False \
  default_hooks.logger.interval=1 > train.log 2>&1 || { tail -30 train.log; exit 1; }
grep -E 'Epoch\(train\) +\[2\]\[2/2\]' train.log | sed 's/^.*Epoch/[check-install] Epoch/'
say "ok"
