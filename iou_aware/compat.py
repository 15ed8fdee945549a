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

mmengine 0.10.7 resolves ``pkg::path`` config scopes only for a fixed list of OpenMMLab
packages (``mmengine.config.utils.MODULE2PACKAGE``), and finds a package's configs at
``<dist location>/<package>/.mim/configs``, which is wrong for editable (PEP 660) installs
whose dist-info lives in site-packages while the code does not. ``register_config_scope``
adds ``iou_aware`` to the list and answers the location for our package only, so
``_base_ = 'iou_aware::iou_net/...'`` works once ``iou_aware`` is imported (our tools import
it before reading a config).

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


def register_config_scope():
    """Make ``iou_aware::<path>`` resolve to ``iou_aware/.mim/configs/<path>`` (the same code
    the interpreter-start hook runs: iou_aware_config_scope.py)."""
    from mmengine.config import config as config_module

    import iou_aware_config_scope
    iou_aware_config_scope.register(config_module)


allow_mmengine_checkpoints()
register_config_scope()
warnings.filterwarnings('ignore', message='pkg_resources is deprecated', category=UserWarning)
