"""Calibration and accuracy metrics of object detectors as the field defines them.

- LaECE (Oksuz et al., CVPR 2023, "Towards Building Self-Aware Object Detectors", SAOD,
  tau = 0.1) and LaECE_0 / LaACE_0 (Kuzucu et al., ECCV 2024, "On Calibration of Object
  Detectors: Pitfalls, Evaluation and Baselines", tau = 0): per class, the confidence of a
  detection should equal the IoU with the object it detects, 0 for a false positive.
- LRP and optimal LRP with components (Oksuz et al., ECCV 2018 / TPAMI 2021).
- The Kuzucu et al. protocol: class-wise LRP-optimal thresholds fitted on val and applied on
  test, optionally a class-wise post-hoc calibrator (isotonic or linear regression) fitted
  on the thresholded val detections; LaECE_0, LaACE_0 and LRP_0 reported on test.

Written from the papers' definitions; edge cases were checked against the authors' code
(fiveai/detection_calibration, fiveai/saod; read, not copied). Decisions and where we
differ from that code:

* Matching (:func:`match_detections`): COCO-style greedy, per image and class, detections in
  descending score order (stable sort: equal scores keep their input order, as COCOeval's
  mergesort). A detection takes the still-unmatched same-class ground truth with the highest
  IoU at or above the threshold; among equal IoUs the *last* ground truth, as COCOeval's
  ``if iou < best: continue`` does. IoU exactly at the threshold matches (COCOeval uses
  ``>=``). **Threshold 0**: COCOeval (hence the authors' LaECE_0/LRP_0) starts the best IoU
  at ``min(tau, 1-1e-10) = 0`` and so matches a box with *no overlap at all* to a free ground
  truth of its class in the same image, as a "true positive" with IoU 0. Its LaECE target
  is 0 either way, but it uses up the ground truth (a lower-scored box that does overlap it
  then gets target 0) and counts as a TP with localisation error 1 in LRP_0. That is the
  default here too (``matching='reference'``), so our LaECE_0 / LRP_0 are the published
  ones: on kept BCCD detections they equal the authors' code's
  (``tests/test_analysis/test_reference_protocol.py``). ``matching='overlap'`` also needs
  IoU > 0 for a match (a box that overlaps no object is a false positive), which this
  project used until 2026-12-07: 1-2 points lower LaECE_0 and LRP_0 on BCCD.
* No crowd / ignore regions (the ground-truth format has none; ``load_ground_truth`` drops
  crowd boxes), so a detection on a crowd region is a false positive, where COCOeval
  ignores it; and no per-image cap (COCOeval keeps 100 per image *and class*; mmdet's
  ``max_per_img`` already caps per image).
* Bins (:func:`laece`): ``bins`` equal-width bins over [0, 1] as in the authors' code: the
  first bin is closed, [0, 1/B], every other one is (j/B, (j+1)/B], i.e. a score exactly on
  an inner edge goes to the *lower* bin, and 1.0 to the last. (SAOD's code used [a, b),
  which leaves a score of exactly 1.0 in no bin.)
* Class averaging: LaECE and LaACE average over the classes that have at least one
  detection. The authors' code in addition skips a class with no ground truth in the
  evaluated set (COCOeval drops it) -- ``require_gt=True`` reproduces that -- and, as a side
  effect of marking empty classes by a 0 error, also drops a class whose error is exactly 0;
  we do not (a perfectly calibrated class counts as 0).
* LRP (:func:`lrp`, :func:`optimal_lrp`): averaged over the classes with at least one
  ground truth (a class without any is undefined, NaN, as in the authors' code). A class
  with ground truth but no true positive has LRP (or oLRP) 1, FN component 1, and
  localisation and FP components undefined (NaN, as the authors); component means are over
  the classes where the component is defined.
* oLRP thresholds: with ``matching='reference'`` the candidates are the authors': a cut
  after every detection in descending score order (stable), the threshold being the score
  at the cut; applied (``score >= threshold``) it keeps the whole group of equal scores, so
  the figure reported at that threshold can differ from the minimum found (it matters
  after an isotonic calibrator, whose scores come in plateaus). With ``'overlap'`` the
  candidates are the distinct scores (a cut only after the last of a group of equal
  scores). Among equal minima the highest threshold (fewest detections) wins, as the
  authors' ``argmin`` over descending scores. The threshold is undefined (NaN) for a class
  with no detection, no ground truth, or no true positive at any threshold.
  :func:`apply_thresholds` keeps all detections of a class whose threshold is NaN by
  default, which is what the authors' ``score < threshold`` deletion does with their NaN
  (and their -1 for classes without ground truth).
* Thresholds in the protocol are LRP-optimal at the *same* tau as the evaluation, tau = 0
  for LaECE_0 (the authors' ``get_detection_thresholds`` is called with ``self.tau``,
  default 0.0).
* Calibrators: fitted per class on the val detections that survive the thresholds, to the
  LaECE targets at tau (IoU of a TP, 0 otherwise). Isotonic regression (``y_min=0,
  y_max=1, out_of_bounds='clip'``); linear regression with a non-negative slope
  (``LinearRegression(positive=True)``, as the authors, so the map never reverses the
  ranking), output clipped to [0, 1]. A class with fewer than ``min_detections`` val
  detections (default 1, as the authors who fit on any class with a detection) keeps its
  scores (identity), and the result says so. Calibrated val detections are thresholded a
  second time (LRP-optimal on the calibrated scores) and test goes through both thresholds,
  as the authors' ``fit``/``transform``.

All returned numbers are fractions in [0, 1] (not percents), in plain dicts of floats and
lists (NaN where undefined) so that they can go to JSON. Pure numpy; sklearn is imported
only by the calibrator fits.
"""
import numpy as np

LAECE_BINS = 25  # as both papers
SAOD_TAU = 0.1  # LaECE of the SAOD paper
PROTOCOL_TAU = 0.0  # LaECE_0, LaACE_0, LRP_0 and the thresholds of Kuzucu et al.
CALIBRATORS = ('identity', 'isotonic', 'linear')


# ----------------------------------------------------------------------------- inputs

def _check_dets(dets, scores, unit_interval=False):
    """The detection arrays (img_id, label, bbox, scores), validated; ValueError names the
    offending argument."""
    for key in ('img_id', 'label', 'bbox'):
        if key not in dets:
            raise ValueError(f"dets: missing column '{key}'")
    img = np.asarray(dets['img_id']).reshape(-1)
    n = len(img)
    label = np.asarray(dets['label'])
    if label.ndim != 1 or len(label) != n:
        raise ValueError(f"dets['label']: expected {n} labels (as dets['img_id']), "
                         f'got shape {label.shape}')
    if n and (not np.all(np.isfinite(label.astype(float))) or np.any(label < 0)
              or np.any(label != np.round(label))):
        raise ValueError("dets['label']: labels must be non-negative integers")
    bbox = np.asarray(dets['bbox'], float)
    if bbox.shape != (n, 4):
        raise ValueError(f"dets['bbox']: expected shape ({n}, 4), got {bbox.shape}")
    if not np.all(np.isfinite(bbox)):
        raise ValueError("dets['bbox']: boxes must be finite")
    scores = np.asarray(scores, float)
    if scores.ndim != 1 or len(scores) != n:
        raise ValueError(f'scores: expected a 1-d array of {n} scores (one per detection), '
                         f'got shape {scores.shape}')
    if not np.all(np.isfinite(scores)):
        raise ValueError('scores: NaN or infinite scores')
    if unit_interval and n and (scores.min() < 0 or scores.max() > 1):
        raise ValueError('scores: calibration needs confidences in [0, 1], got '
                         f'[{scores.min():g}, {scores.max():g}]')
    return img, label.astype(int), bbox, scores


def _check_gt(gt):
    out = {}
    for key, value in gt.items():
        boxes, labels = value
        boxes = np.asarray(boxes, float).reshape(-1, 4)
        labels = np.asarray(labels).reshape(-1)
        if len(boxes) != len(labels):
            raise ValueError(f'gt[{key!r}]: {len(boxes)} boxes but {len(labels)} labels')
        if len(labels) and (np.any(labels < 0) or np.any(labels != np.round(labels))):
            raise ValueError(f'gt[{key!r}]: labels must be non-negative integers')
        out[key] = (boxes, labels.astype(int))
    return out


def _num_classes(labels, gt, num_classes):
    """C: given, or one more than the largest label seen in detections or ground truth."""
    seen = max([int(labels.max()) if len(labels) else -1]
               + [int(lab.max()) for _, lab in gt.values() if len(lab)])
    if num_classes is None:
        return seen + 1
    if seen >= num_classes:
        raise ValueError(f'num_classes: {num_classes} classes but label {seen} occurs')
    return int(num_classes)


def _check_tau(tau):
    if not 0 <= tau < 1:
        raise ValueError(f'tau: IoU threshold must be in [0, 1), got {tau}')


def box_iou(a, b):
    """IoU matrix [len(a), len(b)] of xyxy boxes, area (x2-x1)*(y2-y1) (no +1, as
    torchvision.ops.box_iou); 0 where the union is empty (degenerate boxes)."""
    a, b = np.asarray(a, float).reshape(-1, 4), np.asarray(b, float).reshape(-1, 4)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    w = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]),
                0, None)
    h = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]),
                0, None)
    inter = w * h
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(invalid='ignore', divide='ignore'):
        return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


# ----------------------------------------------------------------------------- matching

MATCHINGS = ('reference', 'overlap')  # at tau 0: the authors' rule, or IoU > 0 required
DEFAULT_MATCHING = 'reference'


def _check_matching(matching):
    if matching not in MATCHINGS:
        raise ValueError(f'matching: must be one of {MATCHINGS}, got {matching!r}')


def match_detections(dets, gt, scores, iou_threshold=0.5, num_classes=None,
                     matching=DEFAULT_MATCHING):
    """COCO-style greedy one-to-one matching, per image and class (rules: module docstring).

    Args:
        dets: dict with ``img_id`` [N], ``label`` [N] (class index), ``bbox`` [N, 4] xyxy.
        gt: ``{img_id: (boxes [G, 4] xyxy, labels [G])}``; it defines the evaluated images,
            so every detection's image must be a key (an image without objects maps to
            empty arrays).
        scores: [N] confidences that order the matching.
        iou_threshold: a match needs IoU >= threshold.
        num_classes: C (default: inferred from the labels).
        matching: 'reference' (COCOeval's, the authors': at threshold 0 a box with no
            overlap can take a free ground truth) or 'overlap' (a match also needs IoU > 0;
            with it, :func:`optimal_lrp` also keeps this project's earlier threshold
            candidates).

    Returns:
        dict of arrays: ``matched`` [N] bool, ``iou`` [N] (IoU with the matched ground truth,
        0 if unmatched), ``gt_index`` [N] (index of the matched box in its image's ground
        truth, -1 if unmatched), ``num_gt`` [C] (ground-truth boxes per class).
    """
    _check_tau(iou_threshold)
    _check_matching(matching)
    img, labels, boxes, scores = _check_dets(dets, scores)
    gt = _check_gt(gt)
    n_cls = _num_classes(labels, gt, num_classes)
    num_gt = np.zeros(n_cls, int)
    for _, gt_labels in gt.values():
        num_gt += np.bincount(gt_labels, minlength=n_cls)
    n = len(img)
    matched = np.zeros(n, bool)
    iou = np.zeros(n)
    gt_index = np.full(n, -1)
    if n == 0:
        return dict(matched=matched, iou=iou, gt_index=gt_index, num_gt=num_gt)
    img_keys, img_code = np.unique(img, return_inverse=True)
    # By image, then by descending score; lexsort is stable, so equal scores keep input order.
    order = np.lexsort((-scores, img_code))
    starts = np.flatnonzero(np.r_[True, np.diff(img_code[order]) != 0])
    for start, stop in zip(starts, np.r_[starts[1:], n]):
        idx = order[start:stop]
        key = img_keys[img_code[idx[0]]].item()
        if key not in gt:
            raise ValueError(f"dets['img_id']: image {key!r} has no entry in gt")
        gt_boxes, gt_labels = gt[key]
        if len(gt_labels) == 0:
            continue
        # Candidate pairs: same class, IoU at/above the threshold (and > 0 for 'overlap').
        ious = box_iou(boxes[idx], gt_boxes)
        ok = (labels[idx, None] == gt_labels[None, :]) & (ious >= iou_threshold)
        if matching == 'overlap':
            ok &= ious > 0
        cand = np.where(ok, ious, -1.0)
        taken = np.zeros(len(gt_labels), bool)
        g_last = len(gt_labels) - 1
        for r in np.flatnonzero(ok.any(axis=1)):  # in score order; others can never match
            row = np.where(taken, -1.0, cand[r])
            j = g_last - int(np.argmax(row[::-1]))  # the last of equal maxima, as COCOeval
            if row[j] < 0:
                continue
            taken[j] = True
            d = idx[r]
            matched[d], iou[d], gt_index[d] = True, row[j], j
    return dict(matched=matched, iou=iou, gt_index=gt_index, num_gt=num_gt)


def _prepare(dets, gt, scores, tau, num_classes, match, unit_interval,
             matching=DEFAULT_MATCHING):
    """Validated labels/scores, C and the matching at tau (computed unless given)."""
    _check_tau(tau)
    _, labels, _, scores = _check_dets(dets, scores, unit_interval)
    if match is None:
        match = match_detections(dets, gt, scores, tau, num_classes, matching)
    elif len(match['matched']) != len(scores):
        raise ValueError(f"match: {len(match['matched'])} entries for {len(scores)} detections")
    n_cls = len(match['num_gt'])
    if len(labels) and labels.max() >= n_cls:
        raise ValueError(f'num_classes: {n_cls} classes but label {labels.max()} occurs')
    return labels, scores, match, n_cls


def _targets(match):
    """LaECE target: the IoU with the matched object for a TP, 0 otherwise (duplicates,
    wrong class, background)."""
    return np.where(match['matched'], match['iou'], 0.0)


def _mean(values):
    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    return float(values.mean()) if len(values) else float('nan')


def _floats(values):
    return [float(v) for v in values]


# ----------------------------------------------------------------------------- calibration

def laece(dets, gt, scores, tau=0.0, bins=LAECE_BINS, num_classes=None, require_gt=False,
          match=None, matching=DEFAULT_MATCHING):
    """Localisation-aware ECE: per class c, over its detections D_c binned by confidence,
    LaECE_c = sum_j |D_j|/|D_c| * |mean conf_j - mean target_j|, averaged over classes.

    tau = 0 gives LaECE_0 (Kuzucu et al.), tau = 0.1 the SAOD LaECE. Classes without a
    detection are skipped; ``require_gt`` also skips classes without ground truth (the
    authors' code). ``match``: a :func:`match_detections` result at tau, to reuse.

    Returns ``{'laece', 'per_class' [C] (NaN = skipped), 'num_classes' (averaged over),
    'tau', 'bins'}``.
    """
    if int(bins) != bins or bins < 1:
        raise ValueError(f'bins: a positive integer, got {bins}')
    bins = int(bins)
    labels, scores, match, n_cls = _prepare(dets, gt, scores, tau, num_classes, match, True,
                                            matching)
    target = _targets(match)
    edges = np.linspace(0.0, 1.0, bins + 1)
    # searchsorted('left') - 1 puts a score equal to an inner edge in the lower bin
    # ((a, b] bins), and 0 (index -1) into the first bin, which is closed: [0, 1/B].
    b = np.clip(np.searchsorted(edges, scores, side='left') - 1, 0, bins - 1)
    cell = labels * bins + b
    size = n_cls * bins
    # |D_j|/|D_c| * |mean conf - mean target| = |sum conf_j - sum target_j| / |D_c|
    gap = np.abs(np.bincount(cell, scores, size) - np.bincount(cell, target, size))
    n_det = np.bincount(labels, minlength=n_cls)
    per_class = np.full(n_cls, np.nan)
    keep = n_det > 0
    if require_gt:
        keep &= match['num_gt'] > 0
    per_class[keep] = gap.reshape(n_cls, bins).sum(axis=1)[keep] / n_det[keep]
    return dict(laece=_mean(per_class), per_class=_floats(per_class),
                num_classes=int(keep.sum()), tau=float(tau), bins=bins)


def laace(dets, gt, scores, tau=0.0, num_classes=None, require_gt=False, match=None,
          matching=DEFAULT_MATCHING):
    """Localisation-aware ACE (Kuzucu et al.): per class the mean |confidence - target| over
    its detections (no bins), averaged over the classes with detections (``require_gt``:
    and ground truth, as the authors' code).

    Returns ``{'laace', 'per_class' [C] (NaN = skipped), 'num_classes', 'tau'}``.
    """
    labels, scores, match, n_cls = _prepare(dets, gt, scores, tau, num_classes, match, True,
                                            matching)
    err = np.bincount(labels, np.abs(scores - _targets(match)), n_cls)
    n_det = np.bincount(labels, minlength=n_cls)
    keep = n_det > 0
    if require_gt:
        keep &= match['num_gt'] > 0
    per_class = np.full(n_cls, np.nan)
    per_class[keep] = err[keep] / n_det[keep]
    return dict(laace=_mean(per_class), per_class=_floats(per_class),
                num_classes=int(keep.sum()), tau=float(tau))


# ----------------------------------------------------------------------------- LRP

def _lrp_terms(tp, fp, n_gt, loc_sum, tau):
    """LRP and its components from counts (arrays broadcast); the class rules of the
    module docstring: NaN without ground truth, loc/FP components NaN without a TP."""
    tp, fp, n_gt, loc_sum = (np.asarray(v, float) for v in (tp, fp, n_gt, loc_sum))
    fn = n_gt - tp
    with np.errstate(invalid='ignore', divide='ignore'):
        value = (loc_sum / (1.0 - tau) + fp + fn) / (tp + fp + fn)
        loc = np.where(tp > 0, loc_sum / tp, np.nan)
        fp_rate = np.where(tp > 0, fp / (tp + fp), np.nan)
        fn_rate = fn / n_gt
    no_gt = n_gt == 0
    value = np.where(no_gt, np.nan, np.where(tp > 0, value, 1.0))
    fn_rate = np.where(no_gt, np.nan, fn_rate)
    return value, loc, fp_rate, fn_rate


def lrp(dets, gt, scores, tau=0.0, num_classes=None, match=None, matching=DEFAULT_MATCHING):
    """LRP of the given detections as they are (no score threshold), per class
    LRP = (sum_TP (1 - IoU)/(1 - tau) + N_FP + N_FN) / (N_TP + N_FP + N_FN),
    averaged over the classes with ground truth. ``scores`` only order the matching.

    Components per class: ``loc`` = mean (1 - IoU) over TPs, ``fp`` = N_FP / N_det,
    ``fn`` = N_FN / N_gt. Returns ``{'lrp', 'lrp_loc', 'lrp_fp', 'lrp_fn', 'num_classes',
    'tau', 'per_class': {'lrp', 'loc', 'fp', 'fn', 'num_tp', 'num_fp', 'num_fn'}}``.
    """
    labels, scores, match, n_cls = _prepare(dets, gt, scores, tau, num_classes, match, False,
                                            matching)
    tp = np.bincount(labels, match['matched'].astype(float), n_cls)
    n_det = np.bincount(labels, minlength=n_cls)
    loc_sum = np.bincount(labels, np.where(match['matched'], 1.0 - match['iou'], 0.0), n_cls)
    n_gt = match['num_gt']
    value, loc, fp_rate, fn_rate = _lrp_terms(tp, n_det - tp, n_gt, loc_sum, tau)
    return dict(lrp=_mean(value), lrp_loc=_mean(loc), lrp_fp=_mean(fp_rate),
                lrp_fn=_mean(fn_rate), num_classes=int((n_gt > 0).sum()), tau=float(tau),
                per_class=dict(lrp=_floats(value), loc=_floats(loc), fp=_floats(fp_rate),
                               fn=_floats(fn_rate), num_tp=_floats(tp),
                               num_fp=_floats(n_det - tp), num_fn=_floats(n_gt - tp)))


def optimal_lrp(dets, gt, scores, tau=0.5, num_classes=None, match=None,
                matching=DEFAULT_MATCHING):
    """Optimal LRP: per class the lowest LRP over the score thresholds (candidates: the
    distinct scores of the class; a threshold keeps scores >= it), with the components and
    the threshold at that optimum, averaged over the classes with ground truth.

    A class with ground truth but no true positive (or no detection) has oLRP 1 and an
    undefined (NaN) threshold; a class without ground truth is NaN throughout.
    Returns ``{'olrp', 'olrp_loc', 'olrp_fp', 'olrp_fn', 'num_classes', 'tau',
    'per_class': {'olrp', 'loc', 'fp', 'fn', 'threshold', 'num_tp', 'num_fp', 'num_fn'}}``.
    """
    labels, scores, match, n_cls = _prepare(dets, gt, scores, tau, num_classes, match, False,
                                            matching)
    n_gt = match['num_gt']
    res = {k: np.full(n_cls, np.nan) for k in ('olrp', 'loc', 'fp', 'fn', 'threshold',
                                               'num_tp', 'num_fp', 'num_fn')}
    for c in range(n_cls):
        if n_gt[c] == 0:
            continue  # undefined without ground truth
        sel = np.flatnonzero(labels == c)
        sel = sel[np.argsort(-scores[sel], kind='stable')]
        s, hit = scores[sel], match['matched'][sel]
        tp = np.cumsum(hit)
        if len(sel) == 0 or tp[-1] == 0:
            res['olrp'][c], res['fn'][c] = 1.0, 1.0
            res['num_tp'][c], res['num_fp'][c], res['num_fn'][c] = 0, len(sel), n_gt[c]
            continue
        # 'reference': a cut after every detection in score order, as the authors' code
        # (whose threshold, the score at the cut, then keeps the whole group of equal
        # scores); 'overlap' (our earlier rule): cuts only after the last of such a group.
        ends = (np.arange(len(s)) if matching == 'reference'
                else np.flatnonzero(np.r_[s[1:] != s[:-1], True]))
        tp = tp[ends]
        fp = ends + 1 - tp
        loc_sum = np.cumsum(np.where(hit, 1.0 - match['iou'][sel], 0.0))[ends]
        value, loc, fp_rate, fn_rate = _lrp_terms(tp, fp, n_gt[c], loc_sum, tau)
        best = int(np.argmin(value))  # first minimum = highest threshold
        res['olrp'][c], res['loc'][c] = value[best], loc[best]
        res['fp'][c], res['fn'][c] = fp_rate[best], fn_rate[best]
        res['threshold'][c] = s[ends[best]]
        res['num_tp'][c], res['num_fp'][c] = tp[best], fp[best]
        res['num_fn'][c] = n_gt[c] - tp[best]
    return dict(olrp=_mean(res['olrp']), olrp_loc=_mean(res['loc']), olrp_fp=_mean(res['fp']),
                olrp_fn=_mean(res['fn']), num_classes=int((n_gt > 0).sum()), tau=float(tau),
                per_class={k: _floats(v) for k, v in res.items()})


def lrp_optimal_thresholds(dets_val, gt_val, scores_val, tau=PROTOCOL_TAU, num_classes=None,
                           match=None, matching=DEFAULT_MATCHING):
    """Class-wise LRP-optimal score thresholds [C] on val (tau 0 as in Kuzucu et al.'s
    protocol). NaN for a class with no val detection, no val ground truth, or no true
    positive: the caller decides (:func:`apply_thresholds` keeps such a class whole by
    default, as the authors' code)."""
    res = optimal_lrp(dets_val, gt_val, scores_val, tau, num_classes, match, matching)
    return np.asarray(res['per_class']['threshold'], float)


def apply_thresholds(dets, scores, thresholds, missing='keep'):
    """Boolean keep mask: score >= the threshold of the detection's class (``>=`` so that the
    LRP-optimal threshold, the lowest kept score, keeps its own detection). A NaN threshold
    keeps the whole class (``missing='keep'``, the authors' behaviour) or drops it
    (``'drop'``)."""
    if missing not in ('keep', 'drop'):
        raise ValueError(f"missing: 'keep' or 'drop', got {missing!r}")
    _, labels, _, scores = _check_dets(dets, scores)
    thresholds = np.asarray(thresholds, float).reshape(-1)
    if len(labels) and labels.max() >= len(thresholds):
        raise ValueError(f'thresholds: {len(thresholds)} classes but label {labels.max()} occurs')
    thr = thresholds[labels]
    undefined = np.isnan(thr)
    return np.where(undefined, missing == 'keep', scores >= np.where(undefined, 0.0, thr))


# ----------------------------------------------------------------------------- calibrators

def fit_isotonic(scores, targets):
    """Isotonic regression of targets on scores (non-decreasing, output in [0, 1], constant
    beyond the fitted range), as its knots: ``{'method': 'isotonic', 'x', 'y', 'n'}``;
    :func:`apply_calibrator` evaluates it by ``np.interp`` (= sklearn's predict)."""
    from sklearn.isotonic import IsotonicRegression
    scores, targets = _check_fit(scores, targets)
    model = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds='clip')
    model.fit(scores, targets)
    return dict(method='isotonic', x=_floats(model.X_thresholds_),
                y=_floats(model.y_thresholds_), n=int(len(scores)))


def fit_linear(scores, targets):
    """Least-squares line target ~ slope * score + intercept with slope >= 0 (the authors'
    ``LinearRegression(positive=True)``: never reverses the ranking); applied with the
    output clipped to [0, 1]. ``{'method': 'linear', 'slope', 'intercept', 'n'}``."""
    from sklearn.linear_model import LinearRegression
    scores, targets = _check_fit(scores, targets)
    model = LinearRegression(positive=True).fit(scores[:, None], targets)
    return dict(method='linear', slope=float(model.coef_[0]), intercept=float(model.intercept_),
                n=int(len(scores)))


def _check_fit(scores, targets):
    scores, targets = np.asarray(scores, float), np.asarray(targets, float)
    if scores.ndim != 1 or scores.shape != targets.shape or len(scores) == 0:
        raise ValueError(f'scores, targets: 1-d arrays of the same non-zero length, got '
                         f'shapes {scores.shape} and {targets.shape}')
    if not (np.all(np.isfinite(scores)) and np.all(np.isfinite(targets))):
        raise ValueError('scores, targets: NaN or infinite values')
    return scores, targets


def apply_calibrator(calibrator, scores):
    """Calibrated scores in [0, 1] from a serialized calibrator (dict as fitted, or as read
    back from JSON)."""
    scores = np.asarray(scores, float)
    method = calibrator['method']
    if method == 'identity':
        return scores.copy()
    if method == 'isotonic':
        return np.clip(np.interp(scores, calibrator['x'], calibrator['y']), 0.0, 1.0)
    if method == 'linear':
        return np.clip(calibrator['slope'] * scores + calibrator['intercept'], 0.0, 1.0)
    raise ValueError(f"calibrator: unknown method {method!r}")


def fit_classwise_calibrators(dets, gt, scores, method='isotonic', tau=PROTOCOL_TAU,
                              num_classes=None, min_detections=1, match=None,
                              matching=DEFAULT_MATCHING):
    """One calibrator per class, fitted to the LaECE targets at tau of that class's
    detections. A class with fewer than ``min_detections`` detections gets
    ``{'method': 'identity', 'reason': ..., 'n'}`` (scores kept as they are)."""
    fits = {'isotonic': fit_isotonic, 'linear': fit_linear}
    if method not in fits:
        raise ValueError(f"method: 'isotonic' or 'linear', got {method!r}")
    labels, scores, match, n_cls = _prepare(dets, gt, scores, tau, num_classes, match, True,
                                            matching)
    target = _targets(match)
    out = []
    for c in range(n_cls):
        sel = labels == c
        n = int(sel.sum())
        if n < max(1, min_detections):
            out.append(dict(method='identity', n=n,
                            reason=f'{n} detections to fit, fewer than {max(1, min_detections)}'))
        else:
            out.append(fits[method](scores[sel], target[sel]))
    return out


def apply_classwise_calibrators(calibrators, labels, scores):
    """Each detection's score through the calibrator of its class."""
    labels, scores = np.asarray(labels).astype(int), np.asarray(scores, float)
    if labels.shape != scores.shape:
        raise ValueError(f'labels, scores: shapes {labels.shape} and {scores.shape} differ')
    if len(labels) and labels.max() >= len(calibrators):
        raise ValueError(f'calibrators: {len(calibrators)} classes but label {labels.max()} occurs')
    out = scores.copy()
    for c in np.unique(labels):
        sel = labels == c
        out[sel] = apply_calibrator(calibrators[c], scores[sel])
    return out


# ----------------------------------------------------------------------------- protocol

def subset_detections(dets, keep):
    """The detections (``img_id``, ``label``, ``bbox``) a boolean or index ``keep`` selects."""
    return {k: np.asarray(v)[keep] for k, v in dets.items()
            if k in ('img_id', 'label', 'bbox')}


def fit_calibration(dets, gt, scores, calibrator='isotonic', tau=PROTOCOL_TAU, num_classes=None,
                    min_detections=1, matching=DEFAULT_MATCHING):
    """What ships with a model (fitted on val): class-wise LRP-optimal thresholds on the raw
    scores; if ``calibrator`` is 'isotonic' or 'linear', class-wise calibrators fitted on the
    detections those thresholds keep (targets: IoU of a TP at tau, else 0) and a second set of
    LRP-optimal ("operating") thresholds on the calibrated scores; with 'identity' the
    operating thresholds are the first ones. JSON-ready (thresholds: NaN = class kept whole)."""
    if calibrator not in CALIBRATORS:
        raise ValueError(f'calibrator: one of {CALIBRATORS}, got {calibrator!r}')
    _, labels, _, scores = _check_dets(dets, scores, True)
    pre = lrp_optimal_thresholds(dets, gt, scores, tau, num_classes, matching=matching)
    keep = apply_thresholds(dets, scores, pre)
    kept, kept_scores = subset_detections(dets, keep), scores[keep]
    if calibrator == 'identity':
        calibrators, operating = None, pre
    else:
        calibrators = fit_classwise_calibrators(kept, gt, kept_scores, calibrator, tau,
                                                num_classes, min_detections, matching=matching)
        calibrated = apply_classwise_calibrators(calibrators, kept['label'], kept_scores)
        operating = lrp_optimal_thresholds(kept, gt, calibrated, tau, num_classes,
                                           matching=matching)
    return dict(calibrator=calibrator, tau=float(tau), matching=matching,
                thresholds=_floats(pre),
                operating_thresholds=_floats(operating), calibrators=calibrators,
                num_val=int(len(scores)), num_val_kept=int(keep.sum()),
                num_val_per_class=_floats(np.bincount(labels, minlength=len(pre))))


def apply_calibration(fitted, labels, scores):
    """A :func:`fit_calibration` result applied to detections: (keep mask, calibrated scores).
    Kept: raw score >= the class's threshold and calibrated score >= its operating threshold
    (NaN thresholds keep the class whole)."""
    labels, scores = np.asarray(labels).astype(int).reshape(-1), np.asarray(scores, float)
    dets = dict(img_id=np.zeros(len(labels)), label=labels, bbox=np.zeros((len(labels), 4)))
    keep = apply_thresholds(dets, scores, fitted['thresholds'])
    calibrated = scores.copy()
    if fitted['calibrators'] is not None:
        calibrated = apply_classwise_calibrators(fitted['calibrators'], labels, scores)
        keep &= apply_thresholds(dets, calibrated, fitted['operating_thresholds'])
    return keep, calibrated


def calibration_protocol(val, test, calibrator='identity', tau=PROTOCOL_TAU, bins=LAECE_BINS,
                         num_classes=None, min_detections=1, matching=DEFAULT_MATCHING):
    """The Kuzucu et al. evaluation: LaECE_0, LaACE_0 and LRP_0 of thresholded (and optionally
    calibrated) test detections, everything fitted on val.

    1. class-wise LRP-optimal thresholds at tau on val;
    2. if ``calibrator`` is 'isotonic' or 'linear': class-wise calibrators fitted on the val
       detections kept by 1 (targets: IoU of a TP at tau, else 0); the kept val detections
       are calibrated and get a second set of LRP-optimal ("operating") thresholds;
       with 'identity' the operating thresholds are those of 1;
    3. test: keep by the thresholds of 1, calibrate, keep by the operating thresholds;
    4. LaECE, LaACE (tau, bins) and LRP (tau) of what is left, with the calibrated scores.

    Args:
        val, test: ``(dets, gt, scores)`` each (formats as :func:`match_detections`).
        calibrator: 'identity', 'isotonic' or 'linear'.
        num_classes: C (default: inferred from val and test).
        min_detections: fewer kept val detections in a class -> identity for that class.

    Returns a JSON-ready dict: the metrics (fractions), thresholds (NaN = class kept whole),
    the per-class calibrators (serialized) and the detection counts.
    """
    (dv, gv, sv), (dt, gtt, st) = val, test
    _, lv, _, sv = _check_dets(dv, sv, True)
    _, lt, _, st = _check_dets(dt, st, True)
    if num_classes is None:
        num_classes = max(_num_classes(lv, _check_gt(gv), None),
                          _num_classes(lt, _check_gt(gtt), None))
    fitted = fit_calibration(dv, gv, sv, calibrator, tau, num_classes, min_detections, matching)
    keep_t, st_cal = apply_calibration(fitted, dt['label'], st)
    dt_kept, st_kept = subset_detections(dt, keep_t), st_cal[keep_t]
    match = match_detections(dt_kept, gtt, st_kept, tau, num_classes, matching)
    e = laece(dt_kept, gtt, st_kept, tau, bins, num_classes, match=match)
    a = laace(dt_kept, gtt, st_kept, tau, num_classes, match=match)
    r = lrp(dt_kept, gtt, st_kept, tau, num_classes, match=match)
    return dict(laece=e['laece'], laace=a['laace'], lrp=r['lrp'], lrp_loc=r['lrp_loc'],
                lrp_fp=r['lrp_fp'], lrp_fn=r['lrp_fn'], tau=float(tau), matching=matching,
                bins=int(bins),
                calibrator=calibrator, calibrators=fitted['calibrators'],
                thresholds=fitted['thresholds'],
                operating_thresholds=fitted['operating_thresholds'],
                num_val=int(len(sv)), num_val_kept=fitted['num_val_kept'], num_test=int(len(st)),
                num_test_kept=int(len(st_kept)),
                per_class=dict(laece=e['per_class'], laace=a['per_class'], lrp=r['per_class']))
