"""Inputs and independent oracles shared by the IoU-guided NMS tests."""
import torch

from iou_aware.ops import iou_guided_nms_reference


def greedy(boxes, scores, ious, iou_threshold, idxs=None):
    """The plain O(N^2) greedy kernel (the op before the sweep): the compiled oracle."""
    return torch.ops.iou_aware._iou_guided_nms_greedy(boxes, scores, ious, float(iou_threshold), idxs)


def masked(boxes, scores, ious, iou_threshold, idxs=None, chunk_words=0):
    """The CUDA op's mask algorithm (on the tensors' device); chunk_words > 0 forces chunks."""
    return torch.ops.iou_aware._iou_guided_nms_masked(boxes, scores, ious, float(iou_threshold),
                                                      idxs, chunk_words)


def batched_reference(boxes, scores, ious, idxs, iou_threshold):
    """Per-category reference runs, merged in the order greedy keeps boxes: by decreasing
    predicted IoU, then lower index (written apart from the library's fallback on purpose)."""
    kept = {}
    for c in set(idxs.tolist()):
        members = [k for k, v in enumerate(idxs.tolist()) if v == c]
        m = torch.tensor(members, dtype=torch.long)
        keep, scores_c = iou_guided_nms_reference(boxes[m], scores[m], ious[m], iou_threshold)
        kept.update((members[k], s) for k, s in zip(keep.tolist(), scores_c))
    order = sorted(kept, key=lambda i: (-ious[i].item(), i))
    if not order:
        return torch.zeros(0, dtype=torch.long), scores.new_zeros(0)
    return torch.tensor(order, dtype=torch.long), torch.stack([kept[i] for i in order])


def clustered_boxes(n, generator, dtype=torch.float64, clusters=6, spread=6.0, canvas=100.0):
    """Boxes jittered around a few centres, so clusters and suppression chains occur."""
    centres = torch.rand(clusters, 2, generator=generator, dtype=dtype) * canvas
    which = torch.randint(0, clusters, (n,), generator=generator)
    xy = centres[which] + torch.randn(n, 2, generator=generator, dtype=dtype) * spread
    wh = 10 + torch.rand(n, 2, generator=generator, dtype=dtype) * 30
    return torch.cat([xy - wh / 2, xy + wh / 2], dim=1)


def sparse_boxes(n, generator, dtype=torch.float64, canvas=5000.0, size=20.0):
    """About `size` px boxes over a canvas: most survive, a few pairs overlap."""
    xy = torch.rand(n, 2, generator=generator, dtype=dtype) * canvas
    wh = size * (0.5 + torch.rand(n, 2, generator=generator, dtype=dtype))
    return torch.cat([xy, xy + wh], dim=1)


def mixed_boxes(n, generator, dtype=torch.float64):
    """Sizes over four orders of magnitude (several width classes), some with no area."""
    xy = (torch.rand(n, 2, generator=generator, dtype=dtype) - 0.2) * 2000
    wh = torch.exp(torch.rand(n, 2, generator=generator, dtype=dtype) * 9) - 1  # 0 .. 8000
    boxes = torch.cat([xy, xy + wh], dim=1)
    boxes[::11] = boxes[::11][:, [2, 3, 0, 1]]  # reversed
    return boxes


def grid_boxes(n, generator, dtype=torch.float64):
    """Small integer boxes on a small grid: exact duplicates and IoUs exactly 1/2, 1/3, ..."""
    xy = torch.randint(0, 6, (n, 2), generator=generator).to(dtype)
    wh = torch.randint(1, 4, (n, 2), generator=generator).to(dtype)
    return torch.cat([xy, xy + wh], dim=1)


def detector_boxes(n, generator, dtype=torch.float64):
    """Many clusters over an image-sized canvas, like a detector's candidates."""
    return clustered_boxes(n, generator, dtype, clusters=100, spread=8.0, canvas=1200.0)


WORKLOADS = {'clustered': clustered_boxes, 'detector': detector_boxes, 'sparse': sparse_boxes,
             'mixed': mixed_boxes, 'grid': grid_boxes}


def make_case(kind, n, seed, dtype=torch.float64, ties=True, categories=0):
    """(boxes, scores, ious, idxs or None) for a workload; `ties`: IoUs on 8 levels."""
    g = torch.Generator().manual_seed(seed)
    boxes = WORKLOADS[kind](n, g, dtype)
    scores = torch.rand(n, generator=g, dtype=dtype)
    ious = torch.rand(n, generator=g, dtype=dtype)
    if ties:
        ious = torch.floor(ious * 8) / 8
    idxs = torch.randint(0, categories, (n,), generator=g) if categories else None
    return boxes, scores, ious, idxs
