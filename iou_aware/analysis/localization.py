"""Localization quality of detections: how well a confidence tracks the true IoU.

Pure functions on numpy arrays, shared by tools/analyze_localization.py and the benchmark
tables. The true IoU of a detection is its highest IoU with a ground-truth box of the same
class in the same image (0 when there is none), so every detection has one; correlations
are reported over the detections that overlap a ground truth of their class at all.
"""
import numpy as np
import torch
from scipy import stats
from torchvision.ops import box_iou


def true_ious(det_boxes, det_labels, gt_boxes, gt_labels):
    """For each detection, its best IoU with a same-class ground-truth box (0 if none)."""
    det_labels, gt_labels = np.asarray(det_labels), np.asarray(gt_labels)
    out = np.zeros(len(det_labels))
    if len(det_labels) == 0 or len(gt_labels) == 0:
        return out
    ious = box_iou(torch.as_tensor(det_boxes, dtype=torch.float64).reshape(-1, 4),
                   torch.as_tensor(gt_boxes, dtype=torch.float64).reshape(-1, 4)).numpy()
    ious[det_labels[:, None] != gt_labels[None, :]] = 0
    return ious.max(axis=1)


def correlations(confidence, true_iou):
    """Pearson and Spearman correlation of a confidence with the true IoU (NaN when fewer
    than 3 detections or a constant input make them undefined)."""
    confidence, true_iou = np.asarray(confidence, float), np.asarray(true_iou, float)
    if len(confidence) < 3 or np.ptp(confidence) == 0 or np.ptp(true_iou) == 0:
        return dict(pearson=float('nan'), spearman=float('nan'), n=int(len(confidence)))
    return dict(pearson=float(stats.pearsonr(confidence, true_iou)[0]),
                spearman=float(stats.spearmanr(confidence, true_iou)[0]),
                n=int(len(confidence)))


CALIBRATION_BINS = 10  # equal-width bins of the predicted value over [0, 1]


def calibration_table(predicted, true_iou, bins=CALIBRATION_BINS):
    """Mean predicted and mean true IoU per bin of predicted IoU over [0, 1] (equal width;
    a value on an inner edge goes to the upper bin, 1.0 to the last)."""
    predicted, true_iou = np.asarray(predicted, float), np.asarray(true_iou, float)
    edges = np.linspace(0, 1, bins + 1)
    index = np.clip(np.digitize(predicted, edges[1:-1]), 0, bins - 1)
    rows = []
    for b in range(bins):
        sel = index == b
        rows.append(dict(lo=float(edges[b]), hi=float(edges[b + 1]), n=int(sel.sum()),
                         mean_predicted=float(predicted[sel].mean()) if sel.any() else None,
                         mean_true=float(true_iou[sel].mean()) if sel.any() else None))
    return rows


def expected_calibration_error(predicted, true_iou, bins=CALIBRATION_BINS):
    """Expected calibration error of a predicted IoU against the true IoU:
    sum over bins of (share of detections in the bin) x |mean predicted - mean true|,
    with the bins of :func:`calibration_table`. NaN for no detections."""
    rows = calibration_table(predicted, true_iou, bins)
    total = sum(r['n'] for r in rows)
    if total == 0:
        return float('nan')
    return float(sum(r['n'] / total * abs(r['mean_predicted'] - r['mean_true'])
                     for r in rows if r['n']))
