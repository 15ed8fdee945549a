"""The wrappers compose: every shipped detector family x {as is, box-quality head, IoU-branch
retrofit where it applies} x {plain NMS, IoU-guided NMS where it applies}, calibrated, gives
exactly the calibration applied to the same stack's uncalibrated prediction (same boxes and
labels, ``raw_scores`` = the uncalibrated scores, every other field kept); every stack that
cannot work is refused when it is built, with one clear error.

The calibration is a known per-class map (class c: 0.5 x raw + c / 100), so the expected
calibrated scores are computed here, not by the code under test."""
import json

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.testing import demo_mm_inputs
from mmengine.config import Config
from mmengine.registry import init_default_scope

import iou_aware  # noqa: F401
from iou_aware.models.calibrated_detector import FORMAT
from iou_aware.models.detector_wrapper import StackError
from iou_aware.models.prediction_fields import check_prediction
from iou_aware.models.retrofit import RetrofitError
from benchmarks.golden_trace import FAMILIES

from .test_configs import ROOT

init_default_scope('mmdet')

# family -> does its head feed a predicted IoU into NMS (so IoU-guided NMS applies)?
IOU_BEFORE_NMS = {'iou-aware', 'iou-aware_paper', 'iou-aware-atss_decoupled', 'iou-net_paper',
                  'iou-net_own-boxes'}
HAS_IOU_BRANCH = {'iou-aware', 'iou-aware_paper', 'iou-aware-atss_decoupled',
                  'iou-net_paper', 'iou-net_own-boxes'}
IOU_NET = {'iou-net_paper', 'iou-net_own-boxes'}
NO_BOX_QUALITY = IOU_NET | {'paa'}  # refused at build: IoU-Net has its own; PAA votes in NMS
SMALL_HEAD = dict(type='BoxQualityHead', fc_channels=32, evidence_channels=8, num_jittered=8)


def detector_cfg(family, nms):
    """The family's shipped model, keeping every candidate of random weights."""
    model = Config.fromfile(f'{ROOT}/{FAMILIES[family][0]}').model
    model.backbone.init_cfg = None
    test_cfg = model.test_cfg.rcnn if 'rcnn' in model.test_cfg else model.test_cfg
    test_cfg.score_thr = 0.0
    if 'cls_score_thr' in test_cfg:
        test_cfg.cls_score_thr = 0.0
    test_cfg.max_per_img = 30
    test_cfg.nms.type = nms
    return model


def num_classes(model_cfg):
    return (model_cfg.get('bbox_head') or model_cfg.roi_head.bbox_head).num_classes


def calibration(tmp_path, classes, thresholds=None):
    nan = float('nan')
    data = dict(format=FORMAT, classes=[f'c{k}' for k in range(classes)], fitted=dict(
        calibrator='isotonic', thresholds=thresholds or [nan] * classes,
        operating_thresholds=[nan] * classes,
        calibrators=[dict(method='isotonic', x=[0.0, 1.0], y=[c / 100, 0.5 + c / 100])
                     for c in range(classes)]))
    path = tmp_path / 'calibration.json'
    path.write_text(json.dumps(data))
    return str(path)


def branch_checkpoint(tmp_path, model_cfg):
    """A checkpoint of the detector without its IoU branch (what a retrofit starts from)."""
    from iou_aware.models.retrofit import trainable_prefixes
    torch.manual_seed(5)
    model = MODELS.build(model_cfg)
    model.init_weights()
    prefixes = trainable_prefixes(model)
    state = {k: v for k, v in model.state_dict().items() if not k.startswith(prefixes)}
    path = str(tmp_path / 'plain.pth')
    torch.save(dict(state_dict=state, meta={}), path)
    return path


def stack_cfg(stack, model_cfg, tmp_path):
    if stack == 'as-is':
        return model_cfg
    if stack == 'box-quality':
        return dict(type='BoxQualityRetrofit', detector=model_cfg, quality_head=SMALL_HEAD)
    return dict(type='IoUBranchRetrofit', detector=model_cfg,
                checkpoint=branch_checkpoint(tmp_path, model_cfg))


def build(cfg):
    torch.manual_seed(0)
    return MODELS.build(cfg).eval()


def predict(model):
    torch.manual_seed(1)
    packed = demo_mm_inputs(2, image_shapes=[(3, 128, 128), (3, 96, 128)], num_items=[2, 1],
                            num_classes=6)
    with torch.no_grad():
        data = model.data_preprocessor(packed, False)
        return [s.pred_instances for s in model.predict(data['inputs'], data['data_samples'])]


def cases():
    for family in FAMILIES:
        stacks = ['as-is'] + (['box-quality'] if family not in NO_BOX_QUALITY else []) + (
            ['retrofit'] if family in HAS_IOU_BRANCH else [])
        for stack in stacks:
            for nms in ['nms'] + (['iou_guided_nms'] if family in IOU_BEFORE_NMS else []):
                yield pytest.param(family, stack, nms, id=f'{family}-{stack}-{nms}')


@pytest.mark.parametrize('family,stack,nms', list(cases()))
def test_calibrated_prediction_is_the_calibration_of_the_uncalibrated(family, stack, nms,
                                                                      tmp_path):
    model_cfg = detector_cfg(family, nms)
    classes = num_classes(model_cfg)
    inner = stack_cfg(stack, model_cfg, tmp_path)
    plain = build(inner)
    calibrated = build(dict(type='CalibratedDetector', detector=inner,
                            calibration=calibration(tmp_path, classes), apply_thresholds=False))
    a, b = plain.state_dict(), calibrated.state_dict()
    assert list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)
    for raw, cal in zip(predict(plain), predict(calibrated)):
        assert len(raw) > 0
        assert not check_prediction(raw) and not check_prediction(cal), check_prediction(cal)
        assert set(cal.keys()) == set(raw.keys()) | {'raw_scores'}
        assert torch.equal(cal.bboxes, raw.bboxes) and torch.equal(cal.labels, raw.labels)
        assert torch.equal(cal.raw_scores, raw.scores)
        for key in set(raw.keys()) - {'scores'}:
            assert torch.equal(cal[key], raw[key]), key
        expected = raw.scores.double().clamp(0, 1) * 0.5 + raw.labels.double() / 100
        torch.testing.assert_close(cal.scores.double(), expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize('family,stack', [('retinanet', 'box-quality'),
                                          ('iou-aware', 'as-is'),
                                          ('faster-rcnn', 'box-quality')])
def test_calibrated_thresholds_keep_what_passes_on_the_raw_score(family, stack, tmp_path):
    model_cfg = detector_cfg(family, 'nms')
    classes = num_classes(model_cfg)
    inner = stack_cfg(stack, model_cfg, tmp_path)
    raw = predict(build(inner))
    cut = float(torch.cat([r.scores for r in raw]).median())
    calibrated = build(dict(type='CalibratedDetector', detector=inner,
                            calibration=calibration(tmp_path, classes, [cut] * classes)))
    for r, c in zip(raw, predict(calibrated)):
        kept = r[r.scores >= cut]
        assert torch.equal(c.bboxes, kept.bboxes) and torch.equal(c.raw_scores, kept.scores)


def refused(cfg, error, match):
    with pytest.raises(error, match=match):
        MODELS.build(cfg)


def test_every_stack_that_cannot_work_is_refused_at_build(tmp_path):
    retina = detector_cfg('retinanet', 'nms')
    iou_aware_cfg = detector_cfg('iou-aware', 'nms')
    cal = calibration(tmp_path, num_classes(retina))
    calibrated = dict(type='CalibratedDetector', detector=retina, calibration=cal)
    quality = dict(type='BoxQualityRetrofit', detector=retina, quality_head=SMALL_HEAD)
    retrofit = dict(type='IoUBranchRetrofit', detector=iou_aware_cfg,
                    checkpoint=branch_checkpoint(tmp_path, iou_aware_cfg))
    refused(dict(type='CalibratedDetector', detector=calibrated, calibration=cal), StackError,
            'CalibratedDetector: the detector is already calibrated')
    refused(dict(type='BoxQualityRetrofit', detector=calibrated, quality_head=SMALL_HEAD),
            StackError, 'BoxQualityRetrofit: the detector must be a plain one, got a '
                        'CalibratedDetector')
    refused(dict(type='BoxQualityRetrofit', detector=retrofit, quality_head=SMALL_HEAD),
            StackError, 'got a IoUBranchRetrofit')
    refused(dict(type='BoxQualityRetrofit', detector=quality, quality_head=SMALL_HEAD),
            StackError, 'got a BoxQualityRetrofit')
    for inner in (quality, calibrated, retrofit):
        refused(dict(type='IoUBranchRetrofit', detector=inner, checkpoint='unused.pth'),
                StackError, 'IoUBranchRetrofit: the detector must be a plain one')
    refused(dict(type='IoUBranchRetrofit', detector=retina, checkpoint='unused.pth'),
            RetrofitError, 'no IoU branch to train on a RetinaNet')
    refused(dict(type='BoxQualityRetrofit', detector=detector_cfg('iou-net_paper', 'nms'),
                 quality_head=SMALL_HEAD), RetrofitError, 'IoU-Net has its own IoU head')
    refused(dict(type='BoxQualityRetrofit', detector=detector_cfg('paa', 'nms'),
                 quality_head=SMALL_HEAD), RetrofitError, 'PAAHead cannot hand its candidates')


def test_checkpoints_load_both_ways(tmp_path):
    """A plain detector's checkpoint loads into the wrapped stack (only the wrapper's own
    keys missing); what the stack saves loads back into the plain detector."""
    retina = detector_cfg('retinanet', 'nms')
    plain = build(retina)
    stack = build(dict(type='CalibratedDetector', calibration=calibration(
        tmp_path, num_classes(retina)), detector=dict(
            type='BoxQualityRetrofit', detector=retina, quality_head=SMALL_HEAD)))
    torch.manual_seed(9)
    for p in plain.parameters():
        p.data.normal_()
    result = stack.load_state_dict(plain.state_dict(), strict=False)
    assert not result.unexpected_keys
    assert result.missing_keys and all(k.startswith('quality_head.') for k in
                                       result.missing_keys)
    saved = stack.state_dict()
    fresh = build(retina)
    result = fresh.load_state_dict(saved, strict=False)
    assert not result.missing_keys
    assert sorted(result.unexpected_keys) == sorted(k for k in saved
                                                    if k.startswith('quality_head.'))
    assert all(torch.equal(v, plain.state_dict()[k]) for k, v in fresh.state_dict().items())
