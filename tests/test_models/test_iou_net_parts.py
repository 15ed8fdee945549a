"""IoU-Net's parts on their own: jittered-GT sampler, box refinement, IoU head loss."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope
from torchvision.ops import box_iou

import iou_aware  # noqa: F401
from iou_aware.models import IoUHead, jitter_gt_boxes, refine_boxes

init_default_scope('mmdet')


def two_objects():
    boxes = torch.tensor([[10., 20., 70., 50.], [40., 30., 100., 110.]])
    return boxes, torch.tensor([1, 3])


def test_jittered_boxes_have_iou_at_least_min_and_targets_are_true_ious():
    gts, labels = two_objects()
    g = torch.Generator().manual_seed(0)
    boxes, out_labels, ious = jitter_gt_boxes(gts, labels, (128, 128), num=200, generator=g)
    assert boxes.shape == (200, 4) and out_labels.shape == ious.shape == (200,)
    assert (ious >= 0.5).all() and (ious <= 1 + 1e-6).all()
    # Independent recomputation: IoU with the best ground truth of the box's own class.
    overlaps = box_iou(boxes, gts)
    overlaps[out_labels[:, None] != labels[None, :]] = 0
    torch.testing.assert_close(ious, overlaps.max(1).values)
    assert (boxes[:, 0::2] >= 0).all() and (boxes[:, 0::2] <= 128).all()
    assert (boxes[:, 1::2] >= 0).all() and (boxes[:, 1::2] <= 128).all()


def test_jittered_boxes_cover_every_iou_bin_evenly():
    gts, labels = two_objects()
    _, _, ious = jitter_gt_boxes(gts, labels, (128, 128), num=500, num_bins=5,
                                 generator=torch.Generator().manual_seed(1))
    counts = torch.histc(ious.clamp(max=0.9999), bins=5, min=0.5, max=1.0)
    assert (counts == 100).all(), counts  # num // num_bins per bin when every bin has candidates


def test_jittered_boxes_without_ground_truth_are_empty():
    boxes, labels, ious = jitter_gt_boxes(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long),
                                          (64, 64), num=16)
    assert boxes.shape == (0, 4) and labels.numel() == 0 and ious.numel() == 0


def test_jittered_boxes_are_reproducible_with_a_generator():
    gts, labels = two_objects()
    a = jitter_gt_boxes(gts, labels, (128, 128), 64, generator=torch.Generator().manual_seed(5))
    b = jitter_gt_boxes(gts, labels, (128, 128), 64, generator=torch.Generator().manual_seed(5))
    for x, y in zip(a, b):
        assert torch.equal(x, y)


def soft_iou(boxes, target):
    """Differentiable IoU of each box with one target box (toy score for refinement)."""
    lt = torch.maximum(boxes[:, :2], target[:2])
    rb = torch.minimum(boxes[:, 2:], target[2:])
    inter = (rb - lt).clamp(min=0).prod(1)
    area = (boxes[:, 2:] - boxes[:, :2]).prod(1)
    return inter / (area + (target[2:] - target[:2]).prod() - inter)


def test_refinement_raises_the_score_on_a_differentiable_toy():
    target = torch.tensor([20., 20., 60., 80.])
    g = torch.Generator().manual_seed(0)
    start = target + (torch.rand(32, 4, generator=g) - 0.5) * 16
    before = soft_iou(start, target)
    boxes, scores, moved = refine_boxes(start, lambda b, idx: soft_iou(b, target), steps=5,
                                        step_size=0.5)
    torch.testing.assert_close(scores, soft_iou(boxes, target))
    assert (scores >= before - 5 * 0.01).all()  # at most T tolerated drops of |omega2|
    assert scores.mean() > before.mean() + 0.05
    assert (moved > 0).float().mean() > 0.9


def test_refinement_step_is_gradient_scaled_by_width_and_height():
    a = torch.tensor([0.3, -0.2, 0.1, 0.4])
    boxes = torch.tensor([[0., 0., 10., 20.], [5., 5., 45., 15.]])
    refined, _, moved = refine_boxes(boxes, lambda b, idx: (b * a).sum(1), steps=1,
                                     step_size=0.5, omega1=0.0)
    wh = torch.tensor([[10., 20., 10., 20.], [40., 10., 40., 10.]])
    torch.testing.assert_close(refined, boxes + 0.5 * a * wh)
    assert moved.tolist() == [1, 1]


def test_refinement_never_moves_a_frozen_box_and_undoes_a_drop():
    target = torch.tensor([20., 20., 60., 80.])
    boxes = torch.stack([target + 3, target - 2])
    seen = []

    def score_fn(b, idx):
        seen.append(idx.tolist())
        s = soft_iou(b, target)
        # Box 1's score drops sharply as soon as it moves: it must be put back and frozen.
        moved = (b - boxes[idx]).abs().sum(1) > 0
        return torch.where((idx == 1) & moved, s - 0.5, s)

    refined, scores, moved = refine_boxes(boxes, score_fn, steps=5, step_size=0.5)
    assert torch.equal(refined[1], boxes[1]) and moved[1] == 0
    assert all(1 not in s for s in seen[2:])  # frozen after its first (undone) step
    assert moved[0] >= 1 and not torch.equal(refined[0], boxes[0])


def test_refinement_validates_omega2_and_handles_no_boxes():
    with pytest.raises(ValueError, match='omega2'):
        refine_boxes(torch.zeros(1, 4), lambda b, i: b.sum(1), omega2=0.1)
    boxes, scores, moved = refine_boxes(torch.zeros(0, 4), lambda b, i: b.sum(1))
    assert boxes.shape == (0, 4) and scores.numel() == 0 and moved.numel() == 0


def test_iou_head_loss_is_bce_on_the_logit_of_each_box_class():
    torch.manual_seed(0)
    head = IoUHead(num_classes=3, in_channels=4, roi_feat_size=2, fc_out_channels=8)
    logits = head(torch.randn(5, 4, 2, 2))
    assert logits.shape == (5, 3)
    labels = torch.tensor([0, 2, 1, 1, 0])
    targets = torch.tensor([0.5, 0.9, 0.75, 1.0, 0.6])
    loss = head.loss(logits, labels, targets)['loss_iou']
    expected = F.binary_cross_entropy_with_logits(logits[torch.arange(5), labels], targets)
    torch.testing.assert_close(loss, expected)
    empty = head.loss(logits[:0], labels[:0], targets[:0])['loss_iou']
    assert empty.item() == 0


def _box_head_outputs(num_rois=80, num_classes=4, seed=0):
    from mmdet.registry import MODELS
    g = torch.Generator().manual_seed(seed)
    head = MODELS.build(dict(
        type='Shared2FCBBoxHead', in_channels=8, fc_out_channels=16, roi_feat_size=7,
        num_classes=num_classes, reg_class_agnostic=False,
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.] * 4,
                        target_stds=[0.1, 0.1, 0.2, 0.2])))
    xy = torch.rand(num_rois, 2, generator=g) * 90
    wh = 8 + torch.rand(num_rois, 2, generator=g) * 50
    img = (torch.arange(num_rois) % 2).float()[:, None]
    rois = torch.cat([img, xy, xy + wh], 1)
    results = dict(rois=rois, cls_score=torch.randn(num_rois, num_classes + 1, generator=g) * 2,
                   bbox_pred=0.3 * torch.randn(num_rois, num_classes * 4, generator=g))
    return head, results


def _samples_with(gts):
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData
    samples = []
    for boxes, labels in gts:
        s = DetDataSample(metainfo=dict(img_shape=(100, 120)))
        s.gt_instances = InstanceData(bboxes=torch.tensor(boxes, dtype=torch.float32),
                                      labels=torch.tensor(labels))
        samples.append(s)
    return samples


def test_own_boxes_are_the_test_time_candidates_with_same_class_iou_targets():
    """Every (RoI, class) scoring >= score_thr becomes its class's decoded box, clipped to
    the image; its target is the IoU with the best ground truth of that class (torchvision's
    box_iou), 0 where the image has none of that class."""
    from iou_aware.models.roi_heads.own_boxes import own_iou_training_boxes
    head, res = _box_head_outputs()
    samples = _samples_with([([[10, 10, 60, 50], [50, 40, 110, 95]], [1, 2]),
                             ([[0, 0, 40, 40]], [0])])
    boxes, labels, targets, imgs = own_iou_training_boxes(head, res, samples, num_per_img=10**6,
                                                          score_thr=0.1)
    probs = F.softmax(res['cls_score'], -1)[:, :4]
    expected = []
    for r in range(len(res['rois'])):
        for c in range(4):
            if probs[r, c] < 0.1:
                continue
            i = int(res['rois'][r, 0])
            box = head.bbox_coder.decode(res['rois'][r:r + 1, 1:],
                                         res['bbox_pred'][r:r + 1, 4 * c:4 * c + 4])[0]
            box = torch.stack([box[0].clamp(0, 120), box[1].clamp(0, 100),
                               box[2].clamp(0, 120), box[3].clamp(0, 100)])
            gt = samples[i].gt_instances
            same = gt.bboxes[gt.labels == c]
            target = box_iou(box[None], same).max() if len(same) else torch.tensor(0.)
            expected.append((i, c, *box.tolist(), float(target)))
    got = [(int(i), int(c), *b.tolist(), float(t))
           for i, c, b, t in zip(imgs, labels, boxes, targets)]
    assert len(got) == len(expected) > 20
    assert any(t == 0 for *_, t in expected) and any(t > 0.2 for *_, t in expected)
    for a, b in zip(sorted(got), sorted(expected)):
        assert a[:2] == b[:2]
        torch.testing.assert_close(torch.tensor(a[2:]), torch.tensor(b[2:]), atol=1e-4, rtol=0)


def test_own_boxes_are_capped_per_image():
    from iou_aware.models.roi_heads.own_boxes import own_iou_training_boxes
    head, res = _box_head_outputs()
    samples = _samples_with([([[10, 10, 60, 50]], [1]), ([[0, 0, 40, 40]], [0])])
    _, _, _, imgs = own_iou_training_boxes(head, res, samples, num_per_img=5, score_thr=0.0)
    assert torch.bincount(imgs).tolist() == [5, 5]
