"""IoU-guided NMS (IoU-Net, Jiang et al. ECCV 2018, Algorithm 1)."""
import torch

from ._library import has_extension, warn_fallback

OP = 'iou_guided_nms'


def iou_guided_nms_reference(boxes, scores, ious, iou_threshold):
    """Plain-loop IoU-guided NMS: the oracle for the compiled kernel and its fallback."""
    from torchvision.ops import box_iou
    order = torch.sort(ious, descending=True, stable=True).indices.tolist()
    overlaps = box_iou(boxes, boxes) if len(order) else None
    removed, keep, kept_scores = set(), [], []
    for a, i in enumerate(order):
        if i in removed:
            continue
        best = scores[i]
        for j in order[a + 1:]:
            if j not in removed and overlaps[i, j] > iou_threshold:
                removed.add(j)
                best = torch.maximum(best, scores[j])
        keep.append(i)
        kept_scores.append(best)
    keep_t = torch.tensor(keep, dtype=torch.long, device=boxes.device)
    return keep_t, (torch.stack(kept_scores) if kept_scores else scores.new_zeros(0))


def _check(boxes, scores, ious, idxs=None):
    n = boxes.shape[0] if boxes.dim() == 2 else -1
    if boxes.dim() != 2 or boxes.shape[1] != 4:
        raise ValueError(f'{OP}: boxes must be Tensor[N, 4] (x1, y1, x2, y2), got shape {tuple(boxes.shape)}')
    for name, t in (('scores', scores), ('ious', ious)) + ((('idxs', idxs),) if idxs is not None else ()):
        if t.shape != (n,):
            raise ValueError(f'{OP}: {name} must be Tensor[{n}] (one per box), got shape {tuple(t.shape)}')
        if t.device != boxes.device:
            raise ValueError(f'{OP}: {name} must be on the device of boxes ({boxes.device}), got {t.device}')
    if not boxes.is_floating_point():
        raise TypeError(f'{OP}: boxes must be floating point, got {boxes.dtype}')


def iou_guided_nms(boxes, scores, ious, iou_threshold):
    """IoU-guided NMS.

    Repeatedly takes the remaining box with the highest predicted IoU, removes every
    remaining box that overlaps it by strictly more than ``iou_threshold``, and gives the
    kept box the highest classification score of the cluster it removed (itself included).
    Ties in predicted IoU are broken by the lower index.

    Args:
        boxes (Tensor[N, 4]): (x1, y1, x2, y2).
        scores (Tensor[N]): classification scores.
        ious (Tensor[N]): predicted IoUs (the ranking key).
        iou_threshold (float): overlap above which a box joins the cluster.

    Returns:
        (Tensor[K] long, Tensor[K]): indices of the kept boxes in the order they were kept,
        and their updated scores.
    """
    _check(boxes, scores, ious)
    dtype = torch.promote_types(boxes.dtype, torch.promote_types(scores.dtype, ious.dtype))
    boxes, scores, ious = boxes.to(dtype), scores.to(dtype), ious.to(dtype)
    if not has_extension():
        warn_fallback(OP)
        return iou_guided_nms_reference(boxes, scores, ious, iou_threshold)
    device = boxes.device
    if device.type != 'cpu' and not torch._C._dispatch_has_kernel_for_dispatch_key(
            'iou_aware::iou_guided_nms', device.type.upper()):
        # An extension built without this device's kernel (e.g. CPU-only on a GPU machine):
        # run the CPU kernel, one copy each way.
        keep, kept = torch.ops.iou_aware.iou_guided_nms(boxes.cpu(), scores.cpu(), ious.cpu(),
                                                        float(iou_threshold))
        return keep.to(device), kept.to(device)
    return torch.ops.iou_aware.iou_guided_nms(boxes, scores, ious, float(iou_threshold))


def batched_iou_guided_nms(boxes, scores, ious, idxs, iou_threshold):
    """IoU-guided NMS per category: boxes of different ``idxs`` never suppress each other.

    Same outputs as :func:`iou_guided_nms` (indices into the input, in the order kept).
    """
    _check(boxes, scores, ious, idxs)
    if boxes.numel() == 0:
        return boxes.new_zeros(0, dtype=torch.long), scores.new_zeros(0)
    # torchvision's trick: shift each category by more than the span of all boxes, so boxes
    # of different categories cannot overlap.
    offsets = idxs.to(boxes) * (boxes.max() - boxes.min() + 1)
    return iou_guided_nms(boxes + offsets[:, None], scores, ious, iou_threshold)


if has_extension():
    def _iou_guided_nms_fake(boxes, scores, ious, iou_threshold):
        k = torch.library.get_ctx().new_dynamic_size()
        return boxes.new_empty((k,), dtype=torch.long), scores.new_empty((k,))

    for _name in ('iou_guided_nms', '_iou_guided_nms_masked'):
        torch.library.register_fake(f'iou_aware::{_name}', _iou_guided_nms_fake)
