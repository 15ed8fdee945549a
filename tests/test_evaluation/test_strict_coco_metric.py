"""StrictIoUCocoMetric's AP80/AP90 against pycocotools run directly at those thresholds."""
import contextlib
import io
import json

import numpy as np
import pytest
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

import iou_aware  # noqa: F401
from iou_aware.evaluation import StrictIoUCocoMetric

CLASSES = ('a', 'b')


def ground_truth(tmp_path, rng, extra_anns=()):
    images, anns = [], []
    for img in range(1, 7):
        images.append(dict(id=img, file_name=f'{img}.png', width=200, height=200))
        for _ in range(3):
            x, y = rng.uniform(0, 120, 2)
            w, h = rng.uniform(20, 60, 2)
            anns.append(dict(id=len(anns) + 1, image_id=img, category_id=int(rng.integers(1, 3)),
                             bbox=[x, y, w, h], area=w * h, iscrowd=0))
    anns += list(extra_anns)
    path = tmp_path / 'gt.json'
    path.write_text(json.dumps(dict(images=images, annotations=anns,
                                    categories=[dict(id=1, name='a'), dict(id=2, name='b')])))
    return str(path), images, anns


def detections(anns, rng):
    """Per object three detections jittered by 2-10% of its size, random scores."""
    out = {}
    for ann in anns:
        x, y, w, h = ann['bbox']
        for k in range(3):
            s = 0.02 + 0.04 * k
            box = [x + rng.normal(0, s) * w, y + rng.normal(0, s) * h, x + w, y + h + rng.normal(0, s) * h]
            out.setdefault(ann['image_id'], []).append((box, rng.uniform(), ann['category_id'] - 1))
    return out


def run_metric(ann_file, images, dets):
    metric = StrictIoUCocoMetric(ann_file=ann_file, metric='bbox')
    metric.dataset_meta = dict(classes=CLASSES)
    samples = []
    for im in images:
        d = dets.get(im['id'], [])
        samples.append(dict(img_id=im['id'], ori_shape=(im['height'], im['width']), pred_instances=dict(
            bboxes=torch.tensor([b for b, _, _ in d], dtype=torch.float32).reshape(-1, 4),
            scores=torch.tensor([s for _, s, _ in d], dtype=torch.float32),
            labels=torch.tensor([lab for _, _, lab in d], dtype=torch.long))))
    metric.process({}, samples)
    return metric.evaluate(len(samples))


def pycocotools_ap(ann_file, dets, threshold):
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(ann_file)
        res = gt.loadRes([dict(image_id=i, category_id=lab + 1, score=s,
                               bbox=[b[0], b[1], b[2] - b[0], b[3] - b[1]])
                          for i, d in dets.items() for b, s, lab in d])
        ev = COCOeval(gt, res, 'bbox')
        ev.params.iouThrs = np.array([threshold])
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats[0]  # AP over the (single) IoU threshold, all areas, 100 detections


def test_ap80_ap90_match_pycocotools_at_those_thresholds(tmp_path):
    rng = np.random.default_rng(0)
    ann_file, images, anns = ground_truth(tmp_path, rng)
    dets = detections(anns, rng)
    got = run_metric(ann_file, images, dets)
    for thr, key in ((0.8, 'coco/bbox_mAP_80'), (0.9, 'coco/bbox_mAP_90')):
        assert got[key] == pytest.approx(round(pycocotools_ap(ann_file, dets, thr), 3), abs=1e-9)
    assert 0.05 < got['coco/bbox_mAP_90'] < got['coco/bbox_mAP_80'] < got['coco/bbox_mAP_50'] <= 1


def test_no_detections_gives_zeros(tmp_path):
    ann_file, images, _ = ground_truth(tmp_path, np.random.default_rng(1))
    got = run_metric(ann_file, images, {})
    for key in ('mAP', 'mAP_50', 'mAP_75', 'mAP_80', 'mAP_90'):
        assert got[f'coco/bbox_{key}'] == 0.0


def test_flawed_ground_truth_is_dropped_before_evaluation(tmp_path):
    rng = np.random.default_rng(2)
    zero = dict(id=999, image_id=1, category_id=1, bbox=[50, 50, 0, 0], area=0, iscrowd=0)
    ann_file, images, anns = ground_truth(tmp_path, rng, extra_anns=[zero])
    dets = detections(anns[:-1], rng)
    with_flaw = run_metric(ann_file, images, dets)
    (tmp_path / 'clean').mkdir()
    clean_file, _, _ = ground_truth(tmp_path / 'clean', np.random.default_rng(2))
    # the same objects without the zero-size box: the same AP (it is not an unmatched object)
    assert with_flaw['coco/bbox_mAP'] == run_metric(clean_file, images, dets)['coco/bbox_mAP']
