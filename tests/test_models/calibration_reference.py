"""The expected output of ``test_cfg.iou_calibration``, written independently of the code."""
import torch


def calibrated(pred_ious, a, b):
    """sigmoid(a * logit(p) + b) as 1 / (1 + ((1 - p) / p) ** a * e ** -b), in float64."""
    p = pred_ious.double().clamp(1e-6, 1 - 1e-6)
    return 1 / (1 + ((1 - p) / p) ** a * torch.exp(torch.tensor(-b, dtype=p.dtype)))
