"""Kept raw detections (detections.npz) recompute the whole summary, and the field's figures
in it agree with a hand count on detections of known true IoU."""
import json

import numpy as np
import pytest

from iou_aware.analysis.report import (build_report, predictions_from_raw_detections,
                                       write_report)

from .test_report import CLASSES, coco_from, constructed


def test_summary_recomputed_from_raw_detections_is_identical(tmp_path):
    anns, preds = constructed(shift=0.05)
    for p in preds:  # float32, as models output them
        p['pred_instances'] = {k: (np.asarray(v, np.float32) if k != 'labels' else v)
                               for k, v in p['pred_instances'].items()}
    preds.append(dict(img_id=5, pred_instances=dict(  # an image without detections
        bboxes=np.zeros((0, 4), np.float32), labels=np.zeros(0, int),
        scores=np.zeros(0, np.float32), cls_scores=np.zeros(0, np.float32),
        pred_ious=np.zeros(0, np.float32))))
    coco = coco_from(range(1, 6), anns)
    report, dets = build_report(preds, coco, CLASSES)
    write_report(report, dets, str(tmp_path), image_ids=[p['img_id'] for p in preds])
    again, _ = build_report(predictions_from_raw_detections(tmp_path / 'detections.npz'),
                            coco, CLASSES)
    assert json.dumps(again, sort_keys=True) == json.dumps(report, sort_keys=True)
    assert again['num_images'] == 5


def test_raw_detections_of_another_kind_are_refused(tmp_path):
    np.savez_compressed(tmp_path / 'x.npz', boxes=np.zeros((1, 4)))
    with pytest.raises(ValueError, match='not a detections.npz'):
        predictions_from_raw_detections(tmp_path / 'x.npz')


def test_field_figures_count_duplicates_and_wrong_classes_as_false_positives():
    """Per object: 5 class-a boxes of true IoU 1, .8, .6, .4, .2 (scores = their IoU) and a
    class-b box. At IoU > 0 only the best-scored a-box matches (IoU 1); the other four a-boxes
    are duplicates (target 0) and class b has no object (target 0 for its box)."""
    anns, preds = constructed(shift=0.05)
    report, _ = build_report(preds, coco_from(range(1, 5), anns), CLASSES)
    fig = report['detection_calibration']['by_confidence']['fused_score']
    # class a: targets 1, 0, 0, 0, 0 for scores 1, .8, .6, .4, .2 -> mean |s - t| = 2/5 * ...
    laace_a = np.mean([abs(1.0 - 1.0), 0.8, 0.6, 0.4, 0.2])
    laace_b = 0.3  # its score 0.3, target 0
    assert fig['laace_0'] == pytest.approx((laace_a + laace_b) / 2)
    # LRP_0 over class a (class b has no object, so it is not averaged): 4 TP of IoU 1,
    # 16 FP, 0 FN -> (0 + 16 + 0) / (4 + 16 + 0)
    assert fig['lrp_0']['lrp'] == pytest.approx(16 / 20)
    # oLRP at 0.5: the threshold 1.0 keeps exactly the 4 perfect boxes -> 0
    assert fig['olrp']['olrp'] == pytest.approx(0.0)
