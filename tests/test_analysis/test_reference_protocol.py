"""The field's yardstick reproduces the calibration authors' code: on kept BCCD detections of
three detectors (3 seeds each), our protocol (class-wise LRP-optimal thresholds fitted on
val, then LaECE_0 / LaACE_0 / LRP_0 on test) gives the figures their released code gives,
computed once by benchmarks/analysis/reference_protocol.py and committed in
tests/reference/reference_protocol.json (their code is not in this repository)."""
import os.path as osp

import numpy as np
import pytest

from iou_aware.analysis import detection_calibration as dc
from benchmarks.protocol import load_split
from benchmarks.results import read_json

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
REFERENCE = read_json(osp.join(ROOT, 'tests', 'reference', 'reference_protocol.json'))
CLASSES = ('RBC', 'WBC', 'Platelets')
TOLERANCE = 1e-3  # 0.1 points


def splits(key):
    run, seed = key.split('/')
    out = []
    for folder, ann in (('bccd-val', 'val'), ('bccd', 'test')):
        dets, gt = load_split(osp.join(ROOT, 'benchmarks', 'results', folder, run, seed,
                                       'detections.npz'),
                              osp.join(ROOT, 'datasets', 'bccd', 'coco', f'{ann}.json'), CLASSES)
        out.append((dets, gt, np.clip(dets['fused_score'], 0, 1)))
    return out


@pytest.mark.parametrize('key', sorted(REFERENCE['figures']['identity']))
def test_thresholded_figures_are_the_reference_codes(key):
    ours = dc.calibration_protocol(*splits(key), 'identity', num_classes=len(CLASSES))
    ref = REFERENCE['figures']['identity'][key]
    for name in ('laece_0', 'laace_0', 'lrp_0'):
        assert abs(ours[name[:-2]] - ref[name]) <= TOLERANCE, (name, ours[name[:-2]], ref[name])


@pytest.mark.parametrize('key', sorted(REFERENCE['figures']['isotonic']))
def test_isotonic_calibrated_lrp_is_the_reference_codes(key):
    """After their isotonic calibrator the kept detections and LRP_0 agree; LaECE_0 differs
    by up to 0.6 points (their fit gives a few val detections another target: open, see
    docs/calibration.md), so it is not asserted here."""
    ours = dc.calibration_protocol(*splits(key), 'isotonic', num_classes=len(CLASSES))
    ref = REFERENCE['figures']['isotonic'][key]
    assert abs(ours['lrp'] - ref['lrp_0']) <= TOLERANCE, (ours['lrp'], ref['lrp_0'])


def test_the_overlap_rule_gives_the_figures_this_project_reported_before():
    """The named option reproduces the earlier default: RetinaNet seed 0, thresholded
    LaECE_0 17.7 and LRP_0 40.2 (the README's demo table until 2026-12-07), and differs
    from the reference by more than the tolerance, so the switch is what moved."""
    ours = dc.calibration_protocol(*splits('retinanet/seed0'), 'identity',
                                   num_classes=len(CLASSES), matching='overlap')
    assert round(ours['laece'] * 100, 1) == 17.7 and round(ours['lrp'] * 100, 1) == 40.2
    ref = REFERENCE['figures']['identity']['retinanet/seed0']
    assert abs(ours['laece'] - ref['laece_0']) > 10 * TOLERANCE
