"""Stop training at the first non-finite loss, naming the iteration and the loss term."""
import math

from mmengine.hooks import Hook

from mmdet.registry import HOOKS


class NonFiniteLossError(RuntimeError):
    """A loss term became NaN or infinite; training stopped before any checkpoint of it."""


@HOOKS.register_module()
class FiniteLossHook(Hook):
    """Checks every loss term after every iteration and raises :class:`NonFiniteLossError`
    with one line naming the iteration and the terms.

    mmdet's ``CheckInvalidLossHook`` checks only the total, every ``interval`` iterations,
    with a bare assertion; the terms are already Python scalars here, so checking each one
    every iteration costs nothing. The optimizer step of that iteration has run (the
    weights in memory are spoiled), but this hook runs before ``CheckpointHook``, so no
    checkpoint ever holds them: the last one written is the last good state.
    """

    priority = 'ABOVE_NORMAL'  # before LoggerHook (BELOW_NORMAL) and CheckpointHook (VERY_LOW)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        # mmengine's log_vars may still be tensors that require grad: read them detached
        # (float() on those warns under torch >= 2.9)
        values = {k: float(v.detach()) if hasattr(v, 'detach') else float(v)
                  for k, v in (outputs or {}).items() if 'loss' in k}
        bad = [(k, v) for k, v in values.items() if not math.isfinite(v)]
        if bad:
            terms = ', '.join(f'{k} = {v}' for k, v in bad)
            raise NonFiniteLossError(
                f'non-finite loss at iteration {runner.iter + 1} (epoch {runner.epoch + 1}, '
                f'batch {batch_idx + 1}): {terms}; training stopped, the last checkpoint '
                'written before it is intact')
