"""GFLv2's distribution-guided quality predictor (DGQP; Li et al., CVPR 2021) on mmdet's
``GFLHead``, which mmdet 3.3 does not ship.

GFL regresses each box edge as a discrete distribution. DGQP reads how sharp those four
distributions are (the top-k probabilities of each, and their mean) and maps them, with a
two-layer 1x1 MLP, to a quality in (0, 1) that multiplies the joint cls-quality score:
``score = sigmoid(cls) x sigmoid(quality)``, trained, as GFL trains its score, by the
quality focal loss towards the IoU of the box (0 for background).

Where we differ from the authors' code, and why: it returns that product as a probability and
switches the loss to probability inputs. We return the product's exact logit instead
(:func:`product_logit`), so that everything after ``forward_single`` (targets, QFL with
logits, the DFL and GIoU weights, NMS) is mmdet's ``GFLHead`` unchanged: ``sigmoid`` of
the returned logit is the product, so the loss and the scores are the same functions.
"""
import inspect

import torch
import torch.nn.functional as F
from mmdet.models.dense_heads import GFLHead
from mmdet.registry import MODELS
from mmengine.model import normal_init
from torch import nn

from .quality_heads import _ScoreIsQuality

# GFLHead's own default, read rather than restated: reg_topk is checked against it before
# GFLHead.__init__ runs (which builds the layers that need reg_topk).
_GFL_REG_MAX = inspect.signature(GFLHead.__init__).parameters['reg_max'].default


def product_logit(a, b):
    """``logit(sigmoid(a) * sigmoid(b))``, finite for every finite ``a`` and ``b``.

    ``1 - sigmoid(a) sigmoid(b) = sigmoid(-a) + sigmoid(a) sigmoid(-b)``, a sum of positive
    terms, so its log is a ``logaddexp`` of log-sigmoids and never cancels (the naive
    ``log(1 - p)`` is ``-inf`` once ``p`` rounds to 1)."""
    log_p = F.logsigmoid(a) + F.logsigmoid(b)
    log_not_p = torch.logaddexp(F.logsigmoid(-a), F.logsigmoid(a) + F.logsigmoid(-b))
    return log_p - log_not_p


@MODELS.register_module()
class DGQPGFLHead(_ScoreIsQuality, GFLHead):
    """mmdet's ``GFLHead`` with GFLv2's DGQP; detections carry ``pred_ious`` = the score.

    Args:
        reg_topk (int): top-k probabilities of each edge's distribution fed to the MLP
            (GFLv2: 4).
        reg_channels (int): hidden width of the MLP (GFLv2: 64).
        add_mean (bool): also feed the mean of those top-k (GFLv2: True).
    """

    def __init__(self, *args, reg_topk=4, reg_channels=64, add_mean=True, **kwargs):
        reg_max = kwargs.get('reg_max', _GFL_REG_MAX)
        if not isinstance(reg_topk, int) or not 1 <= reg_topk <= reg_max + 1:
            raise ValueError(f'reg_topk: expected an int in [1, reg_max + 1 = {reg_max + 1}], '
                             f'got {reg_topk!r}')
        if not isinstance(reg_channels, int) or reg_channels < 1:
            raise ValueError(f'reg_channels: expected a positive int, got {reg_channels!r}')
        self.reg_topk, self.reg_channels, self.add_mean = reg_topk, reg_channels, bool(add_mean)
        super().__init__(*args, **kwargs)

    def _init_layers(self):
        super()._init_layers()
        stats = 4 * (self.reg_topk + int(self.add_mean))
        self.reg_conf = nn.Sequential(nn.Conv2d(stats, self.reg_channels, 1), nn.ReLU(inplace=True),
                                      nn.Conv2d(self.reg_channels, 1, 1))

    def init_weights(self):
        super().init_weights()
        for m in self.reg_conf:
            if isinstance(m, nn.Conv2d):
                normal_init(m, std=0.01)  # as GFLv2

    def distribution_statistics(self, bbox_pred):
        """[N, 4 (k + mean), H, W]: per edge, the k largest probabilities of its distribution
        (and their mean)."""
        n, _, h, w = bbox_pred.shape
        prob = bbox_pred.reshape(n, 4, self.reg_max + 1, h, w).softmax(dim=2)
        top = prob.topk(self.reg_topk, dim=2).values
        if self.add_mean:
            top = torch.cat([top, top.mean(dim=2, keepdim=True)], dim=2)
        return top.reshape(n, -1, h, w)

    def forward_single(self, x, scale):
        cls_logit, bbox_pred = super().forward_single(x, scale)
        quality_logit = self.reg_conf(self.distribution_statistics(bbox_pred))
        return product_logit(cls_logit, quality_logit), bbox_pred
