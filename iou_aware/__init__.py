"""iou-aware: detectors that know how well they localize (MMDetection 3.x plugins)."""
from .version import __version__
from . import ops  # noqa: F401  (registers torch.ops.iou_aware.* autograd and fake kernels)

__all__ = ['__version__', 'ops']
