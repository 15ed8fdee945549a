"""IoUNetRoIHead inside the tiny IoU-Net detector: losses and every inference switch."""
import copy
import os.path as osp

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.testing import demo_mm_inputs
from mmengine.config import Config, ConfigDict
from mmengine.registry import init_default_scope

import iou_aware  # noqa: F401


ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# the paper's training (jittered ground truths only); the default adds own boxes (tested below)
IOU_NET = osp.join(ROOT, 'configs/iou_net/faster-rcnn_tiny-r18_fpn_iou-net_gt-jitter_shapes.py')
IOU_NET_DEFAULT = osp.join(ROOT, 'configs/iou_net/faster-rcnn_tiny-r18_fpn_iou-net_shapes.py')
BASELINE = osp.join(ROOT, 'configs/faster_rcnn/faster-rcnn_tiny-r18_fpn_shapes.py')
init_default_scope('mmdet')


def build(path, **test_rcnn):
    cfg = Config.fromfile(path)
    cfg.model.test_cfg.rcnn.update(test_rcnn)
    torch.manual_seed(0)
    return MODELS.build(cfg.model)


@pytest.fixture(scope='module')
def iou_net():
    model = build(IOU_NET)
    # Random weights give flat, near-0.5 IoUs; sharpen the IoU head so rankings differ.
    with torch.no_grad():
        model.roi_head.iou_head.fc_iou.weight.mul_(200)
    return model.eval()


def batch(num_items, seed=0, size=128):
    torch.manual_seed(seed)
    return demo_mm_inputs(len(num_items), image_shapes=(3, size, size), num_items=num_items,
                          num_classes=6)


def losses(model, num_items):
    model.train()
    data = model.data_preprocessor(batch(num_items), True)
    out = model(**data, mode='loss')
    model.eval()
    return out


def predict(model, packed, rescale=True, **test_rcnn):
    cfg = copy.deepcopy(model.roi_head.test_cfg)
    model.roi_head.test_cfg = ConfigDict({**cfg, **test_rcnn})
    try:
        with torch.no_grad():
            data = model.data_preprocessor(packed, False)
            return [p.pred_instances for p in model.predict(data['inputs'], data['data_samples'],
                                                           rescale=rescale)]
    finally:
        model.roi_head.test_cfg = cfg


def test_losses_on_an_image_without_objects(iou_net):
    out = losses(iou_net, [0])
    assert out['loss_cls'] > 0
    assert out['loss_bbox'] == 0 and out['loss_iou'] == 0


def test_the_default_trains_its_iou_head_on_its_own_boxes_without_objects_too():
    """With own boxes (the default) an image without objects still trains the IoU head:
    every box the box head puts there should predict IoU 0."""
    model = build(IOU_NET_DEFAULT)
    model.init_weights()
    out = losses(model, [0])
    assert out['loss_bbox'] == 0 and out['loss_iou'] > 0 and torch.isfinite(out['loss_iou'])


def test_no_proposals_give_no_detections_with_every_field():
    model = build(IOU_NET_DEFAULT)
    model.test_cfg.rpn.min_bbox_size = 10000  # the RPN keeps nothing
    model.init_weights()
    pred = predict(model.eval(), batch([1, 2], size=96))
    assert [len(p) for p in pred] == [0, 0]
    assert {'bboxes', 'scores', 'labels', 'cls_scores', 'pred_ious'} <= set(pred[0].keys())


def test_losses_on_an_image_with_one_object(iou_net):
    out = losses(iou_net, [1])
    assert out['loss_cls'] > 0 and out['loss_bbox'] > 0 and out['loss_iou'] > 0


def test_iou_loss_trains_the_backbone_through_prroi_pool(iou_net):
    out = losses(iou_net, [2])
    iou_net.zero_grad()
    out['loss_iou'].backward()
    assert iou_net.roi_head.iou_head.fc_iou.weight.grad.abs().sum() > 0
    assert iou_net.backbone.conv1.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in iou_net.roi_head.bbox_head.parameters())
    iou_net.zero_grad()


def test_plain_switches_reproduce_faster_rcnn_with_the_same_weights(iou_net):
    baseline = build(BASELINE).eval()
    missing, unexpected = baseline.load_state_dict(iou_net.state_dict(), strict=False)
    assert not missing and all(k.startswith('roi_head.iou_') for k in unexpected)
    packed = batch([3, 1], seed=3)
    ours = predict(iou_net, packed, nms=dict(type='nms', iou_threshold=0.5), score_type='cls',
                   refine=None, pre_iou_topk=-1)
    with torch.no_grad():
        ref = [p.pred_instances for p in baseline(**baseline.data_preprocessor(packed, False),
                                                  mode='predict')]
    for a, b in zip(ours, ref):
        assert len(a) > 0
        torch.testing.assert_close(a.bboxes, b.bboxes)
        torch.testing.assert_close(a.scores, b.scores)
        assert torch.equal(a.labels, b.labels)


def test_cls_x_iou_scores_are_products_and_ranked(iou_net):
    for det in predict(iou_net, batch([2, 2], seed=4), nms=dict(type='nms', iou_threshold=0.5),
                       score_type='cls_x_iou', refine=None):
        assert len(det) > 0
        torch.testing.assert_close(det.scores, det.cls_scores * det.pred_ious)
        assert (det.scores[:-1] >= det.scores[1:]).all()
        assert ((det.pred_ious >= 0) & (det.pred_ious <= 1)).all()


def test_iou_guided_nms_keeps_no_overlapping_pair_and_lifts_scores(iou_net):
    packed = batch([3], seed=5)
    plain = predict(iou_net, packed, rescale=False, nms=dict(type='nms', iou_threshold=1.0),
                    score_type='cls', refine=None, max_per_img=10000)[0]
    guided = predict(iou_net, packed, rescale=False,
                     nms=dict(type='iou_guided_nms', iou_threshold=0.5), score_type='cls',
                     refine=None, max_per_img=10000)[0]
    assert 0 < len(guided) < len(plain)
    from torchvision.ops import box_iou
    for c in guided.labels.unique():
        b = guided.bboxes[guided.labels == c]
        overlaps = box_iou(b, b).fill_diagonal_(0)
        assert (overlaps <= 0.5 + 1e-6).all()
    # A kept box's score is the best classification score of its cluster: never below its own.
    for box, label, score in zip(guided.bboxes, guided.labels, guided.scores):
        same = (plain.labels == label) & (plain.bboxes == box).all(1)
        assert same.any() and score >= plain.scores[same].max() - 1e-6


def test_refinement_moves_boxes_and_does_not_lower_predicted_iou_much(iou_net):
    packed = batch([3, 2], seed=6)
    common = dict(nms=dict(type='iou_guided_nms', iou_threshold=0.5), score_type='cls')
    before = predict(iou_net, packed, refine=None, **common)
    after = predict(iou_net, packed,
                    refine=dict(steps=5, step_size=0.5, omega1=0.001, omega2=-0.01), **common)
    moved = 0
    for a, b in zip(before, after):
        assert torch.equal(a.labels, b.labels)
        assert (b.pred_ious >= a.pred_ious - 5 * 0.01 - 1e-6).all()
        moved += (a.bboxes - b.bboxes).abs().sum(1).gt(1e-3).sum().item()
    assert moved > 0


def test_rescale_maps_boxes_back_to_the_original_image(iou_net):
    packed = batch([2], seed=7)
    packed['data_samples'][0].set_metainfo(dict(scale_factor=(2.0, 2.0)))
    kw = dict(nms=dict(type='iou_guided_nms', iou_threshold=0.5), refine=None)
    small = predict(iou_net, packed, rescale=True, **kw)[0]
    big = predict(iou_net, packed, rescale=False, **kw)[0]
    torch.testing.assert_close(small.bboxes * 2, big.bboxes)


@pytest.mark.parametrize('key,value,match', [
    ('score_type', 'iou', 'score_type'),
    ('nms', dict(type='soft_nms', iou_threshold=0.5), 'nms.type'),
    ('refine', 5, 'refine'),
])
def test_bad_test_cfg_is_named(iou_net, key, value, match):
    with pytest.raises(ValueError, match=match):
        predict(iou_net, batch([1]), **{key: value})


def test_refinement_without_prroi_pool_is_refused():
    cfg = Config.fromfile(IOU_NET)
    cfg.model.roi_head.iou_roi_extractor = dict(
        type='SingleRoIExtractor', out_channels=64, featmap_strides=[4, 8, 16, 32],
        roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0))
    model = MODELS.build(cfg.model).eval()
    with pytest.raises(ValueError, match='needs box-coordinate gradients.*PrRoIExtractor'):
        predict(model, batch([2]), refine=dict(steps=2))


def test_mismatched_class_counts_are_refused():
    cfg = Config.fromfile(IOU_NET)
    cfg.model.roi_head.iou_head.num_classes = 3
    with pytest.raises(ValueError, match='num_classes'):
        MODELS.build(cfg.model)


def test_refinement_limited_to_the_top_k_leaves_the_rest_alone(iou_net):
    packed = batch([3, 2], seed=6)
    common = dict(nms=dict(type='iou_guided_nms', iou_threshold=0.5), score_type='cls')
    refine = dict(steps=5, step_size=0.5, omega1=0.001, omega2=-0.01)
    before = predict(iou_net, packed, refine=None, **common)
    full = predict(iou_net, packed, refine=refine, **common)
    top = predict(iou_net, packed, refine=dict(refine, max_per_img=4), **common)
    for b, f, t in zip(before, full, top):
        assert len(b) > 4
        # Boxes are refined independently: the top 4 match the full refinement exactly...
        torch.testing.assert_close(t.bboxes[:4], f.bboxes[:4])
        torch.testing.assert_close(t.pred_ious[:4], f.pred_ious[:4])
        # ...and the others keep their unrefined boxes and predicted IoUs.
        assert torch.equal(t.bboxes[4:], b.bboxes[4:]) and torch.equal(t.pred_ious[4:], b.pred_ious[4:])


def test_own_boxes_train_the_iou_head_in_a_real_loss_step():
    """``iou_sampler.own_boxes`` through the detector's own loss (mmdet's bbox_loss output
    feeds the sampler): the IoU loss changes, stays finite and differentiable. The unit
    tests of ``own_iou_training_boxes`` build its inputs by hand; this is the wiring."""
    plain = build(IOU_NET)
    cfg = Config.fromfile(IOU_NET)
    cfg.model.train_cfg.rcnn.iou_sampler.own_boxes = dict(num_per_img=64, score_thr=0.0)
    torch.manual_seed(0)
    own = MODELS.build(cfg.model)
    own.load_state_dict(plain.state_dict())
    outs = {}
    for name, model in (('plain', plain), ('own', own)):
        torch.manual_seed(1)
        outs[name] = losses(model, [3, 2])
    assert torch.isfinite(outs['own']['loss_iou'])
    assert not torch.allclose(outs['own']['loss_iou'], outs['plain']['loss_iou'])
    own.zero_grad()
    outs['own']['loss_iou'].backward()
    assert own.roi_head.iou_head.fc_iou.weight.grad.abs().sum() > 0
