"""IoU-Net's optimization-based box refinement (Jiang et al. 2018, Algorithm 2)."""
import torch


def _score_and_grad(score_fn, boxes, idx, need_grad=True):
    if not need_grad:
        with torch.no_grad():
            return score_fn(boxes, idx), None
    with torch.enable_grad():
        boxes = boxes.detach().requires_grad_(True)
        scores = score_fn(boxes, idx)
        # Each box's score depends on its own coordinates only, so one backward of the sum
        # gives every box its own gradient: the whole batch costs one backward per step.
        (grad,) = torch.autograd.grad(scores.sum(), boxes)
    return scores.detach(), grad


def refine_boxes(boxes, score_fn, steps=5, step_size=0.5, omega1=0.001, omega2=-0.01,
                 clamp_fn=None):
    """Gradient ascent of a differentiable box score (IoU-Net: the predicted IoU).

    Each step moves every still-active box by ``step_size * grad``, with the x gradients
    scaled by the box's width and the y gradients by its height (the paper's scale-invariant
    update). A box is frozen once its score changes by less than ``omega1`` or falls by
    more than ``|omega2|``. Where the paper keeps a step that lowered the score before
    freezing, we undo that step: the refined box should never be predicted worse than the
    one we started from.

    Args:
        boxes (Tensor[N, 4]): (x1, y1, x2, y2).
        score_fn (callable): ``score_fn(boxes, idx)`` -> Tensor[len(idx)], differentiable in
            ``boxes``; ``idx`` (Tensor long) says which of the N boxes are passed, for scores
            that depend on per-box context such as the image and the class.
        steps (int): T, the most gradient steps.
        step_size (float): lambda.
        omega1 (float): freeze when ``|new - old| < omega1``.
        omega2 (float, <= 0): freeze (and undo) when ``new - old < omega2``.
        clamp_fn (callable, optional): ``clamp_fn(boxes, idx)`` -> boxes, e.g. clip to the image.

    Returns:
        (Tensor[N, 4], Tensor[N], Tensor[N] long): refined boxes, their scores, and how many
        steps each box took.
    """
    if omega2 > 0:
        raise ValueError(f'refine_boxes: omega2 must be <= 0 (a tolerated drop), got {omega2}')
    boxes = boxes.detach().clone()
    moved = torch.zeros(len(boxes), dtype=torch.long, device=boxes.device)
    all_idx = torch.arange(len(boxes), device=boxes.device)
    if len(boxes) == 0:
        return boxes, boxes.new_zeros(0), moved
    scores, grad = _score_and_grad(score_fn, boxes, all_idx)
    active = torch.ones(len(boxes), dtype=torch.bool, device=boxes.device)
    for step in range(steps):
        if not active.any():
            break
        idx = torch.nonzero(active).flatten()
        cur = boxes[idx]
        wh = (cur[:, 2:] - cur[:, :2]).repeat(1, 2)
        new = cur + step_size * grad[idx] * wh
        if clamp_fn is not None:
            new = clamp_fn(new, idx)
        # Keep boxes proper (x2 > x1, y2 > y1) so the score stays defined.
        new[:, 2:] = torch.maximum(new[:, 2:], new[:, :2] + 1e-2)
        # The last step's new position is only scored: no step follows that would use its
        # gradient.
        last = step == steps - 1
        new_scores, new_grad = _score_and_grad(score_fn, new, idx, need_grad=not last)
        delta = new_scores - scores[idx]
        dropped = delta < omega2
        accept = idx[~dropped]
        boxes[accept] = new[~dropped]
        scores[accept] = new_scores[~dropped]
        if not last:
            grad[accept] = new_grad[~dropped]
        moved[accept] += 1
        active[idx[dropped | (delta.abs() < omega1)]] = False
    return boxes, scores, moved

