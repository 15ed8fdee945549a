"""Gradient clipping that keeps an add-on's gradients out of the model's clip."""
from mmdet.registry import OPTIM_WRAPPERS
from mmengine.optim import OptimWrapper

CLIP_GROUP = 'clip_group'  # parameter attribute naming the set it is clipped with


def tag_clip_group(module, group):
    """Mark every parameter of ``module`` to be clipped as the set ``group``."""
    for param in module.parameters():
        setattr(param, CLIP_GROUP, group)


@OPTIM_WRAPPERS.register_module()
class SeparateClipOptimWrapper(OptimWrapper):
    """mmengine's OptimWrapper, but parameters tagged by :func:`tag_clip_group` are clipped
    as their own set (same ``clip_grad`` settings) instead of inside one global norm.

    Why: mmengine clips every parameter by one global norm, so an add-on whose loss never
    reaches the model (the decoupled IoU branch) still shrinks the model's clipped step
    whenever its own gradients push the global norm over ``max_norm``. Clipped apart, the
    model's parameters get exactly the update they would get without the add-on. The
    untagged set's norm is logged as ``grad_norm`` (mmengine's name), each tagged set's as
    ``grad_norm_<group>``. Without tagged parameters this is mmengine's wrapper.
    """

    def _clip_grad(self):
        groups = {}
        for param_group in self.optimizer.param_groups:
            for param in param_group['params']:
                if param.requires_grad and param.grad is not None:
                    groups.setdefault(getattr(param, CLIP_GROUP, None), []).append(param)
        for group, params in groups.items():
            norm = self.clip_func(params, **self.clip_grad_kwargs)
            if norm is not None:  # clip_grad_value_ returns None
                name = self.grad_name if group is None else f'{self.grad_name}_{group}'
                self.message_hub.update_scalar(f'train/{name}', float(norm))
