"""The decoupled IoU branch that this project's default recipe adds to a dense head
(RetinaNet: :class:`~.DecoupledIoURetinaHead`; ATSS: :class:`~.DecoupledIoUATSSHead`):
its own convs on the detached regression tower, one IoU per (anchor, class), built and
initialized on a fork of the RNG stream, and trained on every (anchor, class)."""
import torch
from mmcv.cnn import ConvModule
from mmdet.structures.bbox import bbox_overlaps, get_box_tensor
from mmengine.model import normal_init
from torch import nn

from iou_aware.engine.separate_clip import tag_clip_group


def per_image(level_maps, channels):
    """Per-level maps [B, A * channels, H, W] -> [B, sum(H * W * A), channels], in the order
    mmdet concatenates a level's anchors (location-major, then anchor)."""
    return torch.cat([m.permute(0, 2, 3, 1).reshape(m.shape[0], -1, channels)
                      for m in level_maps], dim=1)


def build_branch(in_channels, num_convs, out_channels, conv_cfg, norm_cfg, kernel_size=3):
    """``num_convs`` 3x3 ConvModules (the towers' norm and ReLU) and the output conv, made on
    a fork of the RNG stream so the detector's own layers draw what they draw without it;
    tagged for ``SeparateClipOptimWrapper``'s ``'iou_branch'`` group."""
    with torch.random.fork_rng(devices=[]):
        convs = nn.Sequential(*[
            ConvModule(in_channels, in_channels, 3, padding=1, conv_cfg=conv_cfg,
                       norm_cfg=norm_cfg) for _ in range(num_convs)])
        out = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
    for module in (convs, out):
        tag_clip_group(module, 'iou_branch')
    return convs, out


def init_weights_apart(head, branch_names, parent_init_weights):
    """The head's own init (mmdet's init_cfg: Normal on every Conv2d, then the cls conv
    re-drawn) with the branch taken out, since drawing the branch's convs too would shift
    every later draw; the branch then gets the same Normal(0, 0.01) on a fork of the RNG."""
    branch = {name: head._modules.pop(name) for name in branch_names}
    try:
        parent_init_weights()
    finally:
        head._modules.update(branch)
    cuda = sorted({p.device.index or 0 for m in branch.values() for p in m.parameters()
                   if p.is_cuda})
    with torch.random.fork_rng(devices=cuda):
        for module in branch.values():
            for m in module.modules():
                if isinstance(m, nn.Conv2d):
                    normal_init(m, std=0.01)


def check_iou_convs(owner, iou_convs):
    if not isinstance(iou_convs, int) or isinstance(iou_convs, bool) or iou_convs < 0:
        raise ValueError(f'{owner}: iou_convs must be an int >= 0, got {iou_convs!r}')


def other_pairs_iou_loss(loss_iou, iou_logits, boxes, probs, labels, pos, batch_gt_instances,
                         avg_factor, gamma=1.0):
    """The default recipe's term for every (anchor, class) but a positive's own label:
    target = IoU of the anchor's decoded box with the best ground truth of that class (0
    where none overlaps), weight = that class's score ** ``gamma``; all detached.

    Per image, all levels: ``iou_logits`` [B, N, C], ``boxes`` (decoded, detached) [B][N, 4],
    ``probs`` [B, N, C], ``labels`` [B, N] (``C`` = background), ``pos`` [B, N] bool.
    """
    num_classes = iou_logits.shape[-1]
    classes = torch.arange(num_classes, device=labels.device)
    logits, targets, weights = [], [], []
    for i, gt in enumerate(batch_gt_instances):
        with torch.no_grad():
            gt_boxes, gt_labels = get_box_tensor(gt.bboxes), gt.labels
            if len(gt):
                overlaps = bbox_overlaps(boxes[i], gt_boxes)
                same = gt_labels[None, :] == classes[:, None]  # [C, G]
                # [N, C]: IoU with the best ground truth of each class
                target = (overlaps[:, None, :] * same[None]).amax(dim=2)
            else:
                target = boxes[i].new_zeros(len(boxes[i]), num_classes)
            sel = torch.ones_like(target, dtype=torch.bool)
            sel[pos[i]] = sel[pos[i]].scatter(1, labels[i][pos[i]][:, None], False)
            weight = probs[i].pow(gamma)
        logits.append(iou_logits[i][sel])
        targets.append(target[sel])
        weights.append(weight[sel])
    return loss_iou(torch.cat(logits), torch.cat(targets), torch.cat(weights),
                    avg_factor=avg_factor)
