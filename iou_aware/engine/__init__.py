"""mmengine-facing training machinery: exact resume, the non-finite-loss stop, clipping
an add-on's gradients apart."""
from .finite_loss import FiniteLossHook, NonFiniteLossError
from .resumable_loop import RandomStateHook, ResumableEpochBasedTrainLoop
from .separate_clip import SeparateClipOptimWrapper, tag_clip_group

__all__ = ['FiniteLossHook', 'NonFiniteLossError', 'RandomStateHook',
           'ResumableEpochBasedTrainLoop', 'SeparateClipOptimWrapper', 'tag_clip_group']
