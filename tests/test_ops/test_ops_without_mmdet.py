"""iou_aware.ops needs torch alone: a GPU box or a user outside MMDetection may have no
mmdet, mmengine or mmcv. Simulated by hiding those packages from the import system in a
fresh interpreter (a meta-path hook), then importing the ops and calling both of them."""
import os.path as osp
import subprocess
import sys

import pytest

from iou_aware.ops import has_extension

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

SCRIPT = r'''
import importlib.util
import sys

HIDDEN = ('mmdet', 'mmengine', 'mmcv')


class Hide:
    """Wraps a meta-path finder so that it does not find the hidden packages: to importlib
    (and to importlib.util.find_spec) they are simply not installed."""

    def __init__(self, finder):
        self.finder = finder

    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in HIDDEN or not hasattr(self.finder, 'find_spec'):
            return None
        return self.finder.find_spec(name, path, target)

    def __getattr__(self, attr):
        return getattr(self.finder, attr)


sys.meta_path[:] = [Hide(f) for f in sys.meta_path]
assert importlib.util.find_spec('mmdet') is None
try:
    import mmcv  # noqa: F401
    raise SystemExit('the hook did not hide mmcv')
except ImportError:
    pass

import torch
import iou_aware
import iou_aware.ops
from iou_aware.ops import batched_iou_guided_nms, iou_guided_nms, prroi_pool

assert iou_aware.HAS_MMDET is False
assert iou_aware.ops.has_extension(), iou_aware.ops._library.EXTENSION_ERROR
boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60.0]])
keep, kept = iou_guided_nms(boxes, torch.tensor([0.3, 0.9, 0.6]), torch.tensor([0.9, 0.8, 0.5]), 0.5)
assert keep.tolist() == [0, 2], keep
keep, _ = batched_iou_guided_nms(boxes, torch.rand(3), torch.rand(3), torch.tensor([0, 1, 0]), 0.5)
assert sorted(keep.tolist()) == [0, 1, 2], keep
feats = torch.randn(1, 2, 8, 8, requires_grad=True)
rois = torch.tensor([[0, 1.0, 1.0, 20.0, 24.0]], requires_grad=True)
out = prroi_pool(feats, rois, 3, 0.25)
out.sum().backward()
assert out.shape == (1, 2, 3, 3) and feats.grad is not None and rois.grad is not None
loaded = sorted(m for m in sys.modules if m.split('.')[0] in HIDDEN)
assert not loaded, loaded
print('ok')
'''


@pytest.mark.skipif(not has_extension(), reason='iou_aware._C not built')
def test_ops_import_and_run_without_mm_packages():
    out = subprocess.run([sys.executable, '-c', SCRIPT], capture_output=True, text=True,
                         cwd=ROOT, env={'PYTHONPATH': ROOT, 'PATH': '/usr/bin:/bin'}, timeout=300)
    assert out.returncode == 0 and out.stdout.strip().endswith('ok'), out.stderr[-3000:]


def test_the_extension_loads_when_iou_aware_is_imported_first():
    """`import iou_aware` before anything imports torch: _C links against libc10, which is
    only found once torch is loaded, so the package must load torch first (else every op
    silently falls back to the slow reference)."""
    out = subprocess.run([sys.executable, '-c', 'import iou_aware.ops._library as lib; '
                          'print(lib.EXTENSION_ERROR)'], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == 'None'
