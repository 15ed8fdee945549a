"""A detector that ships calibrated: its scores mean the expected IoU of each detection.

``tools/calibrate.py CONFIG CHECKPOINT`` fits, on the val split, class-wise LRP-optimal score
thresholds and a class-wise calibrator (isotonic or linear regression of the IoU with the
matched object, 0 for a false positive; :func:`iou_aware.analysis.detection_calibration.
fit_calibration`) and writes them to a small JSON file. A config points to it:

    model = dict(_delete_=True, type='CalibratedDetector', detector={{_base_.model}},
                 calibration='calibration.json')

``CalibratedDetector`` holds the detector as configured (any detector or another wrapper:
:mod:`iou_aware.models.detector_wrapper`, same state-dict keys, so every checkpoint of it
loads unchanged) and applies the calibration to the final predictions of that detector:
``scores`` become the calibrated scores, the uncalibrated ones stay as ``raw_scores``, every
other field is kept, and detections below the thresholds are dropped
(``apply_thresholds=False`` keeps them all, e.g. to compute AP). It is the outermost
wrapper of a stack (calibration maps the scores that leave the model), and works for every
detector (RetinaNet, Faster R-CNN, the peers, ours, the box-quality head), through
tools/test.py, tools/image_demo.py and mmdet's ``DetInferencer`` alike, since all of them
build the model from the config.
"""
import json
import math

import numpy as np
import torch
from mmdet.registry import MODELS

from iou_aware.analysis.detection_calibration import CALIBRATORS, apply_calibration

from .detector_wrapper import DetectorWrapper, StackError, wrappers_of
from .prediction_fields import attach

FORMAT = 'iou-aware-calibration/1'


class CalibrationError(ValueError):
    """A calibration file that cannot be used with this model."""


def load_calibration(path, num_classes=None, classes=None):
    """Read and validate a calibration file; ``num_classes`` / ``classes`` are the model's."""
    try:
        with open(path) as f:
            data = json.load(f)
    except OSError as exc:
        raise CalibrationError(f'calibration file {path}: cannot be read ({exc.strerror})')
    except ValueError as exc:
        raise CalibrationError(f'calibration file {path}: not valid JSON ({exc})')
    if not isinstance(data, dict) or data.get('format') != FORMAT:
        raise CalibrationError(f'calibration file {path}: not a {FORMAT} file (written by '
                               'tools/calibrate.py)')
    names = data.get('classes')
    fitted = data.get('fitted')
    if not isinstance(names, list) or not isinstance(fitted, dict):
        raise CalibrationError(f'calibration file {path}: needs "classes" and "fitted"')
    if num_classes is not None and len(names) != num_classes:
        raise CalibrationError(f'calibration file {path} is for {len(names)} classes '
                               f'({", ".join(names)}), the model has {num_classes}')
    if classes is not None and list(classes) != names:
        raise CalibrationError(f'calibration file {path} is for classes {names}, the '
                               f'dataset has {list(classes)}')
    for key in ('thresholds', 'operating_thresholds'):
        values = fitted.get(key)
        if (not isinstance(values, list) or len(values) != len(names)
                or not all(isinstance(v, (int, float)) for v in values)):
            raise CalibrationError(f'calibration file {path}: fitted.{key} must hold one '
                                   f'number per class ({len(names)})')
    cals = fitted.get('calibrators')
    if fitted.get('calibrator') not in CALIBRATORS or (
            cals is not None and (len(cals) != len(names) or not all(
                isinstance(c, dict) and c.get('method') in CALIBRATORS for c in cals))):
        raise CalibrationError(f'calibration file {path}: fitted.calibrator(s) must be one of '
                               f'{CALIBRATORS}, one per class')
    return data


def _num_classes(model):
    head = getattr(model, 'bbox_head', None)
    if head is None and hasattr(model, 'roi_head'):
        head = model.roi_head.bbox_head
    return getattr(head, 'num_classes', None)


@MODELS.register_module()
class CalibratedDetector(DetectorWrapper):
    """``detector`` whose final predictions are calibrated with the file ``calibration``."""

    def __init__(self, detector, calibration, apply_thresholds=True):
        super().__init__(detector)
        data = load_calibration(calibration, _num_classes(self))
        self.calibration = dict(file=calibration, apply_thresholds=bool(apply_thresholds),
                                fitted=data['fitted'])

    @classmethod
    def check_inner(cls, inner):
        if any(isinstance(m, CalibratedDetector) for m in wrappers_of(inner)):
            raise StackError('CalibratedDetector: the detector is already calibrated; a '
                             'calibration maps the scores of an uncalibrated model (fit it '
                             'with tools/calibrate.py on the uncalibrated config)')

    def predict(self, batch_inputs, batch_data_samples, rescale=True):
        samples = self.detector.predict(batch_inputs, batch_data_samples, rescale=rescale)
        for sample in samples:
            sample.pred_instances = calibrate_instances(sample.pred_instances,
                                                        self.calibration)
        return samples


def calibrate_instances(pred, calibration):
    """``pred`` (mmdet's InstanceData) with calibrated ``scores`` (``raw_scores`` kept) and,
    if the calibration says so, without the detections below its thresholds."""
    raw = pred.scores
    labels = pred.labels.detach().cpu().numpy()
    keep, calibrated = apply_calibration(calibration['fitted'], labels,
                                         raw.detach().cpu().double().clamp(0, 1).numpy())
    attach(pred, raw_scores=raw)
    pred.scores = torch.as_tensor(calibrated, dtype=raw.dtype, device=raw.device)
    if calibration['apply_thresholds']:
        pred = pred[torch.as_tensor(np.flatnonzero(keep), device=raw.device)]
    return pred


def thresholds_summary(fitted, classes):
    """One line per class: its thresholds and calibrator, for the tool's output."""
    lines = []
    for c, name in enumerate(classes):
        thr, op = fitted['thresholds'][c], fitted['operating_thresholds'][c]
        cal = (fitted['calibrators'] or [dict(method='identity')] * len(classes))[c]
        fmt = (lambda v: 'none (class kept whole)' if math.isnan(v) else f'{v:.3f}')
        lines.append(f'  {name}: raw score >= {fmt(thr)}, then {cal["method"]}'
                     + (f' ({cal.get("reason")})' if cal.get('reason') else '')
                     + (f', calibrated >= {fmt(op)}' if fitted['calibrators'] else ''))
    return lines
