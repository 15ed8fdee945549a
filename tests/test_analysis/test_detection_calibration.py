"""Detection calibration metrics (LaECE, LaACE, LRP, oLRP, the Kuzucu et al. protocol)
against hand-computed cases and a slow reference matcher written here."""
import json

import numpy as np
import pytest

from iou_aware.analysis.detection_calibration import (
    apply_calibrator, apply_thresholds, calibration_protocol, fit_classwise_calibrators,
    fit_isotonic, fit_linear, laace, laece, lrp, lrp_optimal_thresholds, match_detections,
    optimal_lrp)

OBJ = [0, 0, 10, 10]  # a ground-truth box; [0, 0, 10, h] overlaps it with IoU h / 10
FAR = [50, 50, 60, 60]  # overlaps nothing


def box(h):
    return [0, 0, 10, h]


def make(rows):
    """Detections from (img_id, label, bbox, score) rows -> (dets, scores)."""
    if not rows:
        return dict(img_id=np.zeros(0), label=np.zeros(0, int), bbox=np.zeros((0, 4))), np.zeros(0)
    img, lab, bb, sc = zip(*rows)
    return (dict(img_id=np.array(img, float), label=np.array(lab, int), bbox=np.array(bb, float)),
            np.array(sc, float))


def gts(**images):
    """gt from img<N>=[(bbox, label), ...]."""
    out = {}
    for name, objs in images.items():
        out[int(name[3:])] = (np.array([o[0] for o in objs], float).reshape(-1, 4),
                              np.array([o[1] for o in objs], int))
    return out


# ----------------------------------------------------------------------------- matching

def test_duplicate_and_wrong_class_get_target_zero():
    gt = gts(img1=[(OBJ, 0)])
    dets, s = make([(1, 0, OBJ, 0.9),       # TP, IoU 1
                    (1, 0, box(5), 0.8),    # duplicate of the same object
                    (1, 1, OBJ, 0.7)])      # perfect box, wrong class
    m = match_detections(dets, gt, s, 0.0)
    assert m['matched'].tolist() == [True, False, False]
    assert m['iou'].tolist() == [1.0, 0.0, 0.0]
    assert m['num_gt'].tolist() == [1, 0]
    # LaECE_0 per class: class 0 = (|0.9 - 1| + |0.8 - 0|) / 2 (different bins), class 1 = 0.7
    res = laece(dets, gt, s, tau=0.0)
    assert res['per_class'] == pytest.approx([0.45, 0.7])
    assert res['laece'] == pytest.approx((0.45 + 0.7) / 2)


def test_greedy_goes_by_score_not_by_iou():
    gt = gts(img1=[(OBJ, 0)])
    dets, s = make([(1, 0, OBJ, 0.4), (1, 0, box(5), 0.9)])  # the better box scores lower
    m = match_detections(dets, gt, s, 0.5)
    assert m['matched'].tolist() == [False, True] and m['iou'].tolist() == [0.0, 0.5]
    # equal scores: input order decides (stable), as COCOeval's mergesort
    dets, s = make([(1, 0, box(5), 0.9), (1, 0, OBJ, 0.9)])
    assert match_detections(dets, gt, s, 0.5)['matched'].tolist() == [True, False]


def test_threshold_zero_reference_rule_lets_a_non_overlapping_box_take_an_object():
    """The authors' (COCOeval's) rule at tau 0: the higher-scored box that overlaps nothing
    takes the free object with IoU 0, and the overlapping box behind it is unmatched."""
    gt = gts(img1=[(OBJ, 0)])
    dets, s = make([(1, 0, FAR, 0.9),     # no overlap
                    (1, 0, box(2), 0.3)])  # IoU 0.2
    m = match_detections(dets, gt, s, 0.0)
    assert m['matched'].tolist() == [True, False]
    assert m['iou'] == pytest.approx([0.0, 0.0]) and m['gt_index'].tolist() == [0, -1]
    assert match_detections(dets, gt, s, 0.5)['matched'].tolist() == [False, False]


def test_threshold_zero_overlap_rule_needs_overlap():
    gt = gts(img1=[(OBJ, 0)])
    dets, s = make([(1, 0, FAR, 0.9),     # no overlap: a false positive even at tau 0
                    (1, 0, box(2), 0.3)])  # IoU 0.2: gets the object at tau 0
    m = match_detections(dets, gt, s, 0.0, matching='overlap')
    assert m['matched'].tolist() == [False, True]
    assert m['iou'] == pytest.approx([0.0, 0.2])
    with pytest.raises(ValueError, match='matching: must be one of'):
        match_detections(dets, gt, s, 0.0, matching='coco')


def test_iou_exactly_at_threshold_matches_and_equal_ious_take_the_last_object():
    gt = gts(img1=[(OBJ, 0), (OBJ, 0)])  # two identical objects
    dets, s = make([(1, 0, box(5), 0.9), (1, 0, box(5), 0.8), (1, 0, box(5), 0.7)])
    m = match_detections(dets, gt, s, 0.5)
    assert m['matched'].tolist() == [True, True, False]
    assert m['gt_index'].tolist() == [1, 0, -1]  # COCOeval: the last of equal IoUs


def slow_match(img, labels, boxes, scores, gt, thr, overlap=False):
    """Obviously-correct reference: plain loops per image and class."""
    def iou(a, b):
        w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        inter = w * h
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
        return inter / union if union > 0 else 0.0

    n = len(scores)
    matched, ious, index = [False] * n, [0.0] * n, [-1] * n
    for key, (gboxes, glabels) in gt.items():
        for c in set(glabels.tolist()):
            mine = [i for i in range(n) if img[i] == key and labels[i] == c]
            mine = sorted(mine, key=lambda i: -scores[i])  # sorted() is stable
            taken = set()
            for i in mine:
                best, best_iou = -1, -1.0
                for g in range(len(glabels)):
                    if glabels[g] != c or g in taken:
                        continue
                    v = iou(boxes[i], gboxes[g])
                    if v >= thr and (v > 0 or not overlap) and v >= best_iou:  # >=: last
                        best, best_iou = g, v
                if best >= 0:
                    taken.add(best)
                    matched[i], ious[i], index[i] = True, best_iou, best
    return np.array(matched), np.array(ious), np.array(index)


@pytest.mark.parametrize('matching', ['reference', 'overlap'])
@pytest.mark.parametrize('seed', range(4))
@pytest.mark.parametrize('thr', [0.0, 0.3, 0.5])
def test_matching_equals_slow_loop(seed, thr, matching):
    rng = np.random.default_rng(seed)

    def rand_boxes(k):  # small integer grid: many overlaps, exact ties
        xy = rng.integers(0, 8, (k, 2))
        return np.c_[xy, xy + rng.integers(1, 6, (k, 2))].astype(float)

    gt, rows = {}, []
    for key in range(6):
        g = int(rng.integers(0, 6))
        gb, gl = rand_boxes(g), rng.integers(0, 3, g)
        if g > 1:  # a duplicated object: exact IoU ties between objects
            gb[-1], gl[-1] = gb[0], gl[0]
        gt[key] = (gb, gl)
        d = int(rng.integers(0, 12))
        db = rand_boxes(d)
        if g and d:  # some detections exactly on an object
            db[: min(d, g)] = gb[: min(d, g)]
        for b, lab, sc in zip(db, rng.integers(0, 3, d), rng.integers(0, 6, d) / 5):
            rows.append((key, int(lab), b.tolist(), float(sc)))
    order = rng.permutation(len(rows))
    dets, s = make([rows[i] for i in order])
    m = match_detections(dets, gt, s, thr, num_classes=3, matching=matching)
    ref_m, ref_iou, ref_idx = slow_match(dets['img_id'], dets['label'], dets['bbox'], s, gt, thr,
                                         overlap=matching == 'overlap')
    np.testing.assert_array_equal(m['matched'], ref_m)
    np.testing.assert_array_equal(m['gt_index'], ref_idx)
    np.testing.assert_allclose(m['iou'], ref_iou, rtol=0, atol=1e-12)
    assert m['num_gt'].tolist() == [sum(int((l == c).sum()) for _, l in gt.values())
                                    for c in range(3)]


# ----------------------------------------------------------------------------- LaECE / LaACE

def five_detections():
    """Class 0, one object per image; (score, target at tau 0):
    (0.9, 1.0) (0.92, 0.5) (0.2, 0) (0.21, 0.3) (0.0, 0)."""
    gt = gts(img1=[(OBJ, 0)], img2=[(OBJ, 0)], img3=[(OBJ, 0)], img4=[(OBJ, 0)],
             img5=[(OBJ, 0)])
    return make([(1, 0, OBJ, 0.9), (2, 0, box(5), 0.92), (3, 0, FAR, 0.2),
                 (4, 0, box(3), 0.21), (5, 0, FAR, 0.0)]), gt


def test_laece_25_bins_by_hand_with_scores_on_bin_edges():
    edges = np.linspace(0, 1, 26)
    assert edges[5] == 0.2 and edges[23] == 0.92  # the scores below sit exactly on edges
    (dets, s), gt = five_detections()
    # Bins (a, b]: 0.9 and 0.92 share (0.88, 0.92]; 0.2 is alone in (0.16, 0.2];
    # 0.21 alone in (0.2, 0.24]; 0.0 in the closed first bin [0, 0.04].
    by_hand = (abs((0.9 + 0.92) - (1.0 + 0.5)) + abs(0.2 - 0) + abs(0.21 - 0.3) + 0) / 5
    assert by_hand == pytest.approx(0.122)
    res = laece(dets, gt, s, tau=0.0, bins=25)
    assert res['laece'] == pytest.approx(by_hand) and res['num_classes'] == 1
    # one bin: |sum conf - sum target| / n
    assert laece(dets, gt, s, bins=1)['laece'] == pytest.approx(abs(2.23 - 1.8) / 5)
    # tau 0.5: the 0.3-IoU box becomes a false positive (target 0)
    by_hand_05 = (abs(1.82 - 1.5) + 0.2 + 0.21 + 0) / 5
    assert laece(dets, gt, s, tau=0.5)['laece'] == pytest.approx(by_hand_05)


def test_score_one_is_in_the_last_bin():
    gt = gts(img1=[(OBJ, 0)])
    dets, s = make([(1, 0, FAR, 1.0)])
    assert laece(dets, gt, s)['laece'] == pytest.approx(1.0)


def test_laace_by_hand():
    (dets, s), gt = five_detections()
    by_hand = (0.1 + 0.42 + 0.2 + 0.09 + 0.0) / 5
    assert laace(dets, gt, s, tau=0.0)['laace'] == pytest.approx(by_hand)


def test_class_average_and_classes_without_detections_are_skipped():
    gt = gts(img1=[(OBJ, 0), ([20, 20, 30, 30], 1), ([40, 0, 50, 10], 2)],
             img2=[])
    dets, s = make([(1, 0, box(5), 0.7),            # class 0: |0.7 - 0.5| = 0.2
                    (1, 1, [20, 20, 30, 30], 0.5),  # class 1: (|0.5 - 1| + |0.9 - 0|) / 2
                    (2, 1, FAR, 0.9),
                    (2, 3, FAR, 0.4)])              # class 3: detections, no object anywhere
    # class 2 has an object but no detection: skipped
    res = laece(dets, gt, s)
    assert res['per_class'][:2] == pytest.approx([0.2, 0.7]) and np.isnan(res['per_class'][2])
    assert res['per_class'][3] == pytest.approx(0.4)
    assert res['num_classes'] == 3 and res['laece'] == pytest.approx((0.2 + 0.7 + 0.4) / 3)
    # the authors' code also skips classes without ground truth
    strict = laece(dets, gt, s, require_gt=True)
    assert strict['num_classes'] == 2 and strict['laece'] == pytest.approx(0.45)
    a = laace(dets, gt, s, num_classes=5)
    assert len(a['per_class']) == 5 and a['laace'] == pytest.approx((0.2 + 0.7 + 0.4) / 3)


def test_no_detections_at_all_gives_nan():
    dets, s = make([])
    res = laece(dets, gts(img1=[(OBJ, 0)]), s)
    assert np.isnan(res['laece']) and res['num_classes'] == 0


# ----------------------------------------------------------------------------- LRP

def lrp_case():
    """Class 0, 3 objects: TP IoU 1 (0.9), TP IoU 0.6 (0.8), background (0.7), duplicate
    (0.6), one object missed; class 1: an object, only a 0.3-IoU box."""
    gt = gts(img1=[(OBJ, 0), ([20, 0, 30, 10], 0)], img2=[(OBJ, 0), (OBJ, 1)])
    return make([(1, 0, OBJ, 0.9), (1, 0, [20, 0, 30, 6], 0.8), (1, 0, FAR, 0.7),
                 (1, 0, box(9), 0.6), (2, 1, box(3), 0.5)]), gt


def test_lrp_components_by_hand():
    (dets, s), gt = lrp_case()
    r = lrp(dets, gt, s, tau=0.5)
    pc = r['per_class']
    assert (pc['num_tp'][0], pc['num_fp'][0], pc['num_fn'][0]) == (2, 2, 1)
    # (sum (1 - IoU) / (1 - tau) + FP + FN) / (TP + FP + FN) = ((0 + 0.4) / 0.5 + 2 + 1) / 5
    assert pc['lrp'][0] == pytest.approx(3.8 / 5)
    assert pc['loc'][0] == pytest.approx(0.2) and pc['fp'][0] == pytest.approx(0.5)
    assert pc['fn'][0] == pytest.approx(1 / 3)
    # class 1: IoU 0.3 < 0.5, no TP: LRP 1, loc/FP undefined, FN 1
    assert (pc['num_tp'][1], pc['num_fp'][1], pc['num_fn'][1]) == (0, 1, 1)
    assert pc['lrp'][1] == 1.0 and np.isnan(pc['loc'][1]) and pc['fn'][1] == 1.0
    assert r['lrp'] == pytest.approx((0.76 + 1) / 2)
    assert r['lrp_loc'] == pytest.approx(0.2) and r['lrp_fn'] == pytest.approx((1 / 3 + 1) / 2)
    # tau 0: the 0.3-IoU box is a TP with loc error 0.7 -> LRP_1 = 0.7 / 1
    r0 = lrp(dets, gt, s, tau=0.0)
    assert r0['per_class']['lrp'][0] == pytest.approx((0.4 + 2 + 1) / 5)
    assert r0['per_class']['lrp'][1] == pytest.approx(0.7)


def test_lrp_skips_classes_without_ground_truth():
    gt = gts(img1=[(OBJ, 0)])
    dets, s = make([(1, 0, OBJ, 0.9), (1, 1, FAR, 0.8)])
    r = lrp(dets, gt, s, tau=0.5)
    assert np.isnan(r['per_class']['lrp'][1]) and r['num_classes'] == 1 and r['lrp'] == 0.0


def test_lrp_optimal_threshold_by_hand():
    gt = gts(img1=[(OBJ, 0)], img2=[(OBJ, 0)])
    # 0.9 TP, 0.8 FP, 0.6 TP. LRP per threshold: 0.9 -> 1/2, 0.8 -> 2/3, 0.6 -> 1/3
    dets, s = make([(1, 0, OBJ, 0.9), (1, 0, FAR, 0.8), (2, 0, OBJ, 0.6)])
    res = optimal_lrp(dets, gt, s, tau=0.5)
    assert res['per_class']['threshold'] == [0.6] and res['olrp'] == pytest.approx(1 / 3)
    assert lrp_optimal_thresholds(dets, gt, s, tau=0.5).tolist() == [0.6]
    # a second false positive at 0.7 makes 0.9 and 0.6 tie at 1/2: the higher one wins
    dets, s = make([(1, 0, OBJ, 0.9), (1, 0, FAR, 0.8), (1, 0, [70, 70, 80, 80], 0.7),
                    (2, 0, OBJ, 0.6)])
    res = optimal_lrp(dets, gt, s, tau=0.5)
    assert res['per_class']['threshold'] == [0.9] and res['olrp'] == pytest.approx(0.5)


def test_olrp_at_tau_half_with_components():
    gt = gts(img1=[(OBJ, 0)], img2=[(OBJ, 0), ([20, 20, 30, 30], 1)])
    dets, s = make([(1, 0, box(6), 0.95),   # TP at 0.5, loc (1 - 0.6) / 0.5 = 0.8
                    (2, 0, box(4), 0.9),    # IoU 0.4: FP at 0.5
                    (2, 0, OBJ, 0.5),       # TP, IoU 1 (the 0.4 box did not take it)
                    (2, 2, FAR, 0.7)])      # class 2: no ground truth -> not averaged
    # thresholds: 0.95 -> (0.8 + 1) / 2 = 0.9; 0.9 -> (0.8 + 1 + 1) / 3; 0.5 -> 1.8 / 3 = 0.6
    res = optimal_lrp(dets, gt, s, tau=0.5)
    pc = res['per_class']
    assert pc['olrp'][0] == pytest.approx(0.6) and pc['threshold'][0] == 0.5
    assert pc['loc'][0] == pytest.approx(0.2) and pc['fp'][0] == pytest.approx(1 / 3)
    assert pc['fn'][0] == 0.0 and (pc['num_tp'][0], pc['num_fp'][0]) == (2, 1)
    assert pc['olrp'][1] == 1.0 and np.isnan(pc['threshold'][1])  # object, no detection
    assert np.isnan(pc['olrp'][2]) and np.isnan(pc['threshold'][2])  # no object
    assert res['num_classes'] == 2 and res['olrp'] == pytest.approx(0.8)
    assert res['olrp_loc'] == pytest.approx(0.2) and res['olrp_fp'] == pytest.approx(1 / 3)
    assert res['olrp_fn'] == pytest.approx(0.5)


def test_equal_scores_split_as_the_authors_do_unless_overlap_rule():
    gt = gts(img1=[(OBJ, 0)])
    # the TP and the FP share 0.8: keeping only the TP is not a threshold
    dets, s = make([(1, 0, OBJ, 0.8), (1, 0, FAR, 0.8)])
    res = optimal_lrp(dets, gt, s, tau=0.5, matching='overlap')
    assert res['olrp'] == pytest.approx(0.5) and res['per_class']['num_fp'] == [1]
    # the authors' code cuts inside the group: LRP 0 after the TP, at threshold 0.8, which
    # applied keeps both (its reported minimum is not reached by its own threshold)
    res = optimal_lrp(dets, gt, s, tau=0.5)
    assert res['olrp'] == pytest.approx(0.0) and res['per_class']['num_fp'] == [0]
    assert res['per_class']['threshold'] == [pytest.approx(0.8)]
    assert apply_thresholds(dets, s, res['per_class']['threshold']).tolist() == [True, True]


def test_apply_thresholds_keeps_scores_at_the_threshold_and_nan_classes():
    dets, s = make([(1, 0, FAR, 0.5), (1, 0, FAR, 0.49), (1, 1, FAR, 0.1), (1, 2, FAR, 0.6)])
    thr = [0.5, np.nan, 0.7]
    assert apply_thresholds(dets, s, thr).tolist() == [True, False, True, False]
    assert apply_thresholds(dets, s, thr, missing='drop').tolist() == [True, False, False, False]


# ----------------------------------------------------------------------------- calibrators

def test_isotonic_serialized_equals_sklearn_and_survives_json():
    sk = pytest.importorskip('sklearn.isotonic')
    rng = np.random.default_rng(0)
    x = np.round(rng.uniform(0.2, 0.9, 60), 2)  # ties
    y = np.clip(x - 0.3 + rng.normal(0, 0.2, 60), 0, 1)
    cal = json.loads(json.dumps(fit_isotonic(x, y)))
    ref = sk.IsotonicRegression(y_min=0, y_max=1, out_of_bounds='clip').fit(x, y)
    grid = np.linspace(0, 1, 101)
    np.testing.assert_allclose(apply_calibrator(cal, grid), ref.predict(grid), atol=1e-12)
    assert np.all(np.diff(apply_calibrator(cal, grid)) >= 0)


def test_linear_calibrator_slope_nonnegative_and_clipped():
    pytest.importorskip('sklearn')
    x = np.array([0.2, 0.4, 0.6, 0.8])
    cal = fit_linear(x, 0.5 * x + 0.1)
    assert cal['slope'] == pytest.approx(0.5) and cal['intercept'] == pytest.approx(0.1)
    cal = json.loads(json.dumps(cal))
    assert apply_calibrator(cal, [0.0, 10.0]).tolist() == pytest.approx([0.1, 1.0])
    # decreasing data: the slope is held at 0 (the ranking is never reversed)
    assert fit_linear(x, 1 - x)['slope'] == pytest.approx(0.0)


def miscalibrated(seed, n=200):
    """One object per image; the box covers h/10 of it (IoU h/10) and the score says
    sqrt(IoU), too high; plus false positives at 0.6-0.8."""
    rng = np.random.default_rng(seed)
    gt, rows = {}, []
    for key in range(n):
        gt[key] = (np.array([OBJ], float), np.array([0]))
        h = rng.uniform(2, 10)
        rows.append((key, 0, box(h), float(np.sqrt(h / 10))))
        if key % 3 == 0:
            rows.append((key, 0, FAR, float(rng.uniform(0.6, 0.8))))
    dets, s = make(rows)
    return dets, gt, s


@pytest.mark.parametrize('method', ['isotonic', 'linear'])
def test_calibrator_reduces_laece_on_held_out_images(method):
    pytest.importorskip('sklearn')
    val, test = miscalibrated(0), miscalibrated(1)
    cals = fit_classwise_calibrators(*val, method=method)
    before = laece(*test)['laece']
    after = laece(test[0], test[1], apply_calibrator(cals[0], test[2]))['laece']
    assert before > 0.15 and after < 0.5 * before


def test_too_few_detections_fall_back_to_identity():
    pytest.importorskip('sklearn')
    gt = gts(img1=[(OBJ, 0), (OBJ, 1)])
    dets, s = make([(1, 0, OBJ, 0.9), (1, 0, FAR, 0.2), (1, 1, OBJ, 0.5)])
    cals = fit_classwise_calibrators(dets, gt, s, 'isotonic', num_classes=3, min_detections=2)
    assert cals[0]['method'] == 'isotonic' and cals[0]['n'] == 2
    assert cals[1]['method'] == 'identity' and cals[1]['n'] == 1 and 'fewer' in cals[1]['reason']
    assert cals[2]['method'] == 'identity' and cals[2]['n'] == 0
    assert apply_calibrator(cals[1], [0.37]).tolist() == [0.37]


# ----------------------------------------------------------------------------- protocol

def tiny_val_test():
    gt = gts(img1=[(OBJ, 0)], img2=[(OBJ, 0)])
    # val at tau 0: thresholds 0.9 -> 1/2, 0.8 -> 0.5/2 = 0.25, 0.3 -> 1.5/3: threshold 0.8
    val = make([(1, 0, OBJ, 0.9), (1, 0, FAR, 0.3), (2, 0, box(5), 0.8)])
    # test: the 0.5 background box falls below 0.8
    test = make([(1, 0, OBJ, 0.85), (1, 0, FAR, 0.5), (2, 0, box(5), 0.95)])
    return (val[0], gt, val[1]), (test[0], gt, test[1])


def test_protocol_on_a_tiny_val_test_pair():
    val, test = tiny_val_test()
    res = calibration_protocol(val, test)
    assert res['thresholds'] == [0.8] and res['operating_thresholds'] == [0.8]
    assert (res['num_val'], res['num_val_kept'], res['num_test'], res['num_test_kept']) == \
        (3, 2, 3, 2)
    # kept: (0.85, IoU 1) and (0.95, IoU 0.5), different bins
    assert res['laece'] == pytest.approx((0.15 + 0.45) / 2)
    assert res['laace'] == pytest.approx((0.15 + 0.45) / 2)
    assert res['lrp'] == pytest.approx(0.5 / 2) and res['lrp_fp'] == 0 and res['lrp_fn'] == 0
    assert res['calibrators'] is None and res['calibrator'] == 'identity'
    json.dumps(res)


def test_protocol_with_isotonic_calibrator():
    pytest.importorskip('sklearn')
    val, test = tiny_val_test()
    res = calibration_protocol(val, test, calibrator='isotonic')
    # fitted on the kept val detections (0.8 -> 0.5, 0.9 -> 1.0), linear in between
    cal = res['calibrators'][0]
    assert cal['method'] == 'isotonic' and cal['x'] == [0.8, 0.9] and cal['y'] == [0.5, 1.0]
    # calibrated val: 1.0 (IoU 1) -> 1/2, 0.5 (IoU 0.5) -> 0.5/2: operating threshold 0.5
    assert res['thresholds'] == [0.8] and res['operating_thresholds'] == [0.5]
    # test: 0.85 -> 0.75 (IoU 1), 0.95 -> 1.0 (IoU 0.5)
    assert res['num_test_kept'] == 2
    assert res['laece'] == pytest.approx((0.25 + 0.5) / 2)
    json.dumps(res)


# ----------------------------------------------------------------------------- bad input

@pytest.mark.parametrize('fn', [laece, laace, lrp, optimal_lrp, match_detections])
def test_bad_input_names_the_argument(fn):
    gt = gts(img1=[(OBJ, 0)])
    dets, s = make([(1, 0, OBJ, 0.9), (1, 0, FAR, 0.5)])
    with pytest.raises(ValueError, match='scores'):
        fn(dets, gt, s[:1])
    with pytest.raises(ValueError, match='scores'):
        fn(dets, gt, np.array([0.9, np.nan]))
    with pytest.raises(ValueError, match="label"):
        fn(dict(dets, label=np.array([0])), gt, s)
    with pytest.raises(ValueError, match='bbox'):
        fn(dict(dets, bbox=dets['bbox'][:, :3]), gt, s)
    with pytest.raises(ValueError, match='img_id'):
        fn(dict(dets, img_id=np.array([1.0, 7.0])), gt, s)  # image 7 not in gt


def test_calibration_metrics_need_confidences_in_unit_interval():
    gt = gts(img1=[(OBJ, 0)])
    dets, s = make([(1, 0, OBJ, 1.5)])
    with pytest.raises(ValueError, match='scores'):
        laece(dets, gt, s)
    with pytest.raises(ValueError, match='tau'):
        lrp(dets, gt, np.array([0.5]), tau=1.0)
