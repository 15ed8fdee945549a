import numpy as np
import pytest

from iou_aware.analysis import calibration_table, correlations, true_ious


def test_true_iou_is_best_same_class_overlap():
    gt = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], float)
    gt_labels = np.array([0, 1])
    det = np.array([[0, 0, 10, 5],      # half of gt 0, same class
                    [0, 0, 10, 10],     # exactly gt 0 but labelled class 1
                    [20, 20, 30, 30],   # exactly gt 1
                    [50, 50, 60, 60]])  # nothing
    got = true_ious(det, np.array([0, 1, 1, 0]), gt, gt_labels)
    np.testing.assert_allclose(got, [0.5, 0.0, 1.0, 0.0])
    assert true_ious(det, np.array([0, 1, 1, 0]), np.zeros((0, 4)), np.zeros(0)).tolist() == [0] * 4


def test_correlations_rank_and_linear():
    x = np.linspace(0, 1, 20)
    c = correlations(x ** 3, x)
    assert c['spearman'] == pytest.approx(1.0) and 0.9 < c['pearson'] < 1.0 and c['n'] == 20
    assert correlations(-x, x)['pearson'] == pytest.approx(-1.0)
    assert np.isnan(correlations([0.5, 0.5, 0.5], [0.1, 0.2, 0.3])['pearson'])


def test_calibration_table_bins_cover_everything():
    pred = np.array([0.05, 0.15, 0.95, 1.0, 0.0])
    true = np.array([0.1, 0.2, 0.9, 0.8, 0.0])
    rows = calibration_table(pred, true, bins=10)
    assert sum(r['n'] for r in rows) == 5
    assert rows[0]['n'] == 2 and rows[9]['n'] == 2 and rows[9]['mean_true'] == pytest.approx(0.85)
    assert rows[5]['mean_predicted'] is None
