"""A post-hoc quality estimate in the manner of MetaDetect (Schubert et al. 2020): a small
gradient-boosted regressor maps what the detector's NMS knew about each final box (its cluster
evidence, ``iou_aware/models/box_quality/evidence.py``) and its class to the target the field
scores, the IoU with the object it is matched to one-to-one at tau 0 (0 for a duplicate,
a wrong class or background). Fitted on val only; on val itself each image's score comes from
a model that did not see that image (out-of-fold by image), so thresholds and calibrators
fitted on val see held-out scores, as they will on test.

scikit-learn's ``HistGradientBoostingRegressor`` (squared error: its prediction estimates the
expected target, i.e. an expected IoU that counts a false positive as 0).
"""
import numpy as np

from iou_aware.analysis import detection_calibration as dc

FOLDS = 5
REGRESSOR = dict(max_iter=300, learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=40,
                 l2_regularization=1.0, random_state=0)


def features(dets, evidence, num_classes):
    """[N, E + C]: the evidence columns and a one-hot class."""
    evidence = np.asarray(evidence, float)
    labels = np.asarray(dets['label']).astype(int)
    if evidence.ndim != 2 or len(evidence) != len(labels):
        raise ValueError(f'evidence: expected one row per detection ({len(labels)}), '
                         f'got shape {evidence.shape}')
    return np.concatenate([evidence, np.eye(num_classes)[labels]], 1)


def field_target(dets, gt, num_classes):
    """IoU with the object matched one-to-one at tau 0 in the detector's score order, else 0."""
    match = dc.match_detections(dets, gt, dets['fused_score'], 0.0, num_classes)
    return np.where(match['matched'], match['iou'], 0.0)


def _regressor():
    from sklearn.ensemble import HistGradientBoostingRegressor
    return HistGradientBoostingRegressor(**REGRESSOR)


def fit_predict(x_val, y_val, groups, x_test, folds=FOLDS):
    """(out-of-fold predictions on val, predictions on test of a model fitted on all of
    val), both clipped to [0, 1]. ``groups``: each val row's image (folds never split one)."""
    from sklearn.model_selection import GroupKFold
    groups = np.asarray(groups)
    if len(np.unique(groups)) < folds:
        raise ValueError(f'groups: out-of-fold fitting needs at least {folds} val images, '
                         f'got {len(np.unique(groups))}')
    oof = np.zeros(len(y_val))
    for fit, held in GroupKFold(folds).split(x_val, y_val, groups):
        oof[held] = _regressor().fit(x_val[fit], y_val[fit]).predict(x_val[held])
    test = _regressor().fit(x_val, y_val).predict(x_test)
    return np.clip(oof, 0, 1), np.clip(test, 0, 1)
