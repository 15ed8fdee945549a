"""tools/demo.py (what `make demo` runs) end to end on a tiny schedule: both BCCD trainings,
evaluation on val and test, the shipped calibration, the table and the picture, quietly."""
import json
import os.path as osp

import pytest

from .tool_helpers import run_tool

pytestmark = pytest.mark.slow  # trains in subprocesses

TINY = ['train_dataloader.dataset.indices=8', 'test_dataloader.dataset.indices=6',
        'val_dataloader.dataset.indices=6', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False', 'val_dataloader.num_workers=0',
        'val_dataloader.persistent_workers=False', 'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False',
        # two steps of training detect nothing above the shipped thresholds
        'model.test_cfg.score_thr=0', 'model.test_cfg.cls_score_thr=0']


def test_demo_prints_one_table_and_a_picture_in_few_lines(tmp_path):
    work = tmp_path / 'demo'
    out = run_tool('tools/demo.py', '--epochs', '1', '--work-dir', str(work), '--cfg-options', *TINY)
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    lines = out.stdout.strip().splitlines()
    assert len(lines) < 40, out.stdout
    assert out.stderr.strip() == '', out.stderr[-2000:]  # no warnings reach the terminal
    assert any(line.startswith('| RetinaNet |') for line in lines)
    assert any(line.startswith('| IoU-aware RetinaNet |') for line in lines)
    picture = work / 'picture' / 'vis' / 'BloodImage_00007.jpg'
    assert osp.isfile(picture) and str(picture) in out.stdout
    figures = json.loads((work / 'summary.json').read_text())
    assert set(figures) == {'retinanet', 'iou-aware'}
    assert 0 <= figures['iou-aware']['protocol']['isotonic']['laece'] <= 1
    assert osp.isfile(work / 'iou-aware' / 'calibration' / 'calibration.json')


def test_a_failing_step_names_its_log(tmp_path):
    out = run_tool('tools/demo.py', '--epochs', '1', '--work-dir', str(tmp_path / 'demo'),
                   '--cfg-options', 'train_dataloader.batch_size=0')
    assert out.returncode != 0
    assert 'full log:' in out.stderr and 'Traceback' not in out.stderr
