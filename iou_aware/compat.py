"""Fixes for the torch 2.14 / mmengine 0.10.7 / numpy 2 stack, applied on import.

torch >= 2.6 loads checkpoints with ``weights_only=True`` by default, and mmengine 0.10.7
calls ``torch.load`` without the argument, so its own checkpoints (which pickle a
``HistoryBuffer`` and numpy arrays/scalars in the message hub and meta) fail to load
("Weights only load failed") on resume and on test-from-checkpoint. Rather than turn the
safe loader off, we allow exactly the types mmengine writes.

setuptools 77-80 is pinned because torch 2.14 needs >= 77 and mmengine still imports
pkg_resources (gone in 81) to resolve ``mmdet::`` config paths; its deprecation warning on
every config load is noise for our users, so it is silenced here.
"""
import warnings

import numpy as np
import torch
from mmengine.logging import HistoryBuffer


def _numpy_globals():
    import numpy._core.multiarray as multiarray
    found = [np.ndarray, np.dtype, multiarray._reconstruct, multiarray.scalar]
    # numpy 2 pickles a dtype through its class, e.g. numpy.dtypes.Float64DType.
    found += [getattr(np.dtypes, name) for name in dir(np.dtypes) if name.endswith('DType')]
    return found


def allow_mmengine_checkpoints():
    """Let ``torch.load(weights_only=True)`` read checkpoints mmengine writes."""
    torch.serialization.add_safe_globals([HistoryBuffer, *_numpy_globals()])


allow_mmengine_checkpoints()
warnings.filterwarnings('ignore', message='pkg_resources is deprecated', category=UserWarning)
