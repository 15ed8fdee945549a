"""DetectionCalibrationMetric inside mmdet's evaluator agrees with the analysis module run on
the same detections, and reports each confidence the detections carry."""
import json

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.registry import init_default_scope

import iou_aware  # noqa: F401
from iou_aware.analysis import detection_calibration as dc

init_default_scope('mmdet')


def coco_file(tmp_path):
    data = dict(images=[dict(id=1, width=100, height=100, file_name='1.png'),
                        dict(id=2, width=100, height=100, file_name='2.png')],
                annotations=[dict(id=1, image_id=1, category_id=7, bbox=[10, 10, 20, 20], area=400, iscrowd=0),
                             dict(id=2, image_id=2, category_id=8, bbox=[50, 50, 30, 10], area=300, iscrowd=0)],
                categories=[dict(id=7, name='a'), dict(id=8, name='b')])
    path = tmp_path / 'ann.json'
    path.write_text(json.dumps(data))
    return str(path)


def test_metric_equals_the_analysis_on_the_same_detections(tmp_path):
    ann = coco_file(tmp_path)
    evaluator = Evaluator(dict(type='DetectionCalibrationMetric', ann_file=ann))
    evaluator.dataset_meta = dict(classes=('a', 'b'))
    preds = {1: (np.array([[10, 10, 30, 30], [12, 10, 30, 30], [60, 60, 70, 70]], np.float32),
                 np.array([0, 0, 1]), np.array([0.9, 0.8, 0.3], np.float32),
                 np.array([0.95, 0.7, 0.2], np.float32)),
             2: (np.array([[50, 50, 80, 58]], np.float32), np.array([1]),
                 np.array([0.6], np.float32), np.array([0.75], np.float32))}
    samples = [dict(img_id=i, pred_instances=dict(
        bboxes=torch.as_tensor(b), labels=torch.as_tensor(l), scores=torch.as_tensor(s),
        pred_ious=torch.as_tensor(q))) for i, (b, l, s, q) in preds.items()]
    evaluator.process(samples)
    out = evaluator.evaluate(2)
    dets = dict(img_id=np.array([1, 1, 1, 2]), label=np.array([0, 0, 1, 1]),
                bbox=np.concatenate([preds[1][0], preds[2][0]]).astype(float))
    gt = {1: (np.array([[10, 10, 30, 30.]]), np.array([0])),
          2: (np.array([[50, 50, 80, 60.]]), np.array([1]))}
    for field, short in (('scores', 'score'), ('pred_ious', 'iou')):
        scores = np.concatenate([preds[1][2 if field == 'scores' else 3],
                                 preds[2][2 if field == 'scores' else 3]]).astype(float)
        want = dc.laece(dets, gt, scores, 0.0, num_classes=2)['laece']
        assert out[f'calibration/{short}_laece_0'] == pytest.approx(100 * want, abs=0.01)
        assert out[f'calibration/{short}_lrp_0'] == pytest.approx(
            100 * dc.lrp(dets, gt, scores, 0.0, 2)['lrp'], abs=0.01)
    assert 'calibration/cls_laece_0' not in out  # no cls_scores in these detections
