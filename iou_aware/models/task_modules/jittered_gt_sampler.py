"""Training boxes for IoU-Net's IoU head: jittered ground truths, sampled evenly over IoU.

IoU-Net (Jiang et al. 2018, Sec. 3.1) trains the IoU predictor on boxes made by randomly
transforming ground truths rather than on RPN proposals, whose IoU distribution is heavily
skewed to low values; candidates under IoU 0.5 are dropped and the rest sampled uniformly
with respect to IoU.
"""
import torch
from torchvision.ops import box_iou


def _jitter(gt_bboxes, per_gt, max_offset, generator):
    """``per_gt`` random boxes per GT: each side moves by up to ``a`` times the GT's size,
    with ``a`` itself uniform in [0, max_offset] so small and large moves are both common."""
    wh = (gt_bboxes[:, 2:] - gt_bboxes[:, :2]).repeat(1, 2)
    shape = (gt_bboxes.shape[0], per_gt, 4)
    scale = torch.rand(shape[:2] + (1,), generator=generator, device=gt_bboxes.device) * max_offset
    offsets = (torch.rand(shape, generator=generator, device=gt_bboxes.device) * 2 - 1) * scale
    return (gt_bboxes[:, None, :] + offsets * wh[:, None, :]).reshape(-1, 4)


def jitter_gt_boxes(gt_bboxes, gt_labels, img_shape, num, min_iou=0.5, num_bins=5,
                    candidates_per_gt=100, max_offset=0.35, generator=None):
    """Jittered copies of the ground truths, roughly uniform over IoU in [min_iou, 1].

    Args:
        gt_bboxes (Tensor[G, 4]): ground-truth boxes (x1, y1, x2, y2).
        gt_labels (Tensor[G]): their classes.
        img_shape (tuple): (height, width); candidates are clipped to the image.
        num (int): boxes to return (fewer only when there are no ground truths).
        min_iou (float): candidates whose IoU with their ground truth is below it are dropped.
        num_bins (int): the IoU range [min_iou, 1] is cut into this many equal bins and
            each bin gets ``num // num_bins`` boxes (the remainder, and the share of bins
            without candidates, are drawn from all candidates).
        candidates_per_gt (int): random boxes made per ground truth before sampling.
        max_offset (float): largest move of a side, in units of the GT's width/height.
        generator (torch.Generator, optional): for reproducible draws; the global RNG
            (seeded by mmengine) otherwise.

    Returns:
        (Tensor[K, 4], Tensor[K] long, Tensor[K]): boxes, the class of the ground truth each
        was matched to, and that IoU (the training target). The target is the IoU with the
        best-overlapping ground truth *of the same class*, which is what a detection of that
        class is judged by.
    """
    device = gt_bboxes.device
    if gt_bboxes.numel() == 0 or num <= 0:
        return gt_bboxes.new_zeros(0, 4), gt_labels.new_zeros(0), gt_bboxes.new_zeros(0)
    if not 0 <= min_iou < 1:
        raise ValueError(f'jitter_gt_boxes: min_iou must be in [0, 1), got {min_iou}')
    gt_bboxes = gt_bboxes.float()
    cand = _jitter(gt_bboxes, candidates_per_gt, max_offset, generator)
    height, width = img_shape[:2]
    cand[:, 0::2] = cand[:, 0::2].clamp(0, width)
    cand[:, 1::2] = cand[:, 1::2].clamp(0, height)
    # The untouched ground truths are candidates too: IoU 1 must be learned exactly.
    cand = torch.cat([gt_bboxes, cand])
    source = torch.cat([torch.arange(len(gt_bboxes), device=device),
                        torch.arange(len(gt_bboxes), device=device).repeat_interleave(candidates_per_gt)])
    labels = gt_labels[source]
    overlaps = box_iou(cand, gt_bboxes)
    overlaps[labels[:, None] != gt_labels[None, :]] = 0
    ious = overlaps.max(dim=1).values
    valid = ious >= min_iou
    cand, labels, ious = cand[valid], labels[valid], ious[valid]

    bins = ((ious - min_iou) / (1 - min_iou) * num_bins).long().clamp_(0, num_bins - 1)
    chosen = []
    per_bin = num // num_bins
    for b in range(num_bins):
        members = torch.nonzero(bins == b).flatten()
        if len(members) == 0:
            continue
        picks = torch.randperm(len(members), generator=generator, device=device)[:per_bin]
        if len(picks) < per_bin:  # a thin bin is repeated rather than left under-weighted
            extra = torch.randint(len(members), (per_bin - len(picks),), generator=generator,
                                  device=device)
            picks = torch.cat([picks, extra])
        chosen.append(members[picks])
    missing = num - sum(len(c) for c in chosen)
    if missing > 0:
        chosen.append(torch.randint(len(cand), (missing,), generator=generator, device=device))
    chosen = torch.cat(chosen)
    return cand[chosen], labels[chosen], ious[chosen]
