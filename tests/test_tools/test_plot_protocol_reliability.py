"""benchmarks/analysis/plot_protocol_reliability.py: its bins come from the same thresholded,
matched detections the protocol scores, so the LaECE_0 it titles a panel with is the one
protocol.json records (computed by another code path: calibration_protocol)."""
import json
import os.path as osp
import sys

import numpy as np
import pytest

from .tool_helpers import ROOT, load_tool

RUN = osp.join(ROOT, 'benchmarks', 'results', 'bccd', 'iou-aware', 'seed0')


def _tool():
    sys.path.insert(0, osp.join(ROOT, 'benchmarks', 'analysis'))  # it imports calibration_protocol
    return load_tool('benchmarks/analysis/plot_protocol_reliability.py')


@pytest.mark.skipif(not osp.isfile(osp.join(RUN, 'protocol.json')), reason='no committed run')
def test_the_panel_is_the_protocols_thresholded_detections():
    tool = _tool()
    val_ann, test_ann, classes = tool.ANNOTATIONS['bccd']
    val_dir = RUN.replace(osp.join('results', 'bccd'), osp.join('results', 'bccd-val'))
    score, target, count, laece = tool.reliability(RUN, val_dir, osp.join(ROOT, val_ann),
                                                   osp.join(ROOT, test_ann), classes)
    recorded = json.load(open(osp.join(RUN, 'protocol.json')))
    shipped = recorded['by_confidence']['fused_score']['thresholded']
    assert laece == pytest.approx(shipped['laece'], abs=1e-9)
    assert count.sum() > 100 and len(count) == 25
    filled = count > 0
    assert np.all((target[filled] >= 0) & (target[filled] <= 1))
    # each filled bin's mean score lies inside its bin
    edges = np.linspace(0, 1, 26)
    idx = np.flatnonzero(filled)
    assert np.all((score[idx] >= edges[idx] - 1e-9) & (score[idx] <= edges[idx + 1] + 1e-9))
