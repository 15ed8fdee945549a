"""What a prediction carries: every field a detection of this project's models may hold
(in mmdet's ``pred_instances``, an ``InstanceData``), its meaning and when it is present.
One definition, used by every head and wrapper (:func:`attach`) and by the docs
(docs/tools.md lists :data:`FIELDS`); :func:`check_prediction` says what is wrong with one.

mmdet's own fields (``bboxes``, ``labels``, ``scores``) keep mmdet's meaning: ``scores`` is
what the detections are ranked and thresholded by, whichever model made them.
"""
import torch

MMDET_FIELDS = ('bboxes', 'labels', 'scores')

# field -> (meaning, who sets it / when present)
FIELDS = {
    'cls_scores': ('the classification score of the detection\'s label (sigmoid or softmax), '
                   'before any fusion with a predicted IoU',
                   'every head with a quality estimate (IoU-aware RetinaNet and ATSS, IoU-Net, '
                   'the peers GFL/VFNet/PAA/ATSS) and the box-quality head'),
    'pred_ious': ('the predicted IoU of the box with its object (localization confidence); '
                  'for the box-quality head its loc estimate, the IoU given a true positive',
                  'the same models as cls_scores'),
    'tp_probs': ('the box-quality head\'s probability that the detection is a true positive',
                 'BoxQualityRetrofit'),
    'det_scores': ('the detector\'s own score of the detection, before the box-quality head '
                   're-scored it',
                   'BoxQualityRetrofit'),
    'branch_ious': ('the detector\'s own predicted IoU (its IoU branch), where the box-quality '
                    'head\'s estimate took the name pred_ious',
                    'BoxQualityRetrofit over a detector with an IoU branch'),
    'raw_scores': ('the uncalibrated score (what scores was before calibration)',
                   'CalibratedDetector'),
}


def attach(pred, **fields):
    """Set ``fields`` (names from :data:`FIELDS`) on ``pred``; an unknown name is an error,
    so that a new field is defined here before any model sets it."""
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise KeyError(f'prediction fields {unknown} are not defined in '
                       f'iou_aware/models/prediction_fields.py (known: {sorted(FIELDS)})')
    for name, value in fields.items():
        setattr(pred, name, value)
    return pred


def check_prediction(pred):
    """Problems with ``pred`` (an InstanceData of detections), as readable lines: a field
    not defined here, or one that is not a 1-D tensor with one value per detection."""
    problems = []
    n = len(pred)
    for name in pred.keys():
        if name not in MMDET_FIELDS and name not in FIELDS:
            problems.append(f'{name}: not a defined prediction field')
            continue
        value = pred.get(name)
        if name == 'bboxes':
            continue
        if not isinstance(value, torch.Tensor) or value.shape != (n,):
            problems.append(f'{name}: expected a Tensor[{n}], got '
                            f'{getattr(value, "shape", type(value).__name__)}')
    return problems


def quality_fields(pred):
    """The names of the fields beyond mmdet's that ``pred`` carries."""
    return sorted(k for k in pred.keys() if k in FIELDS)
