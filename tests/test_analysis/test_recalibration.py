"""Post-hoc recalibration maps against independent references: the max-min formula of
isotonic regression, known logit-linear parameters, and what a held-out fit may see."""
import numpy as np
import pytest

from benchmarks.studies.recalibration import (cross_fitted, isotonic_apply, isotonic_fit,
                                              logit_linear_apply, logit_linear_fit,
                                              recalibration_report)


def isotonic_by_max_min(x, y):
    """The least-squares non-decreasing fit at each distinct x, by the classical formula
    f(i) = max_{j <= i} min_{k >= i} mean(y over distinct x values j..k) (O(n^3))."""
    xs = np.unique(x)
    groups = [y[x == v] for v in xs]
    out = []
    for i in range(len(xs)):
        out.append(max(min(np.concatenate(groups[j:k + 1]).mean() for k in range(i, len(xs)))
                       for j in range(i + 1)))
    return xs, np.array(out)


@pytest.mark.parametrize('seed', range(5))
def test_isotonic_fit_equals_the_max_min_formula_with_ties(seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 12, 40).astype(float) / 12  # repeated x values
    y = np.clip(x + rng.normal(0, 0.3, 40), 0, 1)
    fitted = isotonic_fit(x, y)  # the product's calibrator: knots only where the fit bends
    ref_x, ref_y = isotonic_by_max_min(x, y)
    np.testing.assert_allclose(isotonic_apply(fitted, ref_x), ref_y, atol=1e-12)
    assert np.all(np.diff(fitted['y']) >= -1e-12)
    np.testing.assert_allclose(isotonic_apply(fitted, x).mean(), y.mean())


def test_isotonic_apply_interpolates_between_knots_and_clamps_outside():
    fitted = isotonic_fit([0.2, 0.6], [0.1, 0.5])
    np.testing.assert_allclose(isotonic_apply(fitted, [0.0, 0.4, 0.6, 1.0]), [0.1, 0.3, 0.5, 0.5])


def test_logit_linear_fit_recovers_known_parameters():
    p = np.linspace(0.01, 0.99, 200)
    logit = np.log(p / (1 - p))
    t = 1 / (1 + np.exp(-(0.6 * logit - 1.2)))  # soft targets exactly on the model
    a, b = logit_linear_fit(p, t)
    assert a == pytest.approx(0.6, abs=1e-6) and b == pytest.approx(-1.2, abs=1e-6)
    np.testing.assert_allclose(logit_linear_apply((a, b), p), t, atol=1e-6)


def test_logit_linear_fit_converges_with_confidences_piled_at_one():
    # IoU-Net-like: most predictions saturate at 1 while the true IoUs are spread; the plain
    # Newton step overshot to a ~ -8e8 on such data.
    rng = np.random.default_rng(0)
    p = np.where(rng.random(2000) < 0.8, 1.0, rng.uniform(0.3, 1, 2000))
    t = rng.uniform(0, 1, 2000) * (p > 0.5)
    a, b = logit_linear_fit(p, t)
    assert np.isfinite([a, b]).all() and a > 0
    q = logit_linear_apply((a, b), p)
    # the optimum's first-order condition in b: mean prediction equals mean target
    assert q.mean() == pytest.approx(t.mean(), abs=1e-6)


def test_cross_fitted_never_uses_the_held_out_images_targets():
    # One fold per image: each image's values come from a map fitted on the other images, so
    # changing one image's targets must leave its own outputs unchanged and move the others'.
    rng = np.random.default_rng(1)
    image_ids = np.repeat(np.arange(6), 30)
    x = rng.uniform(0, 1, len(image_ids))
    y = np.clip(x ** 2 + rng.normal(0, 0.1, len(x)), 0, 1)
    y2 = y.copy()
    y2[image_ids == 3] = 1.0
    for method in ('isotonic', 'logit_linear'):
        out = cross_fitted(x, y, image_ids, method, folds=6)
        out2 = cross_fitted(x, y2, image_ids, method, folds=6)
        own = image_ids == 3
        np.testing.assert_array_equal(out[own], out2[own])
        assert np.abs(out[~own] - out2[~own]).max() > 1e-3


def test_recalibration_makes_an_over_confident_predictor_calibrated_over_all_detections():
    rng = np.random.default_rng(2)
    image_ids = np.repeat(np.arange(200), 20)
    n = len(image_ids)
    true_iou = np.where(rng.random(n) < 0.4, 0.0, rng.uniform(0.1, 1, n))
    # over-confident by a constant: only the flexible (isotonic) map can undo a shift
    shifted = np.clip(true_iou + 0.3 + rng.normal(0, 0.05, n), 0, 1)
    # over-confident in the logit: both maps can undo it
    clipped = np.clip(true_iou, 1e-3, 1 - 1e-3)
    squashed = 1 / (1 + np.exp(-(0.5 * np.log(clipped / (1 - clipped)) + 1.5
                                 + rng.normal(0, 0.05, n))))
    for predicted, methods in ((shifted, ['isotonic']), (squashed, ['isotonic', 'logit_linear'])):
        report = recalibration_report(predicted, true_iou, image_ids)
        assert report['before']['ece_all'] > 0.15
        for method in methods:
            assert report[method]['ece_all'] < 0.05, method


def test_bad_input_is_refused_with_the_argument_named():
    with pytest.raises(ValueError, match='confidence has NaN'):
        recalibration_report([0.5, float('nan')], [0.5, 0.5], [1, 2])
    with pytest.raises(ValueError, match='folds must be at least 2'):
        cross_fitted([0.5, 0.6], [0.5, 0.5], [1, 2], 'isotonic', folds=1)
    with pytest.raises(ValueError, match='cannot be split into 2 folds'):
        cross_fitted([0.5, 0.6], [0.5, 0.5], [1, 1], 'isotonic')
    with pytest.raises(ValueError, match='method must be one of'):
        cross_fitted([0.5, 0.6], [0.5, 0.5], [1, 2], 'platt')
    with pytest.raises(ValueError, match='t \\(the true IoUs\\) must lie in'):
        logit_linear_fit([0.5, 0.6], [0.5, 1.5])
    with pytest.raises(ValueError, match='same non-zero length'):
        isotonic_fit([0.5, 0.6], [0.5])
