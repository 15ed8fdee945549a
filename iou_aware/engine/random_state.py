"""Random state of a training process: capture, restore, and per-sample seeding.

Used by :class:`~iou_aware.engine.ResumableEpochBasedTrainLoop` so that training is a
function of (seed, epoch, iteration) alone and ``--resume`` continues exactly.
"""
import contextlib
import random

import numpy as np
import torch


def get_random_state():
    """The global random states this process draws from: Python, NumPy, torch (CPU and
    every CUDA device). Stored with plain types and tensors so that torch's
    ``weights_only`` loader reads it."""
    np_state = np.random.get_state()
    state = dict(python=random.getstate(),
                 numpy=dict(kind=np_state[0], keys=torch.from_numpy(np_state[1].astype(np.int64)),
                            pos=int(np_state[2]), has_gauss=int(np_state[3]),
                            cached_gaussian=float(np_state[4])),
                 torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_random_state(state):
    """Restore what :func:`get_random_state` returned."""
    random.setstate(_as_tuple(state['python']))
    n = state['numpy']
    np.random.set_state((n['kind'], n['keys'].numpy().astype(np.uint32), n['pos'],
                         n['has_gauss'], n['cached_gaussian']))
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


def _as_tuple(value):
    # random.setstate wants the tuples it gave; a checkpoint round trip may turn them into lists.
    return tuple(_as_tuple(v) for v in value) if isinstance(value, (list, tuple)) else value


@contextlib.contextmanager
def preserved_random_state():
    """Run a block without disturbing the global random state (e.g. validation)."""
    state = get_random_state()
    try:
        yield
    finally:
        set_random_state(state)


def sample_seed(*keys):
    """A 32-bit seed that depends on ``keys`` (non-negative ints) alone, well mixed
    (numpy's SeedSequence), so neighbouring keys give unrelated streams."""
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(1)[0])


@contextlib.contextmanager
def seeded(seed):
    """Seed Python, NumPy and torch's CPU generator for one sample's data pipeline and put
    the previous states back afterwards (which matters when the loader runs in the
    training process, ``num_workers=0``: the model's own draws must not see it)."""
    py, npst, th = random.getstate(), np.random.get_state(), torch.get_rng_state()
    random.seed(seed)
    np.random.seed(seed)
    torch.default_generator.manual_seed(seed)  # CPU only: leaves CUDA generators alone
    try:
        yield
    finally:
        random.setstate(py)
        np.random.set_state(npst)
        torch.set_rng_state(th)
