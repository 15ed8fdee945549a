"""The benchmark tools whose tables fill docs/performance.md run end to end at a tiny size
and print every row they promise (timings themselves are never asserted)."""
import json
import re

import pytest

from .tool_helpers import data_options, run_tool

pytestmark = pytest.mark.slow  # each runs a tool in a fresh interpreter


def test_benchmark_prroi_pool_prints_both_workloads_and_ratios():
    out = run_tool('benchmarks/speed/benchmark_prroi_pool.py', '--rois', '8', '--channels', '4', '--height',
                   '16', '--width', '16', '--repeat', '1', '--warmup', '0',
                   '--reference-rois', '2')
    assert out.returncode == 0, out.stderr[-3000:]
    for row in ('PrRoIPool (iou_aware)', 'PrRoIPool, + box-coordinate gradient',
                'roi_align sampling_ratio=2', 'pure-PyTorch reference'):
        assert out.stdout.count(row) == 2, row  # FPN-mix and large workloads
    assert len(re.findall(r'ratios: PrRoIPool / roi_align\(sr=2\): forward [0-9.]+x',
                          out.stdout)) == 2


def test_benchmark_nms_prints_clustered_and_sparse_rows():
    out = run_tool('benchmarks/speed/benchmark_nms.py', '--sizes', '200', '--sparse-sizes', '300', '2000',
                   '--baseline-max', '500', '--repeat', '1')
    assert out.returncode == 0, out.stderr[-3000:]
    rows = [line.split() for line in out.stdout.splitlines()
            if line.split()[:1] in (['clustered'], ['sparse'])]
    assert [(r[0], r[1]) for r in rows] == [('clustered', '200'), ('sparse', '300'),
                                           ('sparse', '2000')]
    assert rows[2][3] == '-' and rows[2][4] == '-'  # baselines skipped above --baseline-max
    assert all(float(r[5]) > 0 for r in rows)


def test_benchmark_detectors_times_two_rows_and_writes_json(tiny_shapes, tmp_path):
    cfg = 'configs/retinanet/retinanet_tiny-r18_fpn_shapes.py'
    iou_cfg = 'configs/iou_aware_retinanet/iou-aware-retinanet_tiny-r18_fpn_shapes.py'
    table = tmp_path / 'bench.json'
    out = run_tool('benchmarks/speed/benchmark_detectors.py', '--images', '2', '--train-steps', '1',
                   '--rounds', '1', '--json', str(table),
                   '--model', 'base', cfg, '--model', 'iou', iou_cfg, 'model.test_cfg.score_type=geometric',
                   'model.test_cfg.alpha=0.4',
                   '--cfg-options', *data_options(tiny_shapes),
                   'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
                   'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
                   'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False')
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    rows = json.loads(table.read_text())  # strict JSON: no NaN
    assert [r['name'] for r in rows] == ['base', 'iou']
    assert rows[0]['inference_ratio'] == 1.0 and rows[1]['inference_ratio'] > 0
    assert rows[1]['options']['model.test_cfg.alpha'] == 0.4
    assert 'model.test_cfg.alpha' not in rows[0]['options']
    assert all(r['train_s_per_step'] > 0 for r in rows)
    assert '| iou |' in out.stdout
