"""The calibration authors' evaluation protocol on kept raw detections (val and test), for
every confidence a run has and for two oracles (:func:`run_protocol`; :func:`run_protocol_halves`
for a benchmark with one evaluation split)."""
import contextlib
import io

import numpy as np

from iou_aware.analysis import detection_calibration as dc
from iou_aware.analysis.ground_truth import load_ground_truth
from iou_aware.analysis.report import detection_table, predictions_from_raw_detections

STAGES = ('thresholded', 'isotonic', 'linear')  # protocol variants after 'all'


def confidences(dets):
    """Every confidence worth scoring: the model's own, cls x predicted IoU, and oracles
    that know the true IoU of each box (the best a localization estimate could do)."""
    out = {'cls_score': dets['cls_score'], 'fused_score': dets['fused_score']}
    if np.isfinite(dets['pred_iou']).any():
        out['pred_iou'] = dets['pred_iou']
        out['cls_x_iou'] = dets['cls_score'] * dets['pred_iou']
    out['oracle_true_iou'] = dets['true_iou']
    out['oracle_cls_x_true_iou'] = dets['cls_score'] * dets['true_iou']
    return {k: np.clip(np.asarray(v, float), 0.0, 1.0) for k, v in out.items()}


def load_split(npz, ann_file, classes):
    """(detections with true IoUs, ground truth) of one split."""
    from pycocotools.coco import COCO
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints while loading
        coco = COCO(ann_file)
    gt, _, _ = load_ground_truth(coco, classes, ann_file)
    return detection_table(predictions_from_raw_detections(npz), gt), gt


def split_halves(dets, gt):
    """Two disjoint halves of one evaluation split, by image: the images in sorted id order,
    even positions fit (the protocol's val), odd positions report (its test). Deterministic,
    so every run of a benchmark is fitted and scored on the same images."""
    ids = sorted(gt)
    halves = []
    for parity in (0, 1):
        keep = np.isin(dets['img_id'], ids[parity::2])
        halves.append(({k: np.asarray(v)[keep] for k, v in dets.items()},
                       {i: gt[i] for i in ids[parity::2]}))
    return halves[0], halves[1]


def run_protocol(val_npz, val_ann, test_npz, test_ann, classes, matching=dc.DEFAULT_MATCHING):
    """JSON-ready: for each confidence, LaECE_0 / LaACE_0 / LRP_0 over every emitted test
    detection ('all'), under class-wise LRP-optimal thresholds fitted on val
    ('thresholded'), and with a class-wise isotonic or linear calibrator fitted on val."""
    return protocol_report(load_split(val_npz, val_ann, classes),
                           load_split(test_npz, test_ann, classes), classes, matching)


def run_protocol_halves(npz, ann_file, classes, matching=dc.DEFAULT_MATCHING):
    """:func:`run_protocol` for a benchmark with one evaluation split (shapes): fitted on one
    half of its images and reported on the other (:func:`split_halves`)."""
    val, test = split_halves(*load_split(npz, ann_file, classes))
    report = protocol_report(val, test, classes, matching)
    report['splits'] = ('one evaluation split in two halves by image (sorted ids): even '
                        'positions fit thresholds and calibrators, odd positions report')
    return report


def protocol_report(val, test, classes, matching=dc.DEFAULT_MATCHING):
    """The protocol on (detections, ground truth) of a fitting split and a reporting split;
    ``matching`` at tau 0: 'reference' (the authors' code's, the default) or 'overlap'
    (:func:`iou_aware.analysis.detection_calibration.match_detections`)."""
    (dv, gv), (dt, gtt) = val, test
    cv, ct = confidences(dv), confidences(dt)
    n = len(classes)
    by = {name: confidence_entry((dv, gv, cv[name]), (dt, gtt, ct[name]), n, matching)
          for name in ct}
    return dict(protocol='Kuzucu et al. 2024: class-wise LRP-optimal thresholds (tau 0) and '
                'calibrators fitted on val, LaECE_0 (25 bins) / LaACE_0 / LRP_0 on test',
                matching=matching, classes=list(classes), by_confidence=by)


def confidence_entry(val, test, num_classes, matching=dc.DEFAULT_MATCHING):
    """One confidence's figures: over every emitted test detection ('all') and after each of
    :data:`STAGES` fitted on val. ``val``, ``test``: (detections, ground truth, scores)."""
    dt, gtt, scores = test
    n = num_classes
    match = dc.match_detections(dt, gtt, scores, 0.0, n, matching)
    r = dc.lrp(dt, gtt, scores, 0.0, n, match=match)
    entry = dict(all=dict(
        laece=dc.laece(dt, gtt, scores, 0.0, num_classes=n, match=match)['laece'],
        laace=dc.laace(dt, gtt, scores, 0.0, num_classes=n, match=match)['laace'],
        lrp=r['lrp'], lrp_loc=r['lrp_loc'], lrp_fp=r['lrp_fp'], lrp_fn=r['lrp_fn'],
        num_test=int(len(scores))))
    for stage, calibrator in zip(STAGES, ('identity', 'isotonic', 'linear')):
        entry[stage] = dc.calibration_protocol(val, test, calibrator, num_classes=n,
                                               matching=matching)
    return entry
