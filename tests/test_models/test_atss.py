"""ATSS with an IoU branch (GFL Table 1a's IoU row) against ATSS's centerness, same detector."""
import os.path as osp

import pytest
import torch
from mmdet.testing import demo_mm_inputs
from mmengine.config import Config

import iou_aware  # noqa: F401

from .head_helpers import build, losses_of, predict_one, total

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
ATSS = osp.join(ROOT, 'configs/peers/atss_tiny-r18_fpn_shapes.py')
IOU_ATSS = osp.join(ROOT, 'configs/iou_aware_atss/iou-aware-atss_tiny-r18_fpn_shapes.py')


def test_atss_with_quality_trains_exactly_as_mmdet_atss():
    ours, ref = build(ATSS), build(ATSS, head_type='ATSSHead')
    a, b = losses_of(ours), losses_of(ref)
    assert set(a) == set(b) == {'loss_cls', 'loss_bbox', 'loss_centerness'}
    for k in a:
        assert all(torch.equal(x, y) for x, y in zip(a[k], b[k])), k


def test_iou_branch_changes_only_the_quality_target():
    iou, ref = build(IOU_ATSS), build(ATSS, head_type='ATSSHead')
    a, b = losses_of(iou), losses_of(ref)
    assert set(a) == {'loss_cls', 'loss_bbox', 'loss_iou'}
    for k in ('loss_cls', 'loss_bbox'):  # same weights, same assignment: same terms
        assert all(torch.equal(x, y) for x, y in zip(a[k], b[k])), k
    assert not all(torch.equal(x, y) for x, y in zip(a['loss_iou'], b['loss_centerness']))


@pytest.mark.parametrize('detach', [False, True])
def test_the_paper_recipe_passes_the_iou_gradient_to_regression(detach):
    model = build(IOU_ATSS, detach_iou_target=detach)
    losses = losses_of(model)
    sum(losses['loss_iou']).backward()
    reg = model.bbox_head.atss_reg.weight.grad
    assert (reg is not None and reg.abs().sum() > 0) == (not detach)
    assert model.bbox_head.atss_centerness.weight.grad.abs().sum() > 0


def test_iou_loss_equals_bce_with_the_decoded_boxes_iou():
    """One image, the loss recomputed from the head's own targets by torch's BCE."""
    from mmdet.structures.bbox import bbox_overlaps
    model = build(IOU_ATSS)
    head = model.bbox_head
    torch.manual_seed(1)
    packed = demo_mm_inputs(1, image_shapes=(3, 128, 128), num_items=[2], num_classes=6)
    data = model.data_preprocessor(packed, True)
    feats = model.extract_feat(data['inputs'])
    cls_scores, bbox_preds, iou_preds = head(feats)
    gts = [s.gt_instances for s in data['data_samples']]
    metas = [s.metainfo for s in data['data_samples']]
    losses = head.loss_by_feat(cls_scores, bbox_preds, iou_preds, gts, metas)
    anchors, valid = head.get_anchors([f.shape[-2:] for f in cls_scores], metas, device='cpu')
    (anchor_list, labels, _, targets, _, avg) = head.get_targets(anchors, valid, gts, metas)
    expected = []
    for lvl, (anc, lab, tgt) in enumerate(zip(anchor_list, labels, targets)):
        pos = (lab.reshape(-1) < head.num_classes).nonzero().squeeze(1)
        pred = bbox_preds[lvl].permute(0, 2, 3, 1).reshape(-1, 4)[pos]
        boxes = head.bbox_coder.decode(anc.reshape(-1, 4)[pos], pred)
        iou = bbox_overlaps(boxes, tgt.reshape(-1, 4)[pos], is_aligned=True).clamp(0, 1)
        logit = iou_preds[lvl].permute(0, 2, 3, 1).reshape(-1)[pos]
        expected.append(torch.nn.functional.binary_cross_entropy_with_logits(
            logit, iou, reduction='sum') / max(avg, 1.0))
    for got, want in zip(losses['loss_iou'], expected):
        torch.testing.assert_close(got, want)
    assert sum(len((l.reshape(-1) < 6).nonzero()) for l in labels) > 0


def test_empty_and_one_object_images():
    model = build(IOU_ATSS)
    losses = losses_of(model, num_items=(0, 1))
    assert torch.isfinite(total(losses))
    losses = losses_of(model, num_items=(0,))
    assert float(sum(losses['loss_iou'])) == 0 and float(sum(losses['loss_bbox'])) == 0
    assert torch.isfinite(total(losses))


@pytest.mark.parametrize('config', [ATSS, IOU_ATSS])
def test_predict_carries_quality_and_cls_scores(config):
    model = build(config)
    pred, _ = predict_one(model)
    assert len(pred) > 0
    torch.testing.assert_close(pred.scores, pred.cls_scores * pred.pred_ious)
    assert ((pred.pred_ious > 0) & (pred.pred_ious < 1)).all()


def test_r50_coco_config_is_mmdet_atss_with_the_iou_head():
    import mmdet
    ours = Config.fromfile(osp.join(ROOT, 'configs/iou_aware_atss/iou-aware-atss_r50_fpn_1x_coco.py'))
    ref = Config.fromfile(osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs', 'atss',
                                   'atss_r50_fpn_1x_coco.py'))
    head, ref_head = ours.model.bbox_head.to_dict(), ref.model.bbox_head.to_dict()
    assert head.pop('type') == 'IoUAwareATSSHead' and head.pop('detach_iou_target') is False
    ref_head.pop('type')
    assert head == ref_head
    assert ours.model.train_cfg == ref.model.train_cfg and ours.model.test_cfg == ref.model.test_cfg


# ---------------------------------------------------------------- the default (decoupled) recipe
DECOUPLED = osp.join(ROOT, 'configs/iou_aware_atss/iou-aware-atss_decoupled_tiny-r18_fpn_shapes.py')


def _detector_params(model):
    return {n: p for n, p in model.named_parameters()
            if not n.startswith(('bbox_head.iou_convs', 'bbox_head.atss_iou'))}


def test_decoupled_recipe_trains_the_detector_exactly_as_atss():
    """The paired control: same seed, same initial detector, same ATSS losses, and the
    gradients that reach the detector's parameters from all losses (the IoU term included)
    are ATSS's own, bit for bit."""
    ours, ref = build(DECOUPLED), build(ATSS, head_type='ATSSHead')
    mine = _detector_params(ours)
    theirs = dict(ref.named_parameters())
    assert set(mine) == set(theirs)
    assert all(torch.equal(mine[n], theirs[n]) for n in mine)
    a, b = losses_of(ours), losses_of(ref)
    assert set(a) == {'loss_cls', 'loss_bbox', 'loss_centerness', 'loss_iou'}
    for k in ('loss_cls', 'loss_bbox', 'loss_centerness'):
        assert all(torch.equal(x, y) for x, y in zip(a[k], b[k])), k
    total(a).backward()
    total(b).backward()
    for n in mine:
        assert torch.equal(mine[n].grad, theirs[n].grad), n
    branch = [p.grad for n, p in ours.named_parameters() if n not in mine]
    assert branch and all(g is not None and g.abs().sum() > 0 for g in branch[-2:])


def _decoupled_iou_loss_by_hand(head, cls_scores, bbox_preds, iou_preds, gts, metas):
    """The branch's loss recomputed per (anchor, class) with torchvision's box_iou and
    torch's BCE: target = IoU with the best object of the class, weight = the class's
    score, but (positive, its label): IoU with its assigned object, weight 1."""
    from torchvision.ops import box_iou
    anchors, valid = head.get_anchors([f.shape[-2:] for f in cls_scores], metas, device='cpu')
    anchor_list, labels, _, targets, _, avg = head.get_targets(anchors, valid, gts, metas)
    num_classes = head.num_classes
    total_loss = 0.
    for i, gt in enumerate(gts):
        anc = torch.cat([a[i] for a in anchor_list])
        lab = torch.cat([l[i] for l in labels])
        tgt = torch.cat([t[i] for t in targets])
        deltas = torch.cat([b[i].permute(1, 2, 0).reshape(-1, 4) for b in bbox_preds])
        logits = torch.cat([p[i].permute(1, 2, 0).reshape(-1, num_classes) for p in iou_preds])
        probs = torch.cat([c[i].permute(1, 2, 0).reshape(-1, num_classes)
                           for c in cls_scores]).sigmoid()
        boxes = head.bbox_coder.decode(anc, deltas).detach()
        target = torch.zeros(len(boxes), num_classes)
        for c in range(num_classes):
            mine = gt.bboxes[gt.labels == c]
            if len(mine):
                target[:, c] = box_iou(boxes, mine).max(dim=1).values
        weight = probs.detach().clone()
        for j in (lab < num_classes).nonzero().flatten().tolist():
            c = int(lab[j])
            target[j, c] = box_iou(boxes[j:j + 1], tgt[j:j + 1])[0, 0]
            weight[j, c] = 1.0
        total_loss = total_loss + (weight * torch.nn.functional.binary_cross_entropy_with_logits(
            logits, target, reduction='none')).sum()
    return total_loss / max(avg, 1.0)


def test_decoupled_iou_loss_equals_a_per_pair_reference():
    model = build(DECOUPLED)
    head = model.bbox_head
    torch.manual_seed(1)
    packed = demo_mm_inputs(2, image_shapes=(3, 128, 128), num_items=[3, 1], num_classes=6)
    data = model.data_preprocessor(packed, True)
    feats = model.extract_feat(data['inputs'])
    cls_scores, bbox_preds, _, iou_preds = head(feats)
    gts = [s.gt_instances for s in data['data_samples']]
    metas = [s.metainfo for s in data['data_samples']]
    anchors, valid = head.get_anchors([f.shape[-2:] for f in cls_scores], metas, device='cpu')
    anchor_list, labels, _, targets, _, avg = head.get_targets(anchors, valid, gts, metas)
    got = head.loss_iou_by_feat(cls_scores, bbox_preds, iou_preds, gts, anchor_list, labels,
                                targets, float(avg))
    want = _decoupled_iou_loss_by_hand(head, cls_scores, bbox_preds, iou_preds, gts, metas)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_decoupled_recipe_empty_and_one_object_images():
    model = build(DECOUPLED)
    losses = losses_of(model, num_items=(0, 1))
    assert torch.isfinite(total(losses))
    losses = losses_of(model, num_items=(0,))
    # no object: the branch still learns IoU 0 on every (anchor, class), weighted by score
    assert float(losses['loss_iou']) > 0 and torch.isfinite(total(losses))
    total(losses).backward()
    assert model.bbox_head.atss_iou.weight.grad.abs().sum() > 0


def test_decoupled_recipe_predicts_cls_x_class_iou():
    model = build(DECOUPLED)
    pred, inputs = predict_one(model)
    with torch.no_grad():
        _, _, _, iou_preds = model.bbox_head(model.extract_feat(inputs))
    assert len(pred) > 0
    torch.testing.assert_close(pred.scores, pred.cls_scores * pred.pred_ious)
    # each detection's predicted IoU is one of the branch's outputs for its own class
    per_class = torch.cat([p[0].permute(1, 2, 0).reshape(-1, 6) for p in iou_preds]).sigmoid()
    for iou, label in zip(pred.pred_ious, pred.labels):
        assert torch.isclose(per_class[:, label], iou, atol=1e-6).any()


def test_decoupled_recipe_rejects_bad_iou_convs():
    with pytest.raises(ValueError, match='iou_convs must be an int >= 0'):
        build(DECOUPLED, iou_convs=-1)


def test_decoupled_config_is_atss_but_for_the_head_and_score():
    ours, ref = Config.fromfile(DECOUPLED), Config.fromfile(ATSS)
    head, ref_head = ours.model.bbox_head.to_dict(), ref.model.bbox_head.to_dict()
    assert head.pop('type') == 'DecoupledIoUATSSHead' and ref_head.pop('type') == 'ATSSHeadWithQuality'
    assert head.pop('loss_iou')['type'] == 'CrossEntropyLoss'
    assert head == ref_head
    assert ours.model.train_cfg == ref.model.train_cfg
    assert ours.optim_wrapper.type == 'SeparateClipOptimWrapper'
    test, ref_test = ours.model.test_cfg.to_dict(), ref.model.test_cfg.to_dict()
    assert (test.pop('score_type'), test.pop('cls_score_thr'), test.pop('score_thr')) == \
        ('cls_x_iou', ref_test.pop('score_thr'), 0.0025)
    assert test == ref_test


def test_decoupled_branch_leaves_the_rng_stream_where_atss_leaves_it():
    """Later draws (the data loader's shuffling, dropout, ...) pair too: building and
    initializing the branch draws from a fork of the RNG stream only."""
    states = []
    for config, head_type in ((DECOUPLED, None), (ATSS, 'ATSSHead')):
        build(config, head_type=head_type, seed=5)
        states.append(torch.get_rng_state())
    assert torch.equal(*states)


def test_r50_coco_decoupled_config_is_mmdet_atss_with_the_default_branch():
    """The R50 config ships the tiny default's method block: same head arguments and test
    settings but for the backbone-sized ones mmdet's ATSS sets."""
    import mmdet
    ours = Config.fromfile(osp.join(ROOT, 'configs/iou_aware_atss/iou-aware-atss_decoupled_r50_fpn_1x_coco.py'))
    ref = Config.fromfile(osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs', 'atss',
                                   'atss_r50_fpn_1x_coco.py'))
    tiny = Config.fromfile(DECOUPLED)
    head, ref_head = ours.model.bbox_head.to_dict(), ref.model.bbox_head.to_dict()
    assert head.pop('type') == tiny.model.bbox_head.type == 'DecoupledIoUATSSHead'
    assert head.pop('loss_iou') == tiny.model.bbox_head.loss_iou.to_dict()
    ref_head.pop('type')
    assert head == ref_head
    assert ours.model.train_cfg == ref.model.train_cfg
    assert ours.model.test_cfg.to_dict() == tiny.model.test_cfg.to_dict()
    assert ours.optim_wrapper.type == tiny.optim_wrapper.type == 'SeparateClipOptimWrapper'
