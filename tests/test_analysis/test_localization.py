import numpy as np
import pytest

from iou_aware.analysis import calibration_table, correlations, true_ious


def test_true_iou_is_best_same_class_overlap():
    gt = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], float)
    gt_labels = np.array([0, 1])
    det = np.array([[0, 0, 10, 5],      # half of gt 0, same class
                    [0, 0, 10, 10],     # exactly gt 0 but labelled class 1
                    [20, 20, 30, 30],   # exactly gt 1
                    [50, 50, 60, 60]])  # nothing
    got = true_ious(det, np.array([0, 1, 1, 0]), gt, gt_labels)
    np.testing.assert_allclose(got, [0.5, 0.0, 1.0, 0.0])
    assert true_ious(det, np.array([0, 1, 1, 0]), np.zeros((0, 4)), np.zeros(0)).tolist() == [0] * 4


def test_correlations_rank_and_linear():
    x = np.linspace(0, 1, 20)
    c = correlations(x ** 3, x)
    assert c['spearman'] == pytest.approx(1.0) and 0.9 < c['pearson'] < 1.0 and c['n'] == 20
    assert correlations(-x, x)['pearson'] == pytest.approx(-1.0)
    assert np.isnan(correlations([0.5, 0.5, 0.5], [0.1, 0.2, 0.3])['pearson'])


def test_calibration_table_bins_cover_everything():
    pred = np.array([0.05, 0.15, 0.95, 1.0, 0.0])
    true = np.array([0.1, 0.2, 0.9, 0.8, 0.0])
    rows = calibration_table(pred, true, bins=10)
    assert sum(r['n'] for r in rows) == 5
    assert rows[0]['n'] == 2 and rows[9]['n'] == 2 and rows[9]['mean_true'] == pytest.approx(0.85)
    assert rows[5]['mean_predicted'] is None


def coco_from(images, annotations, classes):
    from pycocotools.coco import COCO
    coco = COCO()
    coco.dataset = dict(images=[dict(id=i, width=100, height=100, file_name=f'{i}.png') for i in images],
                        annotations=annotations,
                        categories=[dict(id=10 + k, name=n) for k, n in enumerate(classes)])
    coco.createIndex()
    return coco


def test_report_on_synthetic_predictions():
    from iou_aware.analysis.report import build_report
    rng = np.random.default_rng(0)
    classes = ('a', 'b')
    anns, preds = [], []
    for img in range(1, 6):
        boxes = []
        for k in range(3):
            x, y, w, h = rng.uniform(0, 50), rng.uniform(0, 50), rng.uniform(10, 40), rng.uniform(10, 40)
            label = int(rng.integers(0, 2))
            anns.append(dict(id=len(anns) + 1, image_id=img, category_id=10 + label, bbox=[x, y, w, h],
                             area=w * h, iscrowd=0))
            boxes.append(([x, y, x + w, y + h], label))
        det_boxes, labels = [], []
        for (b, label) in boxes:  # one exact and one jittered detection per object
            det_boxes += [b, list(np.array(b) + rng.normal(0, 4, 4))]
            labels += [label, label]
        true = true_ious(np.array(det_boxes), np.array(labels), np.array([b for b, _ in boxes]),
                         np.array([l for _, l in boxes]))
        preds.append(dict(img_id=img, pred_instances=dict(
            bboxes=np.array(det_boxes), labels=np.array(labels),
            scores=np.clip(true + rng.normal(0, 0.05, len(true)), 0, 1),
            cls_scores=rng.uniform(0.3, 1, len(true)), pred_ious=true)))
    report, dets = build_report(preds, coco_from(range(1, 6), anns, classes), classes)
    assert report['num_gt'] == 15 and report['num_detections'] == 30 and report['has_iou_branch']
    corr = report['correlation_with_true_iou']
    assert corr['pred_iou']['pearson'] == pytest.approx(1.0)
    assert abs(corr['cls_score']['pearson']) < 0.6
    assert report['correlation_with_true_iou_at_least_0_5']['pred_iou']['pearson'] == pytest.approx(1.0)
    assert report['correlation_with_true_iou_at_least_0_5']['pred_iou']['n'] <= corr['pred_iou']['n']
    # The exact copy of every object outranks its jittered twin: AP 1 at every threshold.
    assert all(v == pytest.approx(1.0) for v in report['ap_by_iou_threshold'].values())


def test_report_with_no_detections_is_valid():
    from iou_aware.analysis.report import build_report
    anns = [dict(id=1, image_id=1, category_id=10, bbox=[0, 0, 10, 10], area=100, iscrowd=0)]
    preds = [dict(img_id=1, pred_instances=dict(bboxes=np.zeros((0, 4)), labels=np.zeros(0, int),
                                                 scores=np.zeros(0)))]
    report, _ = build_report(preds, coco_from([1], anns, ('a',)), ('a',))
    assert report['num_detections'] == 0 and not report['has_iou_branch']
    assert all(v == 0 for v in report['ap_by_iou_threshold'].values())
    assert np.isnan(report['correlation_with_true_iou']['cls_score']['pearson'])
