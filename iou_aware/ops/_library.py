"""Loads the compiled op library iou_aware._C, remembering why if it cannot."""
import warnings

import torch  # noqa: F401  (loads libc10/libtorch, which _C links against, before _C)

try:
    from iou_aware import _C  # noqa: F401  (importing it registers torch.ops.iou_aware.*)
    EXTENSION_ERROR = None
except ImportError as exc:  # not built, or built against another torch
    EXTENSION_ERROR = exc

_warned = set()


def has_extension():
    return EXTENSION_ERROR is None


def warn_fallback(op_name):
    """Warn once per op that the slow pure-PyTorch reference is standing in for _C."""
    if op_name in _warned:
        return
    _warned.add(op_name)
    warnings.warn(
        f'iou_aware: the compiled extension is not available ({EXTENSION_ERROR}); '
        f'{op_name} falls back to the slow pure-PyTorch reference. '
        'Build it with `make setup` or `pip install --no-build-isolation -e .`.',
        RuntimeWarning, stacklevel=3)
