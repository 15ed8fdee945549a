"""The localization report against values known by construction (not computed by the
functions under test)."""
import numpy as np
import pytest

from iou_aware.analysis import expected_calibration_error
from iou_aware.analysis.report import build_report

CLASSES = ('a', 'b')


def coco_from(images, annotations):
    from pycocotools.coco import COCO
    coco = COCO()
    coco.dataset = dict(images=[dict(id=i, width=100, height=100, file_name=f'{i}.png') for i in images],
                        annotations=annotations,
                        categories=[dict(id=10 + k, name=n) for k, n in enumerate(CLASSES)])
    coco.createIndex()
    return coco


def constructed(shift=0.05):
    """Per image one 10x10 object of class a at (10k, 10k); per object five detections of
    class a whose height is cut to 10, 8, 6, 4, 2 px, so their true IoU is 1, .8, .6, .4,
    .2 by construction, and one class-b detection on it (true IoU 0: wrong class).
    Predicted IoU = true IoU + shift; the score makes the exact box rank first."""
    anns, preds = [], []
    for img in range(1, 5):
        x = y = 10.0 * img
        anns.append(dict(id=img, image_id=img, category_id=10, bbox=[x, y, 10, 10], area=100,
                         iscrowd=0))
        heights = np.array([10, 8, 6, 4, 2], float)
        boxes = [[x, y, x + 10, y + h] for h in heights] + [[x, y, x + 10, y + 10]]
        pred_iou = np.append(heights / 10 + shift, 0.9)
        preds.append(dict(img_id=img, pred_instances=dict(
            bboxes=np.array(boxes), labels=np.array([0] * 5 + [1]),
            scores=np.append(heights / 10, 0.3), cls_scores=np.linspace(0.9, 0.4, 6),
            pred_ious=pred_iou)))
    return anns, preds


def test_report_on_detections_of_known_true_iou():
    anns, preds = constructed(shift=0.05)
    report, dets = build_report(preds, coco_from(range(1, 5), anns), CLASSES)
    assert report['num_gt'] == 4 and report['num_detections'] == 24
    assert report['num_matched'] == 20  # the wrong-class detections have true IoU 0
    np.testing.assert_allclose(np.sort(dets['true_iou'][dets['true_iou'] > 0]),
                               np.repeat([0.2, 0.4, 0.6, 0.8, 1.0], 4))
    gt0 = report['correlation_with_true_iou']
    assert gt0['pred_iou']['pearson'] == pytest.approx(1.0) and gt0['pred_iou']['n'] == 20
    ge05 = report['correlation_with_true_iou_at_least_0_5']
    assert ge05['pred_iou']['n'] == 12  # true IoU 1, .8, .6 of each object
    # cls scores fall linearly with the rank, i.e. with the height: Pearson 1 too
    assert gt0['cls_score']['pearson'] == pytest.approx(1.0)
    ece = report['expected_calibration_error']
    assert ece['value'] == pytest.approx(0.05) and ece['of'] == 'pred_iou' and ece['n'] == 20
    # over all detections the four wrong-class ones (predicted 0.9, true 0) join the exact
    # copies (predicted 1.05, true 1) in the last bin: mean predicted 0.975, mean true 0.5
    every = report['expected_calibration_error_all_detections']
    assert every['n'] == 24 and every['detections'] == 'all'
    assert every['value'] == pytest.approx(16 / 24 * 0.05 + 8 / 24 * 0.475)
    last = report['calibration_all_detections'][-1]
    assert last['n'] == 8 and last['mean_true'] == pytest.approx(0.5)
    # the exact copy outranks every other detection of its object: AP 1 at each threshold
    assert all(v == pytest.approx(1.0) for v in report['ap_by_iou_threshold'].values())


def test_ece_of_a_calibrated_and_a_shifted_predictor():
    true = np.linspace(0.01, 0.99, 99)
    assert expected_calibration_error(true, true) == pytest.approx(0.0)
    shifted = true[true > 0.1]
    assert expected_calibration_error(shifted - 0.1, shifted) == pytest.approx(0.1)
    # per-bin gaps weighted by the bins' shares: (2/4) * |0.15 - 0.2| + (2/4) * |0.85 - 0.6|
    assert expected_calibration_error([0.15, 0.15, 0.85, 0.85], [0.1, 0.3, 0.3, 0.9]) == \
        pytest.approx(0.5 * 0.05 + 0.5 * 0.25)
    assert np.isnan(expected_calibration_error([], []))


def test_report_of_a_model_without_iou_branch_calibrates_the_cls_score():
    anns, preds = constructed()
    for p in preds:
        del p['pred_instances']['pred_ious']
    report, _ = build_report(preds, coco_from(range(1, 5), anns), CLASSES)
    assert not report['has_iou_branch'] and report['localization_confidence'] == 'cls_score'
    assert report['expected_calibration_error']['of'] == 'cls_score'


def test_report_with_no_detections_is_valid():
    anns = [dict(id=1, image_id=1, category_id=10, bbox=[0, 0, 10, 10], area=100, iscrowd=0)]
    preds = [dict(img_id=1, pred_instances=dict(bboxes=np.zeros((0, 4)), labels=np.zeros(0, int),
                                                 scores=np.zeros(0)))]
    report, _ = build_report(preds, coco_from([1], anns), CLASSES)
    assert report['num_detections'] == 0 and not report['has_iou_branch']
    assert all(v == 0 for v in report['ap_by_iou_threshold'].values())
    assert np.isnan(report['correlation_with_true_iou']['cls_score']['pearson'])
    assert np.isnan(report['expected_calibration_error']['value'])


def test_flawed_ground_truth_is_dropped_and_named():
    anns, preds = constructed()
    anns.append(dict(id=99, image_id=1, category_id=10, bbox=[50, 50, 0, 0], area=0, iscrowd=0))
    report, _ = build_report(preds, coco_from(range(1, 5), anns), CLASSES, source='gt.json')
    assert report['num_gt'] == 4
    assert report['ground_truth_flaws'].startswith('gt.json: dropped 1 ')
    assert 'zero-size (id 99 in 1.png)' in report['ground_truth_flaws']
