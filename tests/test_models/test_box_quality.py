"""The box-quality head on a frozen detector (dense, or two-stage): same detections as the
detector, the field's one-to-one targets, evidence against a slow loop, only the head trains."""
import math
import os.path as osp

import numpy as np
import pytest
import torch
from mmdet.registry import MODELS
from mmdet.testing import demo_mm_inputs
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

import iou_aware  # noqa: F401
from iou_aware.models.box_quality import EVIDENCE_FEATURES, cluster_evidence
from iou_aware.models.box_quality.head import one_to_one_targets
from iou_aware.models.retrofit import RetrofitError, frozen_tensors

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RETINANET = osp.join(ROOT, 'configs/retinanet/retinanet_tiny-r18_fpn_shapes.py')
IOU_AWARE = osp.join(ROOT, 'configs/iou_aware_retinanet/iou-aware-retinanet_tiny-r18_fpn_shapes.py')
FASTER = osp.join(ROOT, 'configs/faster_rcnn/faster-rcnn_tiny-r18_fpn_shapes.py')
IOU_NET = osp.join(ROOT, 'configs/iou_net/faster-rcnn_tiny-r18_fpn_iou-net_shapes.py')
BCCD = osp.join(ROOT, 'configs/box_quality/retinanet_tiny-r18_fpn_box-quality_bccd.py')
init_default_scope('mmdet')


def detector_checkpoint(tmp_path, config=RETINANET, num_classes=6, seed=3):
    """A detector with random weights whose scores pass the test threshold (a dense head's
    cls bias 0; a two-stage box head's softmax over few classes passes as it is)."""
    cfg = Config.fromfile(config)
    two_stage = 'roi_head' in cfg.model
    (cfg.model.roi_head if two_stage else cfg.model).bbox_head.num_classes = num_classes
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    model.init_weights()
    if not two_stage:
        torch.nn.init.zeros_(model.bbox_head.retina_cls.bias)
    path = str(tmp_path / f'det_{num_classes}.pth')
    torch.save(dict(state_dict=model.state_dict(), meta={}), path)
    return path, model.state_dict(), cfg


def quality_model(cfg, checkpoint, **kwargs):
    return MODELS.build(dict(type='BoxQualityRetrofit', detector=cfg.model, checkpoint=checkpoint,
                             quality_head=dict(type='BoxQualityHead', fc_channels=32,
                                               evidence_channels=8, num_jittered=8), **kwargs))


def packed_inputs(seed=0, n=2):
    torch.manual_seed(seed)
    return demo_mm_inputs(n, image_shapes=[(3, 128, 160), (3, 96, 128)][:n], num_items=[3, 1][:n],
                          num_classes=6)


def slow_evidence(kept, boxes, scores, labels, thr, img_shape, pred_ious=None):
    """One kept box at a time, in plain Python floats."""
    def iou(a, b):
        w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        inter = w * h
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
        return inter / union if union > 0 else 0.0
    B, S, L = boxes.tolist(), scores.tolist(), labels.tolist()
    K = kept.tolist()
    height, width = img_shape
    rows = []
    for a, k in enumerate(K):
        members = [j for j in range(len(B)) if j == k or (L[j] == L[k] and iou(B[j], B[k]) > thr)]
        others = [j for j in members if j != k]
        s = S[k]
        wo = sum(S[j] for j in others)
        row = [s, math.log1p(len(others)), math.log(sum(S[j] for j in members) / s),
               max([S[j] for j in others], default=0.0) / s,
               sum(S[j] * iou(B[j], B[k]) for j in others) / wo if wo > 0 else 0.0]
        tot = sum(S[j] for j in members)
        size = [B[k][2] - B[k][0], B[k][3] - B[k][1]] * 2
        for e in range(4):
            mean = sum(S[j] * B[j][e] for j in members) / tot
            var = sum(S[j] * (B[j][e] - mean) ** 2 for j in members) / tot
            row.append(math.sqrt(var) / size[e])
        higher = [b for b in range(a) if S[K[b]] >= s]  # output order is score order
        row.append(max([iou(B[K[b]], B[k]) for b in higher if L[K[b]] == L[k]], default=0.0))
        row.append(max([iou(B[K[b]], B[k]) for b in higher if L[K[b]] != L[k]], default=0.0))
        row.append(max([iou(B[K[b]], B[k]) for b in range(len(K)) if b != a], default=0.0))
        row += [math.log(size[0] / width), math.log(size[1] / height)]
        row += [min(max(v, 0.0), 1.0) for v in (B[k][0] / width, B[k][1] / height,
                                                 (width - B[k][2]) / width, (height - B[k][3]) / height)]
        row += [pred_ious[k], 1.0] if pred_ious is not None else [0.0, 0.0]
        rows.append(row)
    return torch.tensor(rows, dtype=torch.float64).reshape(-1, len(EVIDENCE_FEATURES))


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_cluster_evidence_equals_a_slow_loop(seed):
    g = torch.Generator().manual_seed(seed)
    n = 40
    xy = torch.rand(n, 2, generator=g, dtype=torch.float64) * 60
    wh = 10 + torch.rand(n, 2, generator=g, dtype=torch.float64) * 30
    boxes = torch.cat([xy, xy + wh], 1)
    scores = torch.rand(n, generator=g, dtype=torch.float64) * 0.9 + 0.05
    labels = torch.randint(0, 2, (n,), generator=g)
    order = scores.argsort(descending=True)
    kept = order[::3]  # any subset, in score order
    pred = torch.rand(n, generator=g, dtype=torch.float64)
    for ious in (None, pred):
        got = cluster_evidence(kept, boxes, scores, labels, 0.5, (80, 100), ious)
        ref = slow_evidence(kept, boxes, scores, labels, 0.5, (80, 100),
                            None if ious is None else ious.tolist())
        torch.testing.assert_close(got.double(), ref, rtol=1e-4, atol=1e-5)
    assert cluster_evidence(kept[:0], boxes, scores, labels, 0.5, (80, 100)).shape == (0, 20)


def test_two_stage_evidence_is_the_clusters_of_its_multiclass_nms(tmp_path):
    """The two-stage candidates rebuilt by hand, (RoI, class) by (RoI, class), from the box
    head's raw outputs; each kept box found among them; the evidence then equals the slow
    loop's on those candidates."""
    from iou_aware.models.box_quality.final_detections import two_stage_final_detections
    from mmdet.structures.bbox import bbox2roi
    path, _, cfg = detector_checkpoint(tmp_path, FASTER)
    model = quality_model(cfg, path)
    model.eval()
    with torch.no_grad():  # spread the class scores so the threshold drops some candidates
        model.roi_head.bbox_head.fc_cls.weight.mul_(5)
        data = model.data_preprocessor(packed_inputs(), False)
        samples = data['data_samples']
        feats = model.extract_feat(data['inputs'])
        ours = two_stage_final_detections(model, feats, samples)
        proposals = model.rpn_head.predict(feats, samples, rescale=False)
        rois = bbox2roi([p.bboxes for p in proposals])
        out = model.roi_head._bbox_forward(feats, rois)
        sizes = tuple(len(p) for p in proposals)
        raw = model.roi_head.bbox_head.predict_by_feat(
            rois.split(sizes), out['cls_score'].split(sizes), out['bbox_pred'].split(sizes),
            batch_img_metas=[s.metainfo for s in samples], rcnn_test_cfg=None, rescale=False)
    thr = model.roi_head.test_cfg.score_thr
    iou_thr = model.roi_head.test_cfg.nms['iou_threshold']
    for det, r, sample in zip(ours, raw, samples):
        boxes, scores, labels = [], [], []
        for i in range(len(r.scores)):
            for c in range(r.scores.shape[1] - 1):
                if r.scores[i, c] > thr:
                    boxes.append(r.bboxes[i, 4 * c:4 * c + 4])
                    scores.append(r.scores[i, c])
                    labels.append(c)
        boxes, scores, labels = torch.stack(boxes), torch.stack(scores), torch.tensor(labels)
        assert len(scores) < r.scores[:, :-1].numel()  # the threshold dropped some
        kept = []
        for box, label, score in zip(det.bboxes, det.labels, det.scores):
            same = ((boxes == box).all(1) & (labels == label) & (scores == score)).nonzero()
            assert len(same) >= 1
            kept.append(int(same[0]))
        assert len(kept) > 5
        ref = slow_evidence(torch.tensor(kept), boxes.double(), scores.double(), labels, iou_thr,
                            sample.metainfo['img_shape'])
        torch.testing.assert_close(det.evidence.double(), ref, rtol=1e-4, atol=1e-5)


def test_two_stage_without_proposals_gives_empty_detections():
    """An RPN that keeps nothing (every proposal under min_bbox_size) gives each image no
    detection and an empty evidence table, not an error."""
    cfg = Config.fromfile(FASTER)
    cfg.model.test_cfg.rpn.min_bbox_size = 10000
    model = quality_model(cfg, None)
    model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(packed_inputs(), False)
        pred = model.predict(data['inputs'], data['data_samples'])
    assert [len(p.pred_instances) for p in pred] == [0, 0]


def test_a_duplicate_a_wrong_class_and_background_get_target_zero():
    det = InstanceData(bboxes=torch.tensor([[0., 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10],
                                            [50, 50, 60, 60]]),
                       labels=torch.tensor([0, 0, 1, 0]), scores=torch.tensor([.9, .8, .7, .6]))
    gt = InstanceData(bboxes=torch.tensor([[0., 0, 10, 10]]), labels=torch.tensor([0]))
    matched, iou = one_to_one_targets(det, gt)
    assert matched.tolist() == [True, False, False, False]
    assert iou.tolist() == [1.0, 0.0, 0.0, 0.0]
    # score order decides: the looser box first takes the object
    det.scores = torch.tensor([.5, .8, .7, .6])
    matched, iou = one_to_one_targets(det, gt)
    assert matched.tolist() == [False, True, False, False]
    assert iou[1].item() == pytest.approx(81 / 100)


@pytest.mark.parametrize('config', [RETINANET, FASTER], ids=['dense', 'two-stage'])
@pytest.mark.parametrize('rescale', [False, True])
def test_same_detections_as_the_detector(tmp_path, rescale, config):
    path, _, cfg = detector_checkpoint(tmp_path, config)
    model = quality_model(cfg, path)
    model.eval()
    packed = packed_inputs()
    with torch.no_grad():
        data = model.data_preprocessor(packed, False)
        ours = [s.pred_instances for s in model.predict(data['inputs'], data['data_samples'],
                                                       rescale=rescale)]
        data = model.data_preprocessor(packed_inputs(), False)
        ref = [s.pred_instances for s in model.detector.predict(data['inputs'],
                                                                data['data_samples'],
                                                                rescale=rescale)]
    assert sum(len(r) for r in ref) > 10
    for a, b in zip(ours, ref):
        assert torch.equal(a.labels, b.labels)
        torch.testing.assert_close(a.bboxes, b.bboxes)
        assert torch.equal(a.det_scores, b.scores)
        assert torch.equal(a.cls_scores, b.scores)
        assert ((a.tp_probs > 0) & (a.tp_probs < 1) & (a.pred_ious > 0) & (a.pred_ious < 1)).all()
        torch.testing.assert_close(a.scores, a.tp_probs * a.pred_ious)


@pytest.mark.parametrize('config', [RETINANET, FASTER], ids=['dense', 'two-stage'])
def test_only_the_head_trains_and_the_detector_stays_bitwise(tmp_path, config):
    path, trained, cfg = detector_checkpoint(tmp_path, config)
    model = quality_model(cfg, path)
    before = frozen_tensors(model)
    assert set(before) == set(trained)
    assert all(torch.equal(before[k], trained[k]) for k in trained)
    head_before = {k: v.clone() for k, v in model.quality_head.state_dict().items()}
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    model.train()
    assert not model.backbone.training and model.quality_head.training
    if config == FASTER:  # the quality head pools on the RoI extractor's maps
        assert model.quality_head.roi_extractor.featmap_strides == \
            model.roi_head.bbox_roi_extractor.featmap_strides
    for step in range(3):
        data = model.data_preprocessor(packed_inputs(step), True)
        losses = model(**data, mode='loss')
        assert set(losses) == {'loss_quality_loc', 'loss_quality_tp'}
        assert all(torch.isfinite(v) and v > 0 for v in losses.values())
        optim.update_params(model.parse_losses(losses)[0])
    after = frozen_tensors(model)
    assert all(torch.equal(after[k], before[k]) for k in before)
    moved = [k for k, v in model.quality_head.state_dict().items()
             if not torch.equal(v, head_before[k])]
    assert any(k.startswith('tp.') for k in moved) and any(k.startswith('loc_out') for k in moved)


def test_empty_and_one_object_images_give_finite_losses(tmp_path):
    path, _, cfg = detector_checkpoint(tmp_path)
    model = quality_model(cfg, path)
    model.train()
    torch.manual_seed(0)
    packed = demo_mm_inputs(2, image_shapes=(3, 96, 96), num_items=[0, 1], num_classes=6)
    data = model.data_preprocessor(packed, True)
    losses = model(**data, mode='loss')
    total = model.parse_losses(losses)[0]
    assert torch.isfinite(total)
    total.backward()
    grads = [p.grad for p in model.quality_head.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    # an image without ground truth: every detection is a false positive (tp target 0)
    packed = demo_mm_inputs(1, image_shapes=(3, 96, 96), num_items=[0], num_classes=6)
    data = model.data_preprocessor(packed, True)
    assert torch.isfinite(model.parse_losses(model(**data, mode='loss'))[0])


def test_the_detector_own_predicted_iou_is_evidence_and_kept(tmp_path):
    cfg = Config.fromfile(IOU_AWARE)
    cfg.model.bbox_head.num_classes = 6
    torch.manual_seed(3)
    model = MODELS.build(dict(type='BoxQualityRetrofit', detector=cfg.model, checkpoint=None,
                              quality_head=dict(type='BoxQualityHead', fc_channels=16,
                                                evidence_channels=8)))
    torch.nn.init.zeros_(model.bbox_head.retina_cls.bias)
    model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(packed_inputs(), False)
        pred = model.predict(data['inputs'], data['data_samples'])[0].pred_instances
    assert len(pred) and {'branch_ious', 'pred_ious', 'tp_probs', 'det_scores'} <= set(pred.keys())


def test_bad_settings_are_named(tmp_path):
    path, _, cfg = detector_checkpoint(tmp_path, num_classes=3)
    with pytest.raises(RetrofitError, match='BoxQualityRetrofit.*another shape'):
        quality_model(Config.fromfile(RETINANET), path)  # 6 classes vs a 3-class checkpoint
    with pytest.raises(ValueError, match='score must be one of'):
        quality_model(cfg, None, score='cls')
    with pytest.raises(RetrofitError, match='IoU-Net has its own IoU head'):
        quality_model(Config.fromfile(IOU_NET), None)
    with pytest.raises(ValueError, match='num_classes 5 != the detector'):
        MODELS.build(dict(type='BoxQualityRetrofit', detector=cfg.model,
                          quality_head=dict(type='BoxQualityHead', num_classes=5)))


def test_the_bccd_config_builds_the_head_on_the_detector_maps():
    cfg = Config.fromfile(BCCD)
    model = MODELS.build(cfg.model)
    head = model.quality_head
    assert head.num_classes == 3 and head.roi_extractor.out_channels == 64
    assert head.roi_extractor.featmap_strides == [8, 16, 32, 64, 128]
    assert not any(p.requires_grad for n, p in model.named_parameters()
                   if not n.startswith('quality_head.'))


def test_refinement_moves_boxes_up_the_loc_estimate(tmp_path):
    path, _, cfg = detector_checkpoint(tmp_path)
    plain = quality_model(cfg, path)
    refined = quality_model(cfg, path, refine=dict(steps=3, step_size=0.5, omega1=0.0,
                                                   omega2=-0.01))
    refined.quality_head.load_state_dict(plain.quality_head.state_dict())
    with torch.no_grad():
        for m in (plain, refined):
            m.eval()
        da = plain.data_preprocessor(packed_inputs(), False)
        db = refined.data_preprocessor(packed_inputs(), False)
        a = plain.predict(da['inputs'], da['data_samples'])
        b = refined.predict(db['inputs'], db['data_samples'])
    pa, pb = a[0].pred_instances, b[0].pred_instances
    assert torch.equal(pa.labels, pb.labels) and len(pa) > 0
    assert not torch.allclose(pa.bboxes, pb.bboxes)
    # a refined box's loc estimate never falls by more than the tolerated drop (omega2)
    assert (pb.pred_ious >= pa.pred_ious - 0.011).all()
    assert (pb.pred_ious > pa.pred_ious + 1e-4).any()
    with pytest.raises(ValueError, match='refine must be None or a dict'):
        quality_model(cfg, path, refine=dict(stepz=3))
