"""Training boxes for IoU-Net's IoU head taken from the detector's own outputs.

IoU-Net trains its IoU head on jittered ground truths only, all at IoU >= 0.5 with their
object, while at test time the head scores every (box, class) the box head emits: parts of
objects, boxes spanning two neighbours, right boxes with the wrong class, background. Here
the same step's box-head outputs are turned into training boxes the way inference turns
them into candidates.
"""
import torch
import torch.nn.functional as F
from mmdet.structures.bbox import bbox_overlaps, get_box_tensor


def own_iou_training_boxes(bbox_head, bbox_results, batch_data_samples, num_per_img=64,
                           score_thr=0.05):
    """(boxes, labels, IoU targets, image indices) from the box head's outputs on this
    step's sampled RoIs.

    Every (RoI, foreground class) whose classification score reaches ``score_thr`` (the
    test-time candidate rule) gives the RoI's decoded box for that class, clipped to the
    image; ``num_per_img`` are drawn per image at random (global torch generator), all if
    fewer. The target is the box's IoU with the best ground truth *of that class*, which is
    what a detection of that class is judged by: a wrong-class box gets its (low) IoU with
    objects of its class, a background box 0. Everything is detached: the IoU loss does not
    train the box head through these boxes.
    """
    rois = bbox_results['rois'].detach()
    num_classes = bbox_head.num_classes
    scores = F.softmax(bbox_results['cls_score'].detach(), dim=-1)[:, :num_classes]
    roi_idx, labels = torch.nonzero(scores >= score_thr, as_tuple=True)
    deltas = bbox_results['bbox_pred'].detach()
    if not bbox_head.reg_class_agnostic:
        deltas = deltas.view(len(rois), num_classes, -1)[roi_idx, labels]
    else:
        deltas = deltas[roi_idx]
    boxes = get_box_tensor(bbox_head.bbox_coder.decode(rois[roi_idx, 1:], deltas))
    img_inds = rois[roi_idx, 0].long()
    out = ([], [], [], [])
    for i, sample in enumerate(batch_data_samples):
        sel = torch.nonzero(img_inds == i).squeeze(1)
        if len(sel) > num_per_img:
            sel = sel[torch.randperm(len(sel), device=sel.device)[:num_per_img]]
        h, w = sample.metainfo['img_shape'][:2]
        b = boxes[sel].clone()
        b[:, 0::2] = b[:, 0::2].clamp(0, w)
        b[:, 1::2] = b[:, 1::2].clamp(0, h)
        lab = labels[sel]
        gt = sample.gt_instances
        target = b.new_zeros(len(b))
        if len(gt) and len(b):
            overlaps = bbox_overlaps(b, get_box_tensor(gt.bboxes).to(b.dtype))
            overlaps = overlaps.masked_fill(lab[:, None] != gt.labels[None, :], 0)
            target = overlaps.max(dim=1).values
        for part, values in zip(out, (b, lab, target, torch.full_like(lab, i))):
            part.append(values)
    return tuple(torch.cat(p) for p in out)
