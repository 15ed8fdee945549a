"""Build a localization-quality report from dumped mmdet predictions and COCO ground truth."""
import contextlib
import io
import os.path as osp

import numpy as np

from iou_aware.utils.json_io import write_json
from . import detection_calibration as dc
from .ground_truth import load_ground_truth
from .localization import (CALIBRATION_BINS, calibration_table, correlations,
                           expected_calibration_error, true_ious)

SUMMARY_VERSION = 4  # 2: expected_calibration_error, localization_confidence;
#                       3: the same calibration over all detections (*_all_detections);
#                       4: detection_calibration (LaECE_0, LaACE_0, LRP_0, oLRP), provenance
SUMMARY = 'summary.json'

IOU_THRESHOLDS = np.round(np.linspace(0.5, 0.95, 10), 2)
# detections.csv, one row per detection (write_report / read_detections)
DETECTION_COLUMNS = ('img_id', 'label', 'x1', 'y1', 'x2', 'y2', 'fused_score', 'cls_score',
                     'pred_iou', 'true_iou')


def detection_table(predictions, gt, progress=False):
    """One row per detection: image, label, boxes, confidences and the true IoU
    (``progress``: an mmengine progress bar over the images)."""
    cols = {k: [] for k in ('img_id', 'label', 'bbox', 'fused_score', 'cls_score', 'pred_iou',
                            'true_iou')}
    if progress and predictions:
        from mmengine.utils import track_iter_progress
        predictions = track_iter_progress(list(predictions))
    for sample in predictions:
        pred = sample['pred_instances']
        boxes = np.asarray(pred['bboxes'], float).reshape(-1, 4)
        labels = np.asarray(pred['labels'], int)
        scores = np.asarray(pred['scores'], float)
        cls = np.asarray(pred['cls_scores'], float) if 'cls_scores' in pred else scores
        piou = np.asarray(pred['pred_ious'], float) if 'pred_ious' in pred else np.full(len(scores), np.nan)
        gt_boxes, gt_labels = gt.get(sample['img_id'], (np.zeros((0, 4)), np.zeros(0, int)))
        cols['img_id'] += [sample['img_id']] * len(scores)
        cols['label'] += labels.tolist()
        cols['bbox'] += boxes.tolist()
        cols['fused_score'] += scores.tolist()
        cols['cls_score'] += cls.tolist()
        cols['pred_iou'] += piou.tolist()
        cols['true_iou'] += true_ious(boxes, labels, gt_boxes, gt_labels).tolist()
    return {k: (np.array(v, float) if k not in ('bbox',) else np.array(v, float).reshape(-1, 4))
            for k, v in cols.items()}


def ap_by_threshold(coco, cat_ids, dets, max_dets=100):
    """COCO AP at each IoU threshold in IOU_THRESHOLDS (all areas, max_dets per image)."""
    from pycocotools.cocoeval import COCOeval

    from iou_aware.evaluation import ap_at_iou_thresholds
    if len(dets['fused_score']) == 0:
        return [0.0] * len(IOU_THRESHOLDS)
    results = [dict(image_id=int(i), category_id=int(cat_ids[int(l)]),
                    bbox=[b[0], b[1], b[2] - b[0], b[3] - b[1]], score=float(s))
               for i, l, b, s in zip(dets['img_id'], dets['label'], dets['bbox'].tolist(),
                                     dets['fused_score'])]
    with contextlib.redirect_stdout(io.StringIO()):
        ev = COCOeval(coco, coco.loadRes(results), 'bbox')
        ev.params.iouThrs = IOU_THRESHOLDS.astype(float)
        ev.params.maxDets = [1, 10, max_dets]
        ev.evaluate()
        ev.accumulate()
    return [max(ap, 0.0) for ap in ap_at_iou_thresholds(ev)]


def localization_confidence(dets):
    """The column analysed as the localization confidence: ``pred_iou`` where the model
    outputs one (any finite value), else ``cls_score``."""
    return 'pred_iou' if np.isfinite(dets['pred_iou']).any() else 'cls_score'


def field_calibration(dets, gt, confidences, num_classes):
    """The field's figures for each confidence over every emitted detection
    (:mod:`iou_aware.analysis.detection_calibration`): LaECE_0, LaACE_0, LRP_0 (matching at
    IoU > 0, target IoU of the matched object, 0 for a duplicate or background), the SAOD
    LaECE at tau 0.1, and oLRP at 0.5 with its components."""
    out = {}
    for name, scores in confidences.items():
        scores = np.clip(np.nan_to_num(scores, nan=0.0), 0.0, 1.0)
        m0 = dc.match_detections(dets, gt, scores, 0.0, num_classes)
        m01 = dc.match_detections(dets, gt, scores, dc.SAOD_TAU, num_classes)
        r0 = dc.lrp(dets, gt, scores, 0.0, num_classes, match=m0)
        olrp = dc.optimal_lrp(dets, gt, scores, 0.5, num_classes)
        out[name] = dict(
            laece_0=dc.laece(dets, gt, scores, 0.0, num_classes=num_classes, match=m0)['laece'],
            laace_0=dc.laace(dets, gt, scores, 0.0, num_classes=num_classes, match=m0)['laace'],
            laece_0_1=dc.laece(dets, gt, scores, dc.SAOD_TAU, num_classes=num_classes,
                               match=m01)['laece'],
            lrp_0={k: r0[k] for k in ('lrp', 'lrp_loc', 'lrp_fp', 'lrp_fn')},
            olrp={k: olrp[k] for k in ('olrp', 'olrp_loc', 'olrp_fp', 'olrp_fn')},
            olrp_thresholds=olrp['per_class']['threshold'])
    return out


def build_report(predictions, coco, classes, source='ground truth', progress=False,
                 score_thresholds=None):
    """The whole analysis as a JSON-ready dict (plus the per-detection table).

    The localization confidence is the predicted IoU where the model outputs one
    (``pred_ious``), else the classification score; its calibration table and expected
    calibration error are taken over detections with true IoU > 0. ``detection_calibration``
    holds the field's figures (:func:`field_calibration`) for each confidence;
    ``score_thresholds`` (the test-time thresholds and caps the detections passed, from the
    config) is recorded beside them, since a binned error can be lowered by thresholding.
    """
    gt, cat_ids, gt_report = load_ground_truth(coco, classes, source)
    dets = detection_table(predictions, gt, progress)
    matched = dets['true_iou'] > 0
    positive = dets['true_iou'] >= 0.5
    confidence = localization_confidence(dets)
    has_iou = confidence == 'pred_iou'
    confidences = {'cls_score': dets['cls_score'], 'fused_score': dets['fused_score']}
    if has_iou:
        confidences['pred_iou'] = dets['pred_iou']
    calibrated = (dets[confidence][matched], dets['true_iou'][matched])
    # Over every detection too (true IoU 0 included: false positives should predict 0).
    # Dropping the zeros, as the IoU > 0 figures do, makes a predictor that is calibrated
    # over all detections look under-confident in its low bins, where most zeros fall.
    every = (dets[confidence], dets['true_iou'])

    def ece_entry(predicted, true_iou, detections):
        return dict(value=expected_calibration_error(predicted, true_iou), of=confidence,
                    bins=f'{CALIBRATION_BINS} equal-width bins of {confidence} over [0, 1]',
                    detections=detections, n=int(len(true_iou)))

    report = dict(
        summary_version=SUMMARY_VERSION,
        num_images=len(predictions), num_gt=int(sum(len(v[1]) for v in gt.values())),
        num_detections=int(len(dets['fused_score'])), num_matched=int(matched.sum()),
        ground_truth_flaws=gt_report.describe() if gt_report else None,
        has_iou_branch=has_iou,
        correlation_with_true_iou={name: correlations(v[matched], dets['true_iou'][matched])
                                   for name, v in confidences.items()},
        # IoU branches are trained on positives (IoU >= 0.5) first, so report that regime too.
        correlation_with_true_iou_at_least_0_5={
            name: correlations(v[positive], dets['true_iou'][positive])
            for name, v in confidences.items()},
        localization_confidence=confidence,
        calibration=calibration_table(*calibrated),
        calibration_of=confidence,
        expected_calibration_error=ece_entry(*calibrated, 'true IoU > 0'),
        calibration_all_detections=calibration_table(*every),
        expected_calibration_error_all_detections=ece_entry(*every, 'all'),
        ap_by_iou_threshold=dict(zip((f'{t:.2f}' for t in IOU_THRESHOLDS),
                                     ap_by_threshold(coco, cat_ids, dets))),
        detection_calibration=dict(
            detections='every emitted detection', score_thresholds=score_thresholds,
            by_confidence=field_calibration(dets, gt, confidences, len(classes))))
    return report, dets


def write_report(report, dets, out_dir, image_ids=None):
    """summary.json, detections.csv and (given the ids of the images the model ran on) the
    raw detections.npz."""
    write_json(report, osp.join(out_dir, SUMMARY))
    if image_ids is not None:
        write_raw_detections(dets, image_ids, osp.join(out_dir, RAW_DETECTIONS))
    with open(osp.join(out_dir, 'detections.csv'), 'w') as f:
        f.write(','.join(DETECTION_COLUMNS) + '\n')
        for i in range(len(dets['fused_score'])):
            b = dets['bbox'][i]
            f.write(f'{int(dets["img_id"][i])},{int(dets["label"][i])},{b[0]:.2f},{b[1]:.2f},'
                    f'{b[2]:.2f},{b[3]:.2f},{dets["fused_score"][i]:.5f},{dets["cls_score"][i]:.5f},'
                    f'{dets["pred_iou"][i]:.5f},{dets["true_iou"][i]:.5f}\n')


RAW_DETECTIONS = 'detections.npz'
# detections.npz: the model's raw output per detection (what a new metric needs: no true IoU,
# which depends on the ground truth), plus the ids of every image the model was run on
RAW_COLUMNS = {'img_id': np.int64, 'label': np.int16, 'bbox': np.float32,
               'fused_score': np.float32, 'cls_score': np.float32, 'pred_iou': np.float32}


def write_raw_detections(dets, image_ids, path, **extra):
    """The raw detections as a compressed .npz (about 20 bytes a detection). float32 is
    what the models output, so a summary recomputed from it equals the original. ``extra``:
    more per-detection arrays kept beside them as given (e.g. ``evidence``)."""
    np.savez_compressed(path, image_ids=np.asarray(image_ids, np.int64), **extra,
                        **{k: np.asarray(dets[k]).astype(t) for k, t in RAW_COLUMNS.items()})


def predictions_from_raw_detections(path):
    """``detections.npz`` back into per-image predictions, as :func:`build_report` takes
    them (``[{'img_id', 'pred_instances': {...}}]``, every image the model was run on)."""
    try:
        data = np.load(path)
        cols = {k: data[k] for k in RAW_COLUMNS}
        image_ids = data['image_ids']
    except (OSError, KeyError, ValueError) as exc:
        raise ValueError(f'{path}: not a {RAW_DETECTIONS} of tools/analyze_localization.py '
                         f'({type(exc).__name__}: {exc})')
    out = []
    for img_id in image_ids:
        sel = cols['img_id'] == img_id
        inst = dict(bboxes=cols['bbox'][sel], labels=cols['label'][sel].astype(np.int64),
                    scores=cols['fused_score'][sel], cls_scores=cols['cls_score'][sel])
        if np.isfinite(cols['pred_iou'][sel]).any() or not sel.any():
            inst['pred_ious'] = cols['pred_iou'][sel]
        out.append(dict(img_id=int(img_id), pred_instances=inst))
    return out


def read_detections(path):
    """``detections.csv`` as written by :func:`write_report`: {column: float array}."""
    with open(path) as f:
        header = f.readline().strip().split(',')
    if tuple(header) != DETECTION_COLUMNS:
        raise ValueError(f'{path}: not a detections.csv of tools/analyze_localization.py '
                         f'(header {",".join(header)!r}, expected {",".join(DETECTION_COLUMNS)!r})')
    data = np.loadtxt(path, delimiter=',', skiprows=1, ndmin=2)
    if data.shape[1] != len(DETECTION_COLUMNS):
        raise ValueError(f'{path}: rows of {data.shape[1]} values, expected {len(DETECTION_COLUMNS)}')
    return {name: data[:, i] for i, name in enumerate(DETECTION_COLUMNS)}


def write_plots(report, dets, out_dir, title=''):
    """Scatter of true IoU vs each confidence, calibration curve, AP vs IoU threshold."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    matched = dets['true_iou'] > 0
    names = list(report['correlation_with_true_iou'])
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.6), squeeze=False)
    for ax, name in zip(axes[0], names):
        ax.scatter(dets['true_iou'][matched], dets[name][matched], s=3, alpha=0.3)
        r = report['correlation_with_true_iou'][name]['pearson']
        ax.set(xlabel='true IoU', ylabel=name, xlim=(0, 1), ylim=(0, 1),
               title=f'{name}: Pearson {r:.3f}')
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(osp.join(out_dir, 'scatter.png'), dpi=80)
    plt.close(fig)

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8.5, 3.6))
    reliability_diagram(ax1, report)
    thr = [float(t) for t in report['ap_by_iou_threshold']]
    ax2.plot(thr, list(report['ap_by_iou_threshold'].values()), 'o-')
    ax2.set(xlabel='IoU threshold', ylabel='AP', ylim=(0, 1), title='AP vs IoU threshold')
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(osp.join(out_dir, 'calibration_and_ap.png'), dpi=80)
    plt.close(fig)


def reliability_diagram(ax, report, label=None):
    """Mean true IoU per bin of the localization confidence (bars) against the diagonal,
    the share of detections per bin (grey), and the ECE in the title (after ``label``)."""
    rows = report['calibration']
    width = rows[0]['hi'] - rows[0]['lo']
    centres = [(r['lo'] + r['hi']) / 2 for r in rows]
    total = max(sum(r['n'] for r in rows), 1)
    ax.bar(centres, [r['n'] / total for r in rows], width=width, color='0.85',
           label='share of detections')
    ax.bar(centres, [r['mean_true'] if r['n'] else 0 for r in rows], width=width * 0.6,
           color='tab:blue', label='mean true IoU')
    ax.plot([0, 1], [0, 1], 'k:', lw=1, label='perfect calibration')
    marks = [(rows, 'o', 'tab:red', 3, '(mean predicted, mean true)')]
    if report.get('calibration_all_detections'):
        marks.append((report['calibration_all_detections'], 'x', 'tab:green', 4,
                      'same, all detections (true IoU 0 too)'))
    for table, marker, color, size, label_text in marks:
        filled = [r for r in table if r['n']]
        ax.plot([r['mean_predicted'] for r in filled], [r['mean_true'] for r in filled],
                marker, color=color, ms=size, label=label_text)
    ece = report.get('expected_calibration_error', {}).get('value', float('nan'))
    ece_all = (report.get('expected_calibration_error_all_detections') or {}).get('value')
    title = f'reliability (true IoU > 0), ECE {ece:.3f}'
    if ece_all is not None:
        title += f'; all dets {ece_all:.3f}'
    if label:
        title = f'{label}\n{title}'
    ax.set(xlabel=report['calibration_of'], ylabel='true IoU', xlim=(0, 1), ylim=(0, 1))
    ax.set_title(title, fontsize=8)
    ax.legend(fontsize=6, loc='upper left')


def markdown_summary(report):
    lines = [f'{report["num_images"]} images, {report["num_gt"]} ground-truth boxes, '
             f'{report["num_detections"]} detections ({report["num_matched"]} overlap a '
             'ground truth of their class)', '',
             '| confidence | detections | Pearson | Spearman | n |', '|---|---|---:|---:|---:|']
    for key, which in (('correlation_with_true_iou', 'true IoU > 0'),
                       ('correlation_with_true_iou_at_least_0_5', 'true IoU >= 0.5')):
        for name, c in report[key].items():
            lines.append(f'| {name} | {which} | {c["pearson"]:.3f} | {c["spearman"]:.3f} | {c["n"]} |')
    for key in ('expected_calibration_error', 'expected_calibration_error_all_detections'):
        ece = report.get(key) or {}
        if ece:
            which = 'true IoU > 0' if ece['detections'] != 'all' else 'all detections'
            lines += ['', f'expected calibration error of {ece["of"]} ({which}, {ece["bins"]}): '
                      f'{ece["value"]:.3f}']
    lines += ['', '| IoU threshold | ' + ' | '.join(report['ap_by_iou_threshold']) + ' |',
              '|---|' + '---:|' * len(report['ap_by_iou_threshold']),
              '| AP (%) | ' + ' | '.join(f'{100 * v:.1f}' for v in report['ap_by_iou_threshold'].values()) + ' |']
    return '\n'.join(lines)
