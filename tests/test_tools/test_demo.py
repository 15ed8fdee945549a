"""tools/demo.py (what `make demo` runs) end to end on the tiny dataset, 1 epoch per model."""
import json
import os.path as osp

import pytest

from .tool_helpers import FAST, run_tool

pytestmark = pytest.mark.slow  # trains in subprocesses


def test_demo_trains_both_models_and_prints_one_table(tiny_shapes, tmp_path):
    work = tmp_path / 'demo'
    out = run_tool('demo.py', '--data', tiny_shapes, '--work-dir', str(work), '--epochs', '1',
                   '--cfg-options', *FAST)
    assert out.returncode == 0, out.stderr[-3000:]
    table = out.stdout[out.stdout.index('[demo] results'):]
    assert '| retinanet_tiny-r18_fpn_shapes |' in table
    assert '| iou-aware-retinanet_tiny-r18_fpn_shapes |' in table
    assert 'r(IoU)' in table
    with open(work / 'summary.json') as f:
        rows = json.load(f)
    assert rows['retinanet_tiny-r18_fpn_shapes']['iters'] == 4  # 16 images, batch 4, 1 epoch
    assert 'r(IoU)' not in rows['retinanet_tiny-r18_fpn_shapes']  # no IoU branch, no column
    assert osp.isfile(work / 'iou-aware-retinanet_tiny-r18_fpn_shapes' / 'analysis' / 'scatter.png')
