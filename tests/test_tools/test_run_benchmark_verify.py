"""benchmarks/run_benchmark.py end to end on a one-epoch spec: results with provenance and raw
detections, then --verify retrains from scratch and finds every metric reproduced (or says
which moved)."""
import json
import os.path as osp

import pytest

from .tool_helpers import FAST, data_options, run_tool

pytestmark = pytest.mark.slow  # trains in subprocesses


def test_a_run_verifies_and_a_doctored_record_does_not(tiny_shapes, tmp_path):
    spec = dict(name='tiny', seeds=[0], splits={'tiny': []}, runs={'retinanet': dict(
        config='configs/retinanet/retinanet_tiny-r18_fpn_shapes.py',
        cfg_options=[*data_options(tiny_shapes), *FAST, 'train_cfg.max_epochs=1'])})
    path = tmp_path / 'tiny.json'
    path.write_text(json.dumps(spec))
    common = [str(path), '--work-dir', str(tmp_path / 'work'), '--results-dir',
              str(tmp_path / 'results')]
    out = run_tool('benchmarks/run_benchmark.py', *common)
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    seed = tmp_path / 'results' / 'tiny' / 'retinanet' / 'seed0'
    metrics = json.loads((seed / 'metrics.json').read_text())
    assert len(metrics['provenance']['git_commit']) == 40 and osp.isfile(seed / 'detections.npz')
    out = run_tool('benchmarks/run_benchmark.py', *common, '--verify')
    assert out.returncode == 0 and 'reproduces' in out.stdout, (out.stdout + out.stderr)[-3000:]
    metrics['coco/bbox_mAP'] += 0.1  # a record that does not match its code
    (seed / 'metrics.json').write_text(json.dumps(metrics))
    out = run_tool('benchmarks/run_benchmark.py', *common, '--verify')
    assert out.returncode == 1 and 'DIFFERS: AP' in out.stdout, (out.stdout + out.stderr)[-3000:]
