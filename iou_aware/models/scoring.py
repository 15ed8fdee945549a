"""How a detection's score is made from its classification score and its predicted IoU: one
vocabulary for every head with an IoU estimate (``test_cfg.score_type``).

- ``'cls_x_iou'``: ``cls x IoU``, the *expected IoU* of the detection when cls estimates
  the chance that it is a true positive (what the field's localization-aware calibration
  error, LaECE, takes as the target of a confidence). The default of IoU-aware RetinaNet and
  IoU-Net.
- ``'geometric'``: ``cls ** alpha * IoU ** (1 - alpha)`` (the IoU-aware paper's Eq. 7;
  ``test_cfg.alpha``, default 0.5). For every alpha in (0, 1) it ranks exactly as
  ``cls ** (alpha / (1 - alpha)) x IoU``; at 0.5 it is the square root of ``cls_x_iou``, so
  the two rank detections identically, and a score threshold ``t`` here keeps the same
  detections as ``t ** 2`` on ``cls_x_iou``.
- ``'cls'``: the classification score alone (the IoU then only reaches IoU-guided NMS).
"""
import math

SCORE_TYPES = ('cls_x_iou', 'geometric', 'cls')


def check_scoring(cfg, where, default='cls_x_iou'):
    """Validate ``cfg.score_type`` (and ``alpha`` for ``'geometric'``) once, at build time;
    returns ``(score_type, alpha)``. Without ``score_type`` a config that sets ``alpha``
    means the paper's geometric mean (configs written before ``score_type`` existed)."""
    score_type = cfg.get('score_type') or ('geometric' if 'alpha' in cfg else default)
    if score_type not in SCORE_TYPES:
        raise ValueError(f'{where}.score_type must be one of {SCORE_TYPES}, got {score_type!r}')
    alpha = cfg.get('alpha', 0.5)
    if score_type == 'geometric':
        if (isinstance(alpha, bool) or not isinstance(alpha, (int, float))
                or not math.isfinite(alpha) or not 0 <= alpha <= 1):
            raise ValueError(f'{where}.alpha must be a number in [0, 1] (score = cls ** alpha'
                             f' * IoU ** (1 - alpha)), got {alpha!r}')
    elif 'alpha' in cfg and cfg.get('score_type'):
        raise ValueError(f"{where}.alpha is used only with score_type='geometric', "
                         f'not with {score_type!r}: drop it or switch score_type')
    return score_type, float(alpha)


def fuse_scores(cls_scores, ious, score_type, alpha=0.5):
    """The detection score from cls scores and predicted IoUs (tensors that broadcast,
    e.g. [N, C] with [N, C] or [N, 1])."""
    if score_type == 'cls':
        return cls_scores
    ious = ious.clamp(min=0)
    if score_type == 'cls_x_iou':
        return cls_scores * ious
    if alpha == 1:
        return cls_scores
    return cls_scores.pow(alpha) * ious.pow(1 - alpha)
