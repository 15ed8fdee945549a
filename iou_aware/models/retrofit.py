"""Give a trained detector a predicted IoU: train only the IoU branch on a frozen checkpoint.

    model = dict(_delete_=True, type='IoUBranchRetrofit', detector={{_base_.model}},
                 checkpoint='work_dirs/retinanet/epoch_36.pth')

``detector`` is the IoU-aware model (the shipped IoU-aware RetinaNet, or IoU-Net);
``checkpoint`` a checkpoint of the same detector *without* the branch (mmdet's RetinaNet, or
Faster R-CNN, of the same classes). For IoU-Net the IoU head trains on its usual targets
(jittered ground truths, and the detector's own boxes where configured) on the frozen
features: its gradient still flows through PrRoIPool into the backbone, which has no
``requires_grad`` and so does not move.
The wrapper holds the detector (:mod:`.detector_wrapper`: same state-dict keys, so what it
saves is an ordinary IoU-aware checkpoint), with:

- the checkpoint's weights loaded, after checking that it fits: only the branch's keys may
  be missing, no key may have another shape (e.g. another class count); a clear error names
  what does not fit;
- every parameter outside the branch frozen (``requires_grad=False``: the optimizer steps
  and weight-decays only the branch, AdamW skips parameters without a gradient) and every
  module outside the branch kept in eval mode, so BatchNorm statistics do not move;
- the branch initialised as the detector's own ``init_weights`` does.

The trainable modules are the head's ``IOU_BRANCH`` (a class attribute of each head with a
branch that can be trained apart: IoU-aware RetinaNet, both recipes, the decoupled IoU-aware
ATSS, IoU-Net). The detector must be a plain one: a checkpoint of the trained stack is a
plain IoU-aware checkpoint, which is what the other wrappers take.

Why it works: the shipped branch is decoupled (it reads the regression tower's features
detached and its targets are detached), so its loss never reaches the detector and training
it afterwards gives the same kind of estimator as training it jointly.
"""
from mmdet.registry import MODELS
from mmengine.runner.checkpoint import _load_checkpoint

from .detector_wrapper import DetectorWrapper, StackError


class RetrofitError(ValueError):
    """A checkpoint that does not fit the detector the branch is added to."""


def trainable_prefixes(model):
    """The state-dict prefixes of the model's IoU branch (its head's ``IOU_BRANCH``)."""
    for attr in ('bbox_head', 'roi_head'):
        head = getattr(model, attr, None)
        if head is not None and getattr(type(head), 'IOU_BRANCH', None):
            return tuple(f'{attr}.{name}.' for name in type(head).IOU_BRANCH)
    head = getattr(model, 'bbox_head', None) or getattr(model, 'roi_head', None)
    raise RetrofitError(f'IoUBranchRetrofit: no IoU branch to train on a '
                        f'{type(model).__name__} with head {type(head).__name__}; supported '
                        'heads are those with an IOU_BRANCH (IoUAwareRetinaHead, '
                        'DecoupledIoURetinaHead, DecoupledIoUATSSHead, IoUNetRoIHead)')


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


class FrozenDetectorWrapper(DetectorWrapper):
    """A wrapper that trains only the state-dict prefixes ``self.trainable``: everything
    else has no gradient and stays in eval mode (BatchNorm keeps the checkpoint's
    statistics)."""

    def freeze_all_but(self, prefixes, checkpoint=None):
        frozen = 0
        for name, param in self.named_parameters():
            if not name.startswith(prefixes):
                param.requires_grad_(False)
                frozen += 1
        self.trainable = prefixes
        self.retrofit = dict(checkpoint=checkpoint, trainable=prefixes, frozen=frozen)
        self.train(self.training)

    def train(self, mode=True):
        super().train(mode)
        prefixes = self.__dict__.get('trainable')
        if prefixes is None:  # not frozen yet (during __init__)
            return self
        for name, module in self.named_modules():
            if name and not (name + '.').startswith(prefixes) and not any(
                    p.startswith(name + '.') for p in prefixes):
                module.train(False)
        return self


@MODELS.register_module()
class IoUBranchRetrofit(FrozenDetectorWrapper):
    """``detector`` with ``checkpoint`` loaded into everything but its IoU branch, frozen."""

    def __init__(self, detector, checkpoint):
        super().__init__(detector)
        prefixes = trainable_prefixes(self.detector)
        self.init_weights()  # the branch's init; the Runner will not re-initialise
        load_detector(self, checkpoint, prefixes, 'IoUBranchRetrofit')
        self.freeze_all_but(prefixes, checkpoint)

    @classmethod
    def check_inner(cls, inner):
        if isinstance(inner, DetectorWrapper):
            raise StackError(f'IoUBranchRetrofit: the detector must be a plain one with an IoU '
                             f'branch, got a {type(inner).__name__}; wrap the trained '
                             "checkpoint's plain config instead")


def load_detector(model, checkpoint, prefixes, who):
    """Load ``checkpoint`` into ``model``; only keys under ``prefixes`` may be missing."""
    ckpt = _load_checkpoint(checkpoint, map_location='cpu')
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        raise RetrofitError(f'{who}: {checkpoint} holds no state_dict')
    state = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}
    check_fits(model, state, prefixes, checkpoint, who)
    model.load_state_dict(state, strict=False)


def frozen_tensors(model):
    """Every parameter and buffer outside the branch, by name (for checks)."""
    prefixes = model.retrofit['trainable']
    return {k: v.detach().clone() for k, v in model.state_dict().items()
            if not k.startswith(prefixes)}

