"""iou-aware: detectors that know how well they localize (MMDetection 3.x plugins).

Importing the package registers its components in mmdet's registries, so configs use
``custom_imports = dict(imports=['iou_aware'], allow_failed_imports=False)``.
"""
from .version import __version__
from . import compat  # noqa: F401  (must precede any checkpoint loading)
from . import ops  # noqa: F401  (torch.ops.iou_aware.* autograd and fake kernels)
from . import evaluation, models  # noqa: F401  (mmdet registrations)

__all__ = ['__version__', 'evaluation', 'models', 'ops']
