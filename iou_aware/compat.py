"""Fixes for the torch 2.14 / mmengine 0.10.7 / numpy 2 stack, applied on import.

torch >= 2.6 loads checkpoints with ``weights_only=True`` by default, and mmengine 0.10.7
calls ``torch.load`` without the argument, so its own checkpoints (which pickle a
``HistoryBuffer`` and numpy arrays/scalars in the message hub and meta) fail to load
("Weights only load failed") on resume and on test-from-checkpoint. Rather than turn the
safe loader off, we allow exactly the types mmengine writes, and stop ``HistoryBuffer``
from pickling its statistics functions: they pickle as ``getattr(HistoryBuffer, 'min')``,
and allowing ``getattr`` would let a checkpoint call arbitrary methods. The functions are
class-level registrations that ``__setstate__`` restores anyway, so nothing is lost.
Checkpoints written by a stock mmengine still need ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``
(torch's documented opt-out) when the file is trusted; our tools say so.

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


def _history_buffer_state(self):
    state = dict(self.__dict__)
    state.pop('statistics_methods', None)  # see the module docstring
    return state


def allow_mmengine_checkpoints():
    """Let ``torch.load(weights_only=True)`` read checkpoints mmengine writes."""
    torch.serialization.add_safe_globals([HistoryBuffer, *_numpy_globals()])
    HistoryBuffer.__getstate__ = _history_buffer_state


allow_mmengine_checkpoints()
warnings.filterwarnings('ignore', message='pkg_resources is deprecated', category=UserWarning)
