"""Give a trained detector a predicted IoU: train only the IoU branch on a frozen checkpoint.

    model = dict(_delete_=True, type='IoUBranchRetrofit', detector={{_base_.model}},
                 checkpoint='work_dirs/retinanet/epoch_36.pth')

``detector`` is the IoU-aware model (the shipped IoU-aware RetinaNet, or IoU-Net);
``checkpoint`` a checkpoint of the same detector *without* the branch (mmdet's RetinaNet, or
Faster R-CNN, of the same classes). For IoU-Net the IoU head trains on its usual targets
(jittered ground truths, and the detector's own boxes where configured) on the frozen
features: its gradient still flows through PrRoIPool into the backbone, which has no
``requires_grad`` and so does not move.
The builder returns the detector itself (same class and state-dict keys, so what it saves is
an ordinary IoU-aware checkpoint), with:

- the checkpoint's weights loaded, after checking that it fits: only the branch's keys may
  be missing, no key may have another shape (e.g. another class count); a clear error names
  what does not fit;
- every parameter outside the branch frozen (``requires_grad=False``: the optimizer steps
  and weight-decays only the branch, AdamW skips parameters without a gradient) and every
  module outside the branch kept in eval mode, so BatchNorm statistics do not move;
- the branch initialised as the detector's own ``init_weights`` does.

Why it works: the shipped branch is decoupled (it reads the regression tower's features
detached and its targets are detached), so its loss never reaches the detector and training
it afterwards gives the same kind of estimator as training it jointly.
"""
import types

from mmdet.registry import MODELS
from mmengine.runner.checkpoint import _load_checkpoint

# the IoU branch of each supported head, by the head's class (dense head or RoI head)
TRAINABLE = {'DecoupledIoURetinaHead': ('bbox_head.iou_convs.', 'bbox_head.retina_iou.'),
             'IoUAwareRetinaHead': ('bbox_head.retina_iou.',),
             'IoUNetRoIHead': ('roi_head.iou_head.',)}


class RetrofitError(ValueError):
    """A checkpoint that does not fit the detector the branch is added to."""


def trainable_prefixes(model):
    head = getattr(model, 'bbox_head', None) or getattr(model, 'roi_head', None)
    prefixes = TRAINABLE.get(type(head).__name__)
    if prefixes is None:
        raise RetrofitError(f'IoUBranchRetrofit: no IoU branch to train on a '
                            f'{type(model).__name__} with head {type(head).__name__}; '
                            f'supported heads: {", ".join(TRAINABLE)}')
    return prefixes


def check_fits(model, state, prefixes, path, who='IoUBranchRetrofit'):
    own = model.state_dict()
    missing = sorted(k for k in own if k not in state)
    not_branch = [k for k in missing if not k.startswith(prefixes)]
    unexpected = sorted(k for k in state if k not in own)
    shapes = sorted(k for k in own if k in state and own[k].shape != state[k].shape)
    problems = []
    if not_branch:
        problems.append(f'{len(not_branch)} detector weights missing (e.g. {not_branch[0]}): '
                        'not a checkpoint of this detector')
    if shapes:
        k = shapes[0]
        problems.append(f'{len(shapes)} weights of another shape (e.g. {k}: '
                        f'{tuple(state[k].shape)} in the checkpoint, {tuple(own[k].shape)} in '
                        'the model; another class count?)')
    if unexpected:
        problems.append(f'{len(unexpected)} weights the model does not have (e.g. '
                        f'{unexpected[0]})')
    if problems:
        raise RetrofitError(f'{who}: checkpoint {path} does not fit the '
                            f'detector: ' + '; '.join(problems))


@MODELS.register_module()
def IoUBranchRetrofit(detector, checkpoint):  # noqa: N802 (a type name in configs)
    """Build ``detector``, load ``checkpoint`` into everything but its IoU branch, freeze it."""
    model = MODELS.build(detector)
    prefixes = trainable_prefixes(model)
    model.init_weights()  # the branch's init; the Runner will not re-initialise
    load_detector(model, checkpoint, prefixes, 'IoUBranchRetrofit')
    freeze_all_but(model, prefixes, checkpoint)
    return model


def load_detector(model, checkpoint, prefixes, who):
    """Load ``checkpoint`` into ``model``; only keys under ``prefixes`` may be missing."""
    ckpt = _load_checkpoint(checkpoint, map_location='cpu')
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        raise RetrofitError(f'{who}: {checkpoint} holds no state_dict')
    state = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}
    check_fits(model, state, prefixes, checkpoint, who)
    model.load_state_dict(state, strict=False)


def freeze_all_but(model, prefixes, checkpoint=None):
    """Freeze every parameter outside ``prefixes`` and keep its modules in eval mode."""
    frozen = []
    for name, param in model.named_parameters():
        if not name.startswith(prefixes):
            param.requires_grad_(False)
            frozen.append(name)
    model.retrofit = dict(checkpoint=checkpoint, trainable=prefixes, frozen=len(frozen))
    base_train = type(model).train

    def train(self, mode=True):
        base_train(self, mode)
        for name, module in self.named_modules():
            if name and not (name + '.').startswith(prefixes) and not any(
                    p.startswith(name + '.') for p in prefixes):
                module.train(False)  # frozen: BatchNorm keeps the checkpoint's statistics
        return self

    model.train = types.MethodType(train, model)
    model.train(model.training)
    return model


def frozen_tensors(model):
    """Every parameter and buffer outside the branch, by name (for checks)."""
    prefixes = model.retrofit['trainable']
    return {k: v.detach().clone() for k, v in model.state_dict().items()
            if not k.startswith(prefixes)}

