"""Calibrate a trained detector once, on its val split, and ship the calibration with it.

    python tools/calibrate.py CONFIG CHECKPOINT [--calibrator isotonic|linear]
                              [--out-dir DIR] [--cfg-options ...]

Runs the model on the config's val split and fits (iou_aware.analysis.detection_calibration):
class-wise LRP-optimal thresholds of the detection score, then a class-wise calibrator
(isotonic by default, or linear) from the score to the IoU of the detection with the object
it matches one-to-one, 0 for a duplicate, a wrong class or background; the calibrated score is
then the detection's expected IoU, the target of LaECE_0. Writes to DIR (default: the
checkpoint's folder):

    calibration.json            thresholds and calibrators, one per class (small)
    <config name>_calibrated.py a config that is CONFIG with the calibration applied after NMS

Use the new config wherever the old one was used (tools/test.py, tools/image_demo.py,
mmdet's DetInferencer): ``scores`` are calibrated, ``raw_scores`` keep the detector's own, and
``pred_ious`` stay the predicted IoU. A class without val detections keeps all its
detections and its raw scores; the tool says so.
"""
import argparse
import math
import os
import os.path as osp

import numpy as np

import iou_aware  # noqa: F401  (registers our components before the config is built)
from iou_aware.analysis.detection_calibration import fit_calibration
from iou_aware.analysis.report import detection_table, load_ground_truth
from iou_aware.models.calibrated_detector import FORMAT, thresholds_summary
from iou_aware.results import write_json
from iou_aware.utils.cli import (add_runner_args, check_datasets_or_fail, fail,
                                 parse_runner_args, prepare_config)
from iou_aware.utils.dataset_checks import coco_split_files
from iou_aware.utils.inference import predict_test_split
from iou_aware.utils.provenance import provenance


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--calibrator', choices=['isotonic', 'linear'], default='isotonic')
    parser.add_argument('--out-dir', help="where the calibration goes (default: the "
                        "checkpoint's folder)")
    parser.add_argument('--work-dir', help="mmengine's log folder (default: OUT_DIR/calibrate)")
    add_runner_args(parser)
    return parse_runner_args(parser, argv)


def main(argv=None):
    args = parse_args(argv)
    if not osp.isfile(args.checkpoint):
        fail(f'checkpoint not found: {args.checkpoint}')
    out = args.out_dir or osp.dirname(osp.abspath(args.checkpoint))
    os.makedirs(out, exist_ok=True)
    args.work_dir = args.work_dir or osp.join(out, 'calibrate')
    cfg = prepare_config(args)
    prov = provenance(cfg, args.config, args.cfg_options)  # the config as given
    if cfg.model.get('type') == 'CalibratedDetector':
        fail(f'{args.config} is already calibrated ({cfg.model.calibration}); calibrate the '
             'config it was made from')
    if not cfg.get('val_dataloader'):
        fail(f'{args.config} has no val_dataloader: calibration is fitted on the val split')
    check_datasets_or_fail(cfg, ('val',))
    cfg.test_dataloader = cfg.val_dataloader  # run the model on val, not on test
    ann_file = coco_split_files(cfg, 'val')[0]
    predictions, dataset = predict_test_split(cfg, args.checkpoint)
    classes = list(dataset.metainfo['classes'])
    from mmdet.datasets.api_wrappers import COCO
    gt, _, _ = load_ground_truth(COCO(ann_file), classes, ann_file)
    dets = detection_table(predictions, gt)
    if len(dets['fused_score']) == 0:
        fail(f'the model made no detections on the val split ({ann_file}): nothing to fit')
    scores = np.clip(dets['fused_score'], 0.0, 1.0)
    fitted = fit_calibration(dets, gt, scores, args.calibrator, num_classes=len(classes))
    for c, name in enumerate(classes):
        if fitted['num_val_per_class'][c] == 0:
            print(f'warning: class {name!r} has no detections on the val split: its detections '
                  'are kept whole with their raw scores')
        elif math.isnan(fitted['thresholds'][c]):
            print(f'warning: class {name!r} has no true positive on the val split: its '
                  'detections are kept whole')
    data = dict(format=FORMAT, classes=classes,
                score='the detector\'s detection score (pred_instances.scores) after NMS',
                target='IoU with the one-to-one matched object of the class, 0 for a false '
                       'positive (duplicate, wrong class, background)',
                fitted=fitted,
                fitted_on=dict(ann_file=ann_file, config=args.config,
                               checkpoint=osp.abspath(args.checkpoint),
                               provenance=prov))
    cal_path = osp.join(out, 'calibration.json')
    write_json(data, cal_path)
    name = osp.splitext(osp.basename(args.config))[0]
    cfg_path = osp.join(out, f'{name}_calibrated.py')
    with open(cfg_path, 'w') as f:
        f.write(f'# {name} with the calibration fitted by tools/calibrate.py on {ann_file}\n'
                f'_base_ = {osp.abspath(args.config)!r}\n'
                "model = dict(_delete_=True, type='CalibratedDetector', "
                'detector={{_base_.model}},\n'
                f'             calibration={osp.abspath(cal_path)!r})\n')
    print(f'calibrated {name} on {len(scores)} val detections ({args.calibrator}):')
    print('\n'.join(thresholds_summary(fitted, classes)))
    print(f'calibration: {cal_path}\nconfig: {cfg_path}')


if __name__ == '__main__':
    main()
