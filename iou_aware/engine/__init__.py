"""mmengine-facing training machinery: exact resume and the non-finite-loss stop."""
from .finite_loss import FiniteLossHook, NonFiniteLossError
from .resumable_loop import RandomStateHook, ResumableEpochBasedTrainLoop

__all__ = ['FiniteLossHook', 'NonFiniteLossError', 'RandomStateHook',
           'ResumableEpochBasedTrainLoop']
