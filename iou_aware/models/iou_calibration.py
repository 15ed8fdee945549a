"""``test_cfg.iou_calibration``: a fixed map applied to the predicted IoU a detector reports.

``dict(a=A, b=B)`` reports ``sigmoid(A * logit(pred_iou) + B)`` in ``pred_ious``: the
logit-linear map of :mod:`iou_aware.analysis.recalibration`, which
``tools/recalibration_study.py`` fits on a model's analysed detections and prints. Only the
reported confidence changes: scores, NMS and refinement keep using the raw prediction, so the
boxes, their order and the AP are exactly those without the map. (Calibrating the input to
the fused score would change the ranking, whose effect on AP we have not measured.)
"""
import math

import torch

EPS = 1e-6  # as iou_aware.analysis.recalibration: confidences clipped before the logit


def check_iou_calibration(calibration, where):
    """None, or ``dict(a, b)`` with a finite ``a > 0`` (an increasing map) and finite ``b``."""
    if calibration is None:
        return
    if (not hasattr(calibration, 'keys') or set(calibration.keys()) != {'a', 'b'}
            or not all(isinstance(calibration[k], (int, float)) and not isinstance(calibration[k], bool)
                       and math.isfinite(calibration[k]) for k in ('a', 'b'))
            or calibration['a'] <= 0):
        raise ValueError(f'{where}.iou_calibration must be None or dict(a=A, b=B) with finite '
                         f'numbers, A > 0 (sigmoid(A * logit(iou) + B), as printed by '
                         f'tools/recalibration_study.py), got {calibration!r}')


def calibrate_pred_ious(pred_ious, calibration):
    """``pred_ious`` mapped by ``calibration`` (unchanged for None)."""
    if calibration is None:
        return pred_ious
    p = pred_ious.clamp(EPS, 1 - EPS)
    return torch.sigmoid(calibration['a'] * torch.logit(p) + calibration['b'])
