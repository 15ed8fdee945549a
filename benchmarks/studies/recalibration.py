"""Post-hoc recalibration of a localization confidence: can a fixed map of the predicted IoU
make it calibrated, and what does that cost in ranking?

Two maps, both monotone increasing in the confidence, fitted to the true IoU of *every*
detection (true IoU 0 included): at test time nothing tells a false positive apart, so a map
fitted on the IoU > 0 detections alone could not be deployed honestly.

- isotonic regression: the least-squares monotone step function;
  flexible, but it ties the detections inside a step, so it can lower a rank correlation;
- logit-linear: ``sigmoid(a * logit(p) + b)``, fitted by the same soft-target BCE the IoU
  branches are trained with; two parameters, strictly increasing for ``a > 0`` (ranking kept).

Fitted and evaluated on different images (:func:`cross_fitted`): each fold's detections are
mapped by the map fitted on the other folds, so the figures are held-out estimates.
The isotonic map is the product's calibrator (the one ``tools/calibrate.py`` ships); the
logit-linear map is this study's own (a trust-region Newton ``scipy.optimize.minimize``): the
product's second calibrator is the authors' plain linear one.
"""
import numpy as np
from scipy.optimize import minimize

from iou_aware.analysis import detection_calibration as dc
from iou_aware.analysis.localization import correlations, expected_calibration_error

EPS = 1e-6  # confidences are clipped to [EPS, 1 - EPS] before the logit


def isotonic_fit(x, y):
    """The product's isotonic calibrator (:func:`~iou_aware.analysis.detection_calibration.
    fit_isotonic`, the one implementation) fitted to ``y`` on ``x``."""
    return dc.fit_isotonic(x, y)


def isotonic_apply(fitted, x):
    """The isotonic fit at ``x``: linear between knots, constant beyond the end knots."""
    return dc.apply_calibrator(fitted, x)


def _logit(p):
    p = np.clip(np.asarray(p, float), EPS, 1 - EPS)
    return np.log(p) - np.log1p(-p)


def logit_linear_fit(p, t, iters=50):
    """``(a, b)`` minimising the mean soft-target BCE of ``sigmoid(a * logit(p) + b)``
    against targets ``t`` in [0, 1] (convex in (a, b))."""
    z, t = _logit(p), np.asarray(t, float)
    if z.shape != t.shape or z.ndim != 1 or len(z) == 0:
        raise ValueError(f'p and t must be 1-d arrays of the same non-zero length, '
                         f'got shapes {z.shape} and {t.shape}')
    if np.any((t < 0) | (t > 1)) or not np.all(np.isfinite(t)):
        raise ValueError('t (the true IoUs) must lie in [0, 1]')
    features = np.stack([z, np.ones_like(z)], axis=1)

    def loss_and_grad(w):  # mean soft-target BCE, written stably through logaddexp
        s = features @ w
        loss = np.mean(np.logaddexp(0, s) - t * s)
        return loss, features.T @ (_sigmoid(s) - t) / len(t)

    def hessian(w):
        q = _sigmoid(features @ w)
        return (features * (q * (1 - q))[:, None]).T @ features / len(t)

    # convex: scipy's trust-region Newton from the identity map (a=1, b=0)
    w = minimize(loss_and_grad, np.array([1.0, 0.0]), jac=True, hess=hessian,
                 method='trust-exact', options=dict(gtol=1e-10, maxiter=iters)).x
    return float(w[0]), float(w[1])


def _sigmoid(s):
    return np.exp(-np.logaddexp(0, -s))


def logit_linear_apply(params, p):
    a, b = params
    return _sigmoid(a * _logit(p) + b)


METHODS = {'isotonic': (isotonic_fit, isotonic_apply),
           'logit_linear': (logit_linear_fit, logit_linear_apply)}


def cross_fitted(confidence, true_iou, image_ids, method, folds=2, seed=0):
    """Held-out recalibrated confidences: images are split at random (``seed``) into
    ``folds`` groups; each group's detections are mapped by ``method`` fitted on the rest."""
    if method not in METHODS:
        raise ValueError(f'method must be one of {sorted(METHODS)}, got {method!r}')
    if folds < 2:
        raise ValueError(f'folds must be at least 2, got {folds}')
    fit, apply = METHODS[method]
    confidence, true_iou = np.asarray(confidence, float), np.asarray(true_iou, float)
    image_ids = np.asarray(image_ids)
    images = np.unique(image_ids)
    if len(images) < folds:
        raise ValueError(f'{len(images)} image(s) cannot be split into {folds} folds')
    fold_of_image = np.random.default_rng(seed).permutation(len(images)) % folds
    fold = fold_of_image[np.searchsorted(images, image_ids)]
    out = np.empty_like(confidence)
    for k in range(folds):
        held = fold == k
        out[held] = apply(fit(confidence[~held], true_iou[~held]), confidence[held])
    return out


def calibration_figures(confidence, true_iou):
    """ECE over true IoU > 0 and over all detections, Pearson r over IoU > 0 and >= 0.5:
    the figures of the analysis summary, for one confidence."""
    matched, positive = true_iou > 0, true_iou >= 0.5
    return dict(
        ece=expected_calibration_error(confidence[matched], true_iou[matched]),
        ece_all=expected_calibration_error(confidence, true_iou),
        r_gt0=correlations(confidence[matched], true_iou[matched])['pearson'],
        r_ge05=correlations(confidence[positive], true_iou[positive])['pearson'])


def recalibration_report(confidence, true_iou, image_ids, folds=2, seed=0):
    """Figures before and after each held-out recalibration, and each map fitted on all
    detections (the one a user would ship; for reference)."""
    confidence, true_iou = np.asarray(confidence, float), np.asarray(true_iou, float)
    if not np.all(np.isfinite(confidence)):
        raise ValueError('confidence has NaN/inf values; pass the column the analysis used '
                         '(pred_iou where the model has an IoU branch, else cls_score)')
    report = dict(before=calibration_figures(confidence, true_iou), folds=folds, split_seed=seed,
                  fitted_on='all detections (true IoU 0 included)', n=int(len(confidence)))
    for method in METHODS:
        mapped = cross_fitted(confidence, true_iou, image_ids, method, folds, seed)
        report[method] = calibration_figures(mapped, true_iou)
    a, b = logit_linear_fit(confidence, true_iou)
    report['logit_linear']['params_all_images'] = dict(a=a, b=b)
    return report
