"""CalibratedDetector: the configured detector, unchanged weights and keys, whose predictions
carry calibrated scores (class-wise, as the file says) after NMS."""
import json
import os.path as osp

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.testing import demo_mm_inputs
from mmengine.config import Config
from mmengine.registry import init_default_scope

import iou_aware  # noqa: F401
from iou_aware.models.calibrated_detector import FORMAT, CalibrationError

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RETINANET = osp.join(ROOT, 'configs/retinanet/retinanet_tiny-r18_fpn_shapes.py')
init_default_scope('mmdet')
NUM_CLASSES = 6


def calibration_file(tmp_path, thresholds, calibrators, operating=None, classes=NUM_CLASSES):
    data = dict(format=FORMAT, classes=[f'c{k}' for k in range(classes)], fitted=dict(
        calibrator='isotonic', thresholds=thresholds,
        operating_thresholds=operating if operating is not None else [float('nan')] * classes,
        calibrators=calibrators))
    path = tmp_path / 'calibration.json'
    path.write_text(json.dumps(data))
    return str(path)


def build(calibration=None, **kwargs):
    model_cfg = Config.fromfile(RETINANET).model
    model_cfg.test_cfg.score_thr = 0.0  # random weights: keep every candidate
    torch.manual_seed(0)
    if calibration is None:
        return MODELS.build(model_cfg).eval()
    torch.manual_seed(0)
    return MODELS.build(dict(type='CalibratedDetector', detector=model_cfg,
                             calibration=calibration, **kwargs)).eval()


def predict(model):
    torch.manual_seed(1)
    packed = demo_mm_inputs(1, image_shapes=(3, 128, 128), num_items=[2],
                            num_classes=NUM_CLASSES)
    with torch.no_grad():
        data = model.data_preprocessor(packed, False)
        return model.predict(data['inputs'], data['data_samples'])[0].pred_instances


# a step map per class: class c halves its scores and adds c / 100 (isotonic knots)
STEPS = [dict(method='isotonic', x=[0.0, 1.0], y=[c / 100, 0.5 + c / 100])
         for c in range(NUM_CLASSES)]


def test_same_weights_and_keys_as_the_plain_detector(tmp_path):
    plain = build()
    ours = build(calibration_file(tmp_path, [float('nan')] * NUM_CLASSES, STEPS))
    assert type(ours.detector) is type(plain)
    a, b = plain.state_dict(), ours.state_dict()
    assert list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)


def test_scores_are_calibrated_per_class_and_raw_scores_kept(tmp_path):
    plain = predict(build())
    ours = predict(build(calibration_file(tmp_path, [float('nan')] * NUM_CLASSES, STEPS)))
    assert len(ours) == len(plain) > 0
    assert torch.equal(ours.bboxes, plain.bboxes) and torch.equal(ours.raw_scores, plain.scores)
    expected = plain.scores.double() * 0.5 + plain.labels.double() / 100
    torch.testing.assert_close(ours.scores.double(), expected, atol=1e-6, rtol=0)


def test_thresholds_drop_detections_unless_asked_not_to(tmp_path):
    plain = predict(build())
    cut = float(plain.scores.median())
    thresholds = [cut] * NUM_CLASSES
    identity = [dict(method='identity')] * NUM_CLASSES
    path = calibration_file(tmp_path, thresholds, identity)
    kept = predict(build(path))
    assert torch.equal(kept.raw_scores, plain.scores[plain.scores >= cut])
    everything = predict(build(path, apply_thresholds=False))
    assert len(everything) == len(plain)


@pytest.mark.parametrize('change, message', [
    (dict(classes=3), 'is for 3 classes'),
    (dict(thresholds=[0.1]), 'one number per class'),
])
def test_a_file_that_does_not_fit_the_model_is_refused(tmp_path, change, message):
    classes = change.get('classes', NUM_CLASSES)
    thresholds = change.get('thresholds', [0.0] * classes)
    path = calibration_file(tmp_path, thresholds, [dict(method='identity')] * classes,
                            operating=[0.0] * classes, classes=classes)
    with pytest.raises(CalibrationError, match=message):
        build(path)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(CalibrationError, match='cannot be read'):
        build(str(tmp_path / 'nope.json'))
