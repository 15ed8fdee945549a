"""Fit a trained detector's calibration on its val split and write it beside a config that
applies it (``CalibratedDetector``). ``tools/calibrate.py`` is the command-line face of
:func:`calibrate_detector`; a wheel install calibrates through this module alone."""
import math
import os
import os.path as osp

import numpy as np

from iou_aware.analysis.detection_calibration import fit_calibration
from iou_aware.analysis.ground_truth import load_ground_truth
from iou_aware.analysis.report import detection_table
from iou_aware.models.calibrated_detector import FORMAT
from iou_aware.utils.dataset_checks import coco_split_files
from iou_aware.utils.inference import predict_test_split
from iou_aware.utils.json_io import write_json

CALIBRATION_FILE = 'calibration.json'


class CalibrationError(ValueError):
    """The config or its val split cannot be calibrated (named in the message)."""


def calibrate_detector(cfg, checkpoint, out_dir, config_path, calibrator='isotonic',
                       record=None):
    """Run ``checkpoint`` on the val split of ``cfg`` (a loaded mmengine ``Config`` of the
    file ``config_path``), fit class-wise LRP-optimal thresholds and a class-wise
    ``calibrator`` ('isotonic' or 'linear'), and write ``out_dir/calibration.json`` and
    ``out_dir/<config name>_calibrated.py`` (``CONFIG`` with the calibration applied after NMS).

    ``record``: extra facts stored under ``fitted_on`` (e.g. the lab's provenance).
    Returns ``dict(calibration=path, config=path, fitted=..., classes=[...], warnings=[...],
    num_val_detections=n)``.
    """
    if calibrator not in ('isotonic', 'linear'):
        raise CalibrationError(f"calibrator must be 'isotonic' or 'linear', got {calibrator!r}")
    if cfg.model.get('type') == 'CalibratedDetector':
        raise CalibrationError(f'{config_path} is already calibrated ({cfg.model.calibration});'
                               ' calibrate the config it was made from')
    if not cfg.get('val_dataloader'):
        raise CalibrationError(f'{config_path} has no val_dataloader: calibration is fitted on '
                               'the val split')
    cfg.test_dataloader = cfg.val_dataloader  # run the model on val, not on test
    ann_file = coco_split_files(cfg, 'val')[0]
    predictions, dataset = predict_test_split(cfg, checkpoint)
    classes = list(dataset.metainfo['classes'])
    from mmdet.datasets.api_wrappers import COCO
    gt, _, _ = load_ground_truth(COCO(ann_file), classes, ann_file)
    dets = detection_table(predictions, gt)
    if len(dets['fused_score']) == 0:
        raise CalibrationError(f'the model made no detections on the val split ({ann_file}): '
                               'nothing to fit')
    scores = np.clip(dets['fused_score'], 0.0, 1.0)
    fitted = fit_calibration(dets, gt, scores, calibrator, num_classes=len(classes))
    warnings = []
    for c, name in enumerate(classes):
        if fitted['num_val_per_class'][c] == 0:
            warnings.append(f'class {name!r} has no detections on the val split: its detections '
                            'are kept whole with their raw scores')
        elif math.isnan(fitted['thresholds'][c]):
            warnings.append(f'class {name!r} has no true positive on the val split: its '
                            'detections are kept whole')
    os.makedirs(out_dir, exist_ok=True)
    data = dict(format=FORMAT, classes=classes,
                score='the detector\'s detection score (pred_instances.scores) after NMS',
                target='IoU with the one-to-one matched object of the class, 0 for a false '
                       'positive (duplicate, wrong class, background)',
                fitted=fitted,
                fitted_on=dict(ann_file=ann_file, config=config_path,
                               checkpoint=osp.abspath(checkpoint), **(record or {})))
    cal_path = osp.join(out_dir, CALIBRATION_FILE)
    write_json(data, cal_path)
    name = osp.splitext(osp.basename(config_path))[0]
    cfg_path = osp.join(out_dir, f'{name}_calibrated.py')
    with open(cfg_path, 'w') as f:
        f.write(f'# {name} with the calibration fitted by tools/calibrate.py on {ann_file}\n'
                f'_base_ = {osp.abspath(config_path)!r}\n'
                "model = dict(_delete_=True, type='CalibratedDetector', "
                'detector={{_base_.model}},\n'
                f'             calibration={osp.abspath(cal_path)!r})\n')
    return dict(calibration=cal_path, config=cfg_path, fitted=fitted, classes=classes,
                warnings=warnings, num_val_detections=int(len(scores)))
