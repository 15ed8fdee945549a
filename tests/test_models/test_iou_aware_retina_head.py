"""IoUAwareRetinaHead (the paper's) and DecoupledIoURetinaHead (the default), tested the mmdet
way: tiny features, a few classes, empty/one GT."""
import os.path as osp

import pytest
import torch
from mmdet.models.dense_heads import RetinaHead
from mmdet.registry import MODELS
from mmengine.config import Config, ConfigDict
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData
from torchvision.ops import box_iou

import iou_aware  # noqa: F401


init_default_scope('mmdet')
SIZE = 128
STRIDES = [8, 16, 32, 64, 128]


def head_cfg(**overrides):
    cfg = dict(
        type='IoUAwareRetinaHead', num_classes=4, in_channels=8, feat_channels=8, stacked_convs=1,
        anchor_generator=dict(type='AnchorGenerator', octave_base_scale=4, scales_per_octave=3,
                              ratios=[0.5, 1.0, 2.0], strides=STRIDES),
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.0] * 4, target_stds=[1.0] * 4),
        loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0),
        loss_bbox=dict(type='L1Loss', loss_weight=1.0),
        train_cfg=ConfigDict(assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.4,
                                           min_pos_iou=0, ignore_iof_thr=-1),
                             sampler=dict(type='PseudoSampler'), allowed_border=-1, pos_weight=-1,
                             debug=False),
        test_cfg=ConfigDict(nms_pre=1000, min_bbox_size=0, score_thr=0.0,
                            nms=dict(type='nms', iou_threshold=0.5), max_per_img=100, alpha=0.5))
    cfg.update(overrides)
    return cfg


def inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    feats = [torch.rand(1, 8, SIZE // s, SIZE // s, generator=g) for s in STRIDES]
    metas = [dict(img_shape=(SIZE, SIZE), pad_shape=(SIZE, SIZE), scale_factor=(1.0, 1.0))]
    return feats, metas


def gt(boxes, labels):
    inst = InstanceData()
    inst.bboxes = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    inst.labels = torch.tensor(labels, dtype=torch.long)
    return inst


def losses_for(head, gt_instances, feats, metas):
    outs = head(feats)
    return head.loss_by_feat(*outs, [gt_instances], metas)


def total(loss):
    return sum(loss) if isinstance(loss, (list, tuple)) else loss


def test_empty_gt_only_classification_loss():
    head = MODELS.build(head_cfg())
    losses = losses_for(head, gt([], []), *inputs())
    assert total(losses['loss_cls']) > 0
    assert total(losses['loss_bbox']) == 0
    assert total(losses['loss_iou']) == 0


def test_decoupled_head_on_an_empty_image_trains_its_outputs_towards_zero():
    head = MODELS.build(head_cfg(type='DecoupledIoURetinaHead'))
    losses = losses_for(head, gt([], []), *inputs())
    assert total(losses['loss_cls']) > 0 and total(losses['loss_bbox']) == 0
    assert torch.isfinite(losses['loss_iou']) and losses['loss_iou'] > 0


@pytest.mark.parametrize('head_type', ['IoUAwareRetinaHead', 'DecoupledIoURetinaHead'])
def test_one_gt_all_losses_positive(head_type):
    head = MODELS.build(head_cfg(type=head_type))
    losses = losses_for(head, gt([[23.6, 31.3, 94.2, 110.7]], [2]), *inputs())
    for key in ('loss_cls', 'loss_bbox', 'loss_iou'):
        assert total(losses[key]) > 0, key


def test_iou_targets_are_overlaps_of_decoded_predictions():
    head = MODELS.build(head_cfg())
    g = torch.Generator().manual_seed(1)
    anchors = torch.tensor([[10.0, 10, 50, 40], [0, 0, 30, 60], [60, 20, 120, 100]])
    gt_boxes = anchors + torch.randn(3, 4, generator=g) * 4
    deltas = torch.randn(3, 4, generator=g) * 0.2
    targets = head.iou_targets(anchors, deltas, head.bbox_coder.encode(anchors, gt_boxes))
    want = box_iou(head.bbox_coder.decode(anchors, deltas), gt_boxes).diag()
    torch.testing.assert_close(targets, want, rtol=1e-5, atol=1e-5)
    assert targets.min() > 0.1 and targets.max() < 1  # a non-trivial case


@pytest.mark.parametrize('detach', [False, True])
def test_iou_loss_reaches_regression_branch_exactly_when_not_detached(detach):
    head = MODELS.build(head_cfg(detach_iou_target=detach))
    losses = losses_for(head, gt([[23.6, 31.3, 94.2, 110.7], [5, 60, 40, 120]], [2, 0]), *inputs())
    total(losses['loss_iou']).backward()
    reg_grad = head.retina_reg.weight.grad
    assert head.retina_iou.weight.grad.abs().sum() > 0
    if detach:
        assert reg_grad is None or reg_grad.abs().sum() == 0
    else:
        assert reg_grad is not None and reg_grad.abs().sum() > 0


def test_predict_fuses_scores_as_the_paper():
    head = MODELS.build(head_cfg())
    feats, metas = inputs()
    head.eval()
    with torch.no_grad():
        (res,) = head.predict_by_feat(*head(feats), batch_img_metas=metas, rescale=False)
    assert isinstance(res, InstanceData) and len(res) > 0
    assert res.scores.min() >= 0 and res.scores.max() <= 1
    torch.testing.assert_close(res.scores, res.cls_scores.sqrt() * res.pred_ious.sqrt())
    assert torch.all(res.scores[:-1] >= res.scores[1:])  # ranked by the fused score


def test_alpha_one_reproduces_retinanet():
    torch.manual_seed(0)
    cfg = head_cfg()
    cfg['test_cfg']['alpha'] = 1.0
    ours = MODELS.build(cfg)
    base_cfg = {k: v for k, v in cfg.items() if k not in ('type',)}
    base = RetinaHead(**base_cfg)
    missing, unexpected = base.load_state_dict(ours.state_dict(), strict=False)
    assert not missing and set(unexpected) == {'retina_iou.weight', 'retina_iou.bias'}
    feats, metas = inputs(3)
    ours.eval(), base.eval()
    with torch.no_grad():
        (a,) = ours.predict_by_feat(*ours(feats), batch_img_metas=metas, rescale=False)
        cls, reg = base(feats)
        (b,) = base.predict_by_feat(cls, reg, batch_img_metas=metas, rescale=False)
    assert len(a) == len(b) > 0
    torch.testing.assert_close(a.bboxes, b.bboxes)
    torch.testing.assert_close(a.scores, b.scores)
    torch.testing.assert_close(a.labels, b.labels)


def test_iou_guided_nms_switch_matches_the_op_on_the_pre_nms_candidates():
    torch.manual_seed(0)
    cfg = head_cfg()
    cfg['test_cfg']['max_per_img'] = 10000
    head = MODELS.build(cfg).eval()
    feats, metas = inputs(4)
    with torch.no_grad():
        outs = head(feats)
        (raw,) = head.predict_by_feat(*outs, batch_img_metas=metas, rescale=False, with_nms=False)
        head.test_cfg['nms'] = dict(type='iou_guided_nms', iou_threshold=0.5)
        (det,) = head.predict_by_feat(*outs, batch_img_metas=metas, rescale=False)
    ref_keep, ref_scores = [], []
    for c in raw.labels.unique():
        idx = torch.nonzero(raw.labels == c).flatten()
        k, s = iou_aware.ops.iou_guided_nms_reference(raw.bboxes[idx], raw.scores[idx],
                                                      raw.pred_ious[idx], 0.5)
        ref_keep.append(idx[k])
        ref_scores.append(s)
    ref_keep, ref_scores = torch.cat(ref_keep), torch.cat(ref_scores)
    order = ref_scores.argsort(descending=True, stable=True)
    assert 0 < len(det) < len(raw)
    torch.testing.assert_close(det.scores, ref_scores[order])
    torch.testing.assert_close(det.bboxes, raw.bboxes[ref_keep[order]])
    assert torch.equal(det.labels, raw.labels[ref_keep[order]])


def test_cls_score_threshold_keeps_exactly_the_candidates_above_it():
    """``test_cfg.cls_score_thr`` drops (anchor, class) pairs whose classification score is
    below it before the fused-score threshold and top-k: the pre-NMS candidates are those
    of the unthresholded head whose cls score reaches it, with the same fused scores."""
    torch.manual_seed(0)
    head = MODELS.build(head_cfg()).eval()
    feats, metas = inputs(5)
    with torch.no_grad():
        outs = head(feats)
        head.test_cfg['nms_pre'] = -1  # no top-k: compare whole candidate sets
        (every,) = head.predict_by_feat(*outs, batch_img_metas=metas, rescale=False,
                                        with_nms=False)
        thr = float(every.cls_scores.median())
        head.test_cfg['cls_score_thr'] = thr
        (kept,) = head.predict_by_feat(*outs, batch_img_metas=metas, rescale=False,
                                       with_nms=False)
    expected = every[every.cls_scores >= thr]
    assert 0 < len(kept) < len(every)

    def rows(res):  # candidates in a canonical order (the heads' orders differ)
        table = torch.cat([res.bboxes, res.labels[:, None].float(), res.scores[:, None],
                           res.cls_scores[:, None], res.pred_ious[:, None]], 1)
        return torch.tensor(sorted(table.tolist()))

    assert torch.equal(rows(kept), rows(expected))


def _flat(levels, k):
    return torch.cat([t.permute(0, 2, 3, 1).reshape(1, -1, k) for t in levels], 1)[0]


def test_decoupled_head_trains_every_anchor_class_pair_weighted_by_its_score():
    """DecoupledIoURetinaHead's IoU loss, computed independently: positives train their
    label's output towards IoU(decoded box, assigned object); every other (anchor, class)
    trains towards the IoU of the decoded box with the best object of that class
    (torchvision's box_iou), BCE weighted by that class's sigmoid score; over the
    positives' avg_factor."""
    torch.manual_seed(0)
    feats, metas = inputs(6)
    boxes, classes = [[10, 10, 60, 50], [40, 30, 120, 100]], [1, 2]
    g = gt(boxes, classes)
    head = MODELS.build(head_cfg(type='DecoupledIoURetinaHead'))
    cls, reg, iou = head(feats)
    with torch.no_grad():
        got = head.loss_by_feat(cls, reg, iou, [g], metas)['loss_iou']
        anchor_list, valid = head.get_anchors([c.shape[-2:] for c in cls], metas, device='cpu')
        labels, _, box_t, _, avg_factor = head.get_targets(anchor_list, valid, [g], metas)
        labels, box_t = torch.cat(labels, 1)[0], torch.cat(box_t, 1)[0]
        anchors = torch.cat(anchor_list[0])
        decoded = head.bbox_coder.decode(anchors, _flat(reg, 4))
        per_class = torch.stack([box_iou(decoded, g.bboxes[g.labels == c]).amax(1)
                                 if (g.labels == c).any() else torch.zeros(len(decoded))
                                 for c in range(4)], 1)  # [N, C]
        logits = _flat(iou, 4)
        weight = _flat(cls, 4).sigmoid()
        pos = labels < 4
        target = per_class.clone()
        weight = weight.clone()
        rows = pos.nonzero()[:, 0]
        target[rows, labels[pos]] = box_iou(decoded[pos], head.bbox_coder.decode(
            anchors[pos], box_t[pos])).diagonal()
        weight[rows, labels[pos]] = 1.0
        bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, target,
                                                                   reduction='none')
        expected = (bce * weight).sum() / avg_factor
    assert pos.sum() >= 2 and expected > 0
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-6)


def test_decoupled_head_has_no_detach_setting():
    with pytest.raises(ValueError, match='always detached; remove detach_iou_target'):
        MODELS.build(head_cfg(type='DecoupledIoURetinaHead', detach_iou_target=False))


def _samples(g, metas):
    from mmdet.structures import DetDataSample
    sample = DetDataSample(metainfo=metas[0])
    sample.gt_instances = g
    return [sample]


def retina_head_twin():
    """mmdet's RetinaHead with the test head's settings: the independent reference."""
    return MODELS.build(dict(head_cfg(), type='RetinaHead'))


@pytest.mark.parametrize('variant', [dict(), dict(iou_convs=1), dict(iou_convs=0)])
def test_decoupled_iou_leaves_the_detector_training_as_retinanet(variant):
    """DecoupledIoURetinaHead: the gradient reaching the towers, the cls/box convs and the
    input features is exactly mmdet's RetinaHead's (same weights, same inputs); only the
    IoU branch's own layers learn from loss_iou."""
    torch.manual_seed(0)
    feats, metas = inputs(3)
    samples = _samples(gt([[10, 10, 60, 50], [40, 30, 120, 100]], [1, 2]), metas)
    ours = MODELS.build(head_cfg(type='DecoupledIoURetinaHead', **variant))
    reference = retina_head_twin()
    missing, unexpected = reference.load_state_dict(ours.state_dict(), strict=False)
    assert not missing and all(k.startswith(('retina_iou', 'iou_convs')) for k in unexpected)
    grads = {}
    for name, head in (('ours', ours), ('reference', reference)):
        x = [f.clone().requires_grad_() for f in feats]
        losses = head.loss(x, samples)
        if name == 'ours':
            assert losses['loss_iou'] > 0
        sum(total(v) for v in losses.values()).backward()
        grads[name] = {k: p.grad for k, p in head.named_parameters() if p.grad is not None}
        grads[name]['input'] = torch.cat([f.grad.flatten() for f in x])
    shared = [k for k in grads['reference']]
    assert any(k.startswith('reg_convs') for k in shared)
    for k in shared:
        torch.testing.assert_close(grads['ours'][k], grads['reference'][k])
    own = [k for k in grads['ours'] if k.startswith(('retina_iou', 'iou_convs'))]
    assert len(own) == 2 + 2 * variant.get('iou_convs', 2)  # weight, bias (no norm here)
    assert all(grads['ours'][k].abs().sum() > 0 for k in own)


def test_decoupled_iou_changes_the_paper_heads_tower_gradient():
    """The test above can fail: the paper's coupled branch sends loss_iou into the tower."""
    torch.manual_seed(0)
    feats, metas = inputs(3)
    samples = _samples(gt([[10, 10, 60, 50]], [1]), metas)
    paper = MODELS.build(head_cfg())
    reference = retina_head_twin()
    reference.load_state_dict(paper.state_dict(), strict=False)
    grads = []
    for head in (paper, reference):
        sum(total(v) for v in head.loss(feats, samples).values()).backward()
        grads.append(head.reg_convs[0].conv.weight.grad.clone())
    assert not torch.allclose(*grads)


@pytest.mark.parametrize('bad', [-1, 1.5, True, '2'])
def test_iou_convs_must_be_a_count(bad):
    with pytest.raises(ValueError, match='iou_convs must be an int >= 0'):
        MODELS.build(head_cfg(type='DecoupledIoURetinaHead', iou_convs=bad))


def _seeded_init(cfg, seed=7):
    torch.manual_seed(seed)
    head = MODELS.build(cfg)
    head.init_weights()
    return head, torch.get_rng_state()


@pytest.mark.parametrize('variant', [dict(), dict(iou_convs=0)])
def test_isolated_branch_rng_gives_the_detector_retinanets_init(variant):
    """DecoupledIoURetinaHead's branch on its own RNG stream: for one seed every shared layer starts as mmdet's
    RetinaHead's, and the global RNG stream is left where RetinaNet leaves it (so later
    draws, e.g. the data loader's, pair too); the branch itself is still initialized."""
    reference, reference_rng = _seeded_init(dict(head_cfg(), type='RetinaHead'))
    ours, ours_rng = _seeded_init(head_cfg(type='DecoupledIoURetinaHead', **variant))
    shared = reference.state_dict()
    for k, v in shared.items():
        torch.testing.assert_close(ours.state_dict()[k], v, rtol=0, atol=0, msg=k)
    assert torch.equal(ours_rng, reference_rng)
    convs = variant.get('iou_convs', 2)
    branch = [m for m in ours.modules() if isinstance(m, torch.nn.Conv2d)][-1 - convs:]
    assert len(branch) == 1 + convs
    for conv in branch:  # mmdet's Normal(0, 0.01) init, as the other head convs
        assert 0.005 < conv.weight.std() < 0.015 and torch.all(conv.bias == 0)


def test_shared_branch_rng_shifts_the_detectors_init():
    """The test above can fail: the paper's head draws its branch from the shared stream."""
    reference, reference_rng = _seeded_init(dict(head_cfg(), type='RetinaHead'))
    ours, ours_rng = _seeded_init(head_cfg())
    assert not torch.equal(ours_rng, reference_rng)


def test_isolated_decoupled_detector_config_starts_as_the_retinanet_config():
    """The shipped tiny configs, built and initialized as the runner does for one seed: the
    default IoU-aware detector (DecoupledIoURetinaHead, its own RNG stream) equals RetinaNet's
    parameter for parameter, so the benchmark's paired rows compare the same detector."""
    root = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    models = {}
    for name, path, head in (
            ('retinanet', 'configs/retinanet/retinanet_tiny-r18_fpn_shapes.py', {}),
            ('ours', 'configs/iou_aware_retinanet/iou-aware-retinanet_tiny-r18_fpn_shapes.py',
             {})):  # the project's default: decoupled, on its own RNG stream
        cfg = Config.fromfile(osp.join(root, path))
        init_default_scope(cfg.get('default_scope', 'mmdet'))
        cfg.model.bbox_head.update(head)
        torch.manual_seed(3)
        models[name] = MODELS.build(cfg.model)
        models[name].init_weights()
        models[name].rng = torch.get_rng_state()
    reference = models['retinanet'].state_dict()
    ours = models['ours'].state_dict()
    extra = set(ours) - set(reference)
    assert extra and all(k.startswith(('bbox_head.retina_iou', 'bbox_head.iou_convs'))
                         for k in extra)
    for k, v in reference.items():
        assert torch.equal(ours[k], v), k
    assert torch.equal(models['ours'].rng, models['retinanet'].rng)
