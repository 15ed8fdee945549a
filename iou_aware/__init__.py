"""iou-aware: detectors that know how well they localize (MMDetection 3.x plugins).

Two layers, one dependency direction:

* ``iou_aware.ops`` (and the compiled ``iou_aware._C``) need torch alone: a GPU box with
  only torch, or a user outside MMDetection, can ``import iou_aware.ops``.
* Everything that touches mmdet/mmengine/mmcv (heads, extractors, metric, datasets, the
  training loop, the checkpoint fix) is imported here when mmdet is installed, which
  registers it in mmdet's registries, so configs keep using
  ``custom_imports = dict(imports=['iou_aware'], allow_failed_imports=False)``.
"""
import importlib.util

from . import ops  # noqa: F401  (torch.ops.iou_aware.* autograd and fake kernels)
from .version import __version__

HAS_MMDET = importlib.util.find_spec('mmdet') is not None

if HAS_MMDET:  # an installed but broken mmdet stack raises here, as it should
    from . import compat  # noqa: F401  (must precede any checkpoint loading)
    from . import engine, evaluation, models, visualization  # noqa: F401  (mmdet registrations)
    from .datasets import checked_coco  # noqa: F401  (CheckedCocoDataset)

__all__ = ['HAS_MMDET', '__version__', 'ops']
