"""What NMS knew about each kept box: the cluster it merged and its kept neighbours.

MetaDetect (Schubert et al. 2020) regresses a detection's IoU from such statistics for any
detector. Here they are one input of the box-quality head (the other is the image inside the
box). Every feature is a plain function of the candidates before NMS and the kept boxes, so
it costs one IoU matrix per image and works for any detector whose candidates and NMS are
known (dense or two-stage).
"""
import torch
from torchvision.ops import box_iou

# One name per column of ``cluster_evidence``'s output, in order.
EVIDENCE_FEATURES = (
    'score',                 # the detector's score of the kept box
    'log_members',           # log(1 + candidates merged into it, itself excluded)
    'log_mass',              # log(sum of merged scores / own score)
    'second_score',          # best merged score / own score (0: nothing merged)
    'member_iou',            # score-weighted mean IoU of the merged boxes with it
    'spread_x1', 'spread_y1', 'spread_x2', 'spread_y2',  # score-weighted sd of each edge
                             # over the cluster (itself included), over its width/height
    'dup_same_class',        # largest IoU with a higher-scored kept box of its class
    'dup_other_class',       # ... of another class
    'max_kept_iou',          # largest IoU with any other kept box
    'log_width', 'log_height',  # box size relative to the image
    'gap_left', 'gap_top', 'gap_right', 'gap_bottom',  # distance to each image border
                             # over the image's width/height, clipped to [0, 1]
    'pred_iou',              # the detector's own predicted IoU (0 if it has none)
    'has_pred_iou',          # 1 if it has one
)


def cluster_evidence(kept, cand_boxes, cand_scores, cand_labels, iou_threshold, img_shape,
                     cand_pred_ious=None):
    """Evidence features of the kept boxes (see ``EVIDENCE_FEATURES``).

    Args:
        kept (Tensor[K] long): indices of the kept boxes among the candidates, in the order
            the detector output them.
        cand_boxes (Tensor[N, 4]), cand_scores (Tensor[N]), cand_labels (Tensor[N]): every
            candidate that entered NMS (x1, y1, x2, y2).
        iou_threshold (float): NMS's threshold; a candidate of the kept box's class that
            overlaps it by more belongs to its cluster.
        img_shape (tuple): (height, width) of the image the boxes live in.
        cand_pred_ious (Tensor[N], optional): the detector's predicted IoUs.

    Returns:
        Tensor[K, len(EVIDENCE_FEATURES)], float32.
    """
    k = len(kept)
    out = cand_boxes.new_zeros(k, len(EVIDENCE_FEATURES), dtype=torch.float32)
    if k == 0:
        return out
    boxes = cand_boxes.float()
    scores = cand_scores.float()
    kb, ks, kl = boxes[kept], scores[kept], cand_labels[kept]
    rows = torch.arange(k, device=kept.device)
    overlap = box_iou(kb, boxes)                                      # [K, N]
    member = (overlap > iou_threshold) & (kl[:, None] == cand_labels[None, :])
    member[rows, kept] = True                                         # a box is in its cluster
    # The clusters are small: work on the (kept, member) pairs, not on the K x N matrix.
    ki, cj = member.nonzero(as_tuple=True)
    w = scores[cj]
    other = cj != kept[ki]
    count = torch.zeros(k, device=kb.device).index_add_(0, ki, other.float())
    mass = torch.zeros(k, device=kb.device).index_add_(0, ki, w)
    w_oth = w * other
    best = torch.zeros(k, device=kb.device).scatter_reduce_(0, ki, w_oth, 'amax')
    oth_mass = torch.zeros(k, device=kb.device).index_add_(0, ki, w_oth)
    oth_iou = torch.zeros(k, device=kb.device).index_add_(0, ki, w_oth * overlap[ki, cj])
    own = ks.clamp_min(1e-12)
    out[:, 0] = ks
    out[:, 1] = torch.log1p(count)
    out[:, 2] = torch.log(mass / own)
    out[:, 3] = best / own
    out[:, 4] = oth_iou / oth_mass.clamp_min(1e-12)
    wn = (w / mass[ki].clamp_min(1e-12))[:, None]
    mean = torch.zeros(k, 4, device=kb.device).index_add_(0, ki, wn * boxes[cj])
    # centred (not E[x^2] - E[x]^2, which cancels catastrophically in float32)
    var = torch.zeros(k, 4, device=kb.device).index_add_(0, ki, wn * (boxes[cj] - mean[ki]).square())
    size = (kb[:, 2:] - kb[:, :2]).clamp_min(1e-6).repeat(1, 2)
    out[:, 5:9] = var.sqrt() / size
    # Kept neighbours: "higher" is earlier in score order (ties: earlier in the output).
    kk = box_iou(kb, kb)
    order = torch.arange(k, device=kept.device)
    higher = (ks[None, :] > ks[:, None]) | ((ks[None, :] == ks[:, None]) & (order[None] < order[:, None]))
    same = kl[:, None] == kl[None, :]
    zero = kk.new_zeros(())
    out[:, 9] = torch.where(higher & same, kk, zero).max(1).values
    out[:, 10] = torch.where(higher & ~same, kk, zero).max(1).values
    out[:, 11] = kk.fill_diagonal_(0).max(1).values
    height, width = float(img_shape[0]), float(img_shape[1])
    out[:, 12] = torch.log(size[:, 0] / width)
    out[:, 13] = torch.log(size[:, 1] / height)
    gaps = torch.stack([kb[:, 0] / width, kb[:, 1] / height, (width - kb[:, 2]) / width,
                        (height - kb[:, 3]) / height], 1)
    out[:, 14:18] = gaps.clamp(0, 1)
    if cand_pred_ious is not None:
        out[:, 18] = cand_pred_ious.float()[kept]
        out[:, 19] = 1.0
    return out
