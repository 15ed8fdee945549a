"""IoU-guided NMS (IoU-Net, Jiang et al. ECCV 2018, Algorithm 1)."""
import math
import numbers

import torch

from ._library import has_extension, warn_fallback

OP = 'iou_guided_nms'


def iou_guided_nms_reference(boxes, scores, ious, iou_threshold):
    """Plain-loop IoU-guided NMS: the oracle for the compiled kernel and its fallback."""
    from torchvision.ops import box_iou
    order = torch.sort(ious, descending=True, stable=True).indices.tolist()
    # Compared as tensors, so in the boxes' dtype like the kernels; then plain Python bools.
    above = (box_iou(boxes, boxes) > iou_threshold).tolist() if len(order) else None
    removed, keep, kept_scores = set(), [], []
    for a, i in enumerate(order):
        if i in removed:
            continue
        best = scores[i]
        for j in order[a + 1:]:
            if j not in removed and above[i][j]:
                removed.add(j)
                best = torch.maximum(best, scores[j])
        keep.append(i)
        kept_scores.append(best)
    keep_t = torch.tensor(keep, dtype=torch.long, device=boxes.device)
    return keep_t, (torch.stack(kept_scores) if kept_scores else scores.new_zeros(0))


def _first_non_finite(t):
    """'index i: [values]' for the first row of ``t`` with a NaN or an infinity, or None."""
    bad = ~torch.isfinite(t)
    if t.dim() > 1:
        bad = bad.flatten(1).any(1)
    if not bool(bad.any()):
        return None
    i = int(bad.nonzero()[0, 0])
    return f'index {i}: {t[i].reshape(-1).double().tolist()}'


_INTS = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


def _check(boxes, scores, ious, iou_threshold, idxs=None):
    """The checks the C++ launchers make too (csrc/iou_nms/iou_nms_host.h), same wording."""
    if isinstance(iou_threshold, bool) or not isinstance(iou_threshold, numbers.Real):
        raise TypeError(f'{OP}: iou_threshold must be a number, got {type(iou_threshold).__name__}')
    if not (math.isfinite(iou_threshold) and 0 <= iou_threshold <= 1):
        raise ValueError(f'{OP}: iou_threshold must be a finite number in [0, 1], got {iou_threshold}')
    if not torch.is_tensor(boxes) or boxes.dim() != 2 or boxes.shape[1] != 4:
        got = f'shape {tuple(boxes.shape)}' if torch.is_tensor(boxes) else type(boxes).__name__
        raise ValueError(f'{OP}: boxes must be Tensor[N, 4] (x1, y1, x2, y2), got {got}')
    n = boxes.shape[0]
    named = [('scores', scores), ('ious', ious)] + ([('idxs', idxs)] if idxs is not None else [])
    for name, t in named:
        if not torch.is_tensor(t) or t.shape != (n,):
            got = f'shape {tuple(t.shape)}' if torch.is_tensor(t) else type(t).__name__
            raise ValueError(f'{OP}: {name} must be Tensor[{n}] (one per box), got {got}')
        if t.device != boxes.device:
            raise ValueError(f'{OP}: {name} must be on the device of boxes ({boxes.device}), got {t.device}')
    for name, t in (('boxes', boxes), ('scores', scores), ('ious', ious)):
        if not t.is_floating_point():
            raise TypeError(f'{OP}: {name} must be a floating-point tensor, got {t.dtype}')
    if idxs is not None and idxs.dtype not in _INTS:
        raise TypeError(f'{OP}: idxs must be an integer tensor (category per box), got {idxs.dtype}')
    if not has_extension():  # (else the kernels check it, in one pass, same wording)
        _check_finite(boxes, scores, ious)


def _check_finite(boxes, scores, ious):
    # A NaN would make the ranking and the overlap tests order-dependent: refuse it.
    for name, t in (('boxes', boxes), ('scores', scores), ('ious', ious)):
        where = _first_non_finite(t)
        if where:
            raise ValueError(f'{OP}: {name} must be finite, got NaN or inf at {where}')


def _prepare(boxes, scores, ious, iou_threshold, idxs=None):
    _check(boxes, scores, ious, iou_threshold, idxs)
    # The kernels take one dtype, float32 or float64: the promoted one, at least float32.
    dtype = torch.promote_types(torch.promote_types(boxes.dtype, scores.dtype), ious.dtype)
    dtype = torch.promote_types(dtype, torch.float32)
    idxs = None if idxs is None else idxs.to(torch.long)
    return boxes.to(dtype), scores.to(dtype), ious.to(dtype), float(iou_threshold), idxs


def _run(boxes, scores, ious, iou_threshold, idxs):
    device = boxes.device
    if device.type != 'cpu' and not torch._C._dispatch_has_kernel_for_dispatch_key(
            'iou_aware::iou_guided_nms', device.type.upper()):
        # An extension built without this device's kernel (e.g. CPU-only on a GPU machine):
        # run the CPU kernel, one copy each way.
        keep, kept = torch.ops.iou_aware.iou_guided_nms(
            boxes.cpu(), scores.cpu(), ious.cpu(), iou_threshold,
            None if idxs is None else idxs.cpu())
        return keep.to(device), kept.to(device)
    return torch.ops.iou_aware.iou_guided_nms(boxes, scores, ious, iou_threshold, idxs)


def iou_guided_nms(boxes, scores, ious, iou_threshold):
    """IoU-guided NMS.

    Repeatedly takes the remaining box with the highest predicted IoU, removes every
    remaining box that overlaps it by strictly more than ``iou_threshold``, and gives the
    kept box the highest classification score of the cluster it removed (itself included).
    Ties in predicted IoU are broken by the lower index. Boxes with no area (x2 <= x1 or
    y2 <= y1) overlap nothing: they are kept with their own score.

    Args:
        boxes (Tensor[N, 4]): (x1, y1, x2, y2), finite.
        scores (Tensor[N]): classification scores, finite.
        ious (Tensor[N]): predicted IoUs (the ranking key), finite.
        iou_threshold (float): overlap above which a box joins the cluster, in [0, 1].

    The three tensors are computed in their promoted dtype, at least float32.

    Returns:
        (Tensor[K] long, Tensor[K]): indices of the kept boxes in the order they were kept,
        and their updated scores.

    Raises:
        TypeError, ValueError: naming the bad argument; a NaN or an infinity in boxes,
        scores or ious is an error that gives the index of the first one (no NaN silently
        ranked or compared).
    """
    boxes, scores, ious, thr, _ = _prepare(boxes, scores, ious, iou_threshold)
    if not has_extension():
        warn_fallback(OP)
        return iou_guided_nms_reference(boxes, scores, ious, thr)
    return _run(boxes, scores, ious, thr, None)


def batched_iou_guided_nms(boxes, scores, ious, idxs, iou_threshold):
    """IoU-guided NMS per category: boxes of different ``idxs`` never suppress each other.

    ``idxs`` (Tensor[N], integer dtype) is each box's category. Same outputs and checks as
    :func:`iou_guided_nms` (indices into the input, in the order kept, i.e. by predicted
    IoU across categories). The kernels compare categories directly, so results equal
    per-category NMS exactly (no coordinate-offset trick, which rounds coordinates).
    """
    boxes, scores, ious, thr, idxs = _prepare(boxes, scores, ious, iou_threshold, idxs)
    if not has_extension():
        warn_fallback(OP)
        return _batched_reference(boxes, scores, ious, idxs, thr)
    return _run(boxes, scores, ious, thr, idxs)


def _batched_reference(boxes, scores, ious, idxs, iou_threshold):
    """Per-category reference runs, merged in the order greedy keeps them (ranking order)."""
    keep, kept = [], []
    for c in torch.unique(idxs).tolist():
        members = (idxs == c).nonzero().squeeze(1)
        k, s = iou_guided_nms_reference(boxes[members], scores[members], ious[members], iou_threshold)
        keep.append(members[k])
        kept.append(s)
    if not keep:
        return boxes.new_zeros(0, dtype=torch.long), scores.new_zeros(0)
    keep, kept = torch.cat(keep), torch.cat(kept)
    first = torch.sort(keep).indices  # ascending index, then stable by decreasing IoU
    order = first[torch.sort(ious[keep[first]], descending=True, stable=True).indices]
    return keep[order], kept[order]


if has_extension():
    def _iou_guided_nms_fake(boxes, scores, ious, iou_threshold, idxs=None, chunk_words=0):
        k = torch.library.get_ctx().new_dynamic_size()
        return boxes.new_empty((k,), dtype=torch.long), scores.new_empty((k,))

    for _name in ('iou_guided_nms', '_iou_guided_nms_greedy', '_iou_guided_nms_masked'):
        torch.library.register_fake(f'iou_aware::{_name}', _iou_guided_nms_fake)
