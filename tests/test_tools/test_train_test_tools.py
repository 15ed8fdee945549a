"""tools/train.py and tools/test.py end to end on a tiny generated dataset: train, save,
evaluate from the checkpoint, resume; and one clear error line for bad datasets."""
import json
import os.path as osp
import shutil

import pytest
import torch

from .tool_helpers import FAST, ROOT, data_options, one_error_line, run_tool

CONFIG = osp.join(ROOT, 'configs', 'retinanet', 'retinanet_tiny-r18_fpn_shapes.py')


def test_train_evaluate_and_resume(tiny_shapes, tmp_path):
    work = str(tmp_path / 'work')
    opts = data_options(tiny_shapes) + FAST
    out = run_tool('train.py', CONFIG, '--work-dir', work, '--cfg-options', *opts,
                   'train_cfg.max_epochs=1', 'train_cfg.val_interval=1')
    assert out.returncode == 0, out.stderr[-3000:]
    assert 'coco/bbox_mAP_90' in out.stdout + out.stderr  # the val metrics were printed
    ckpt1 = osp.join(work, 'epoch_1.pth')
    assert osp.isfile(ckpt1)

    # Test from the checkpoint: mmengine's torch.load with weights_only=True must read it.
    metrics_file = str(tmp_path / 'metrics.json')
    out = run_tool('test.py', CONFIG, ckpt1, '--work-dir', work, '--metrics-json', metrics_file,
                   '--cfg-options', *opts)
    assert out.returncode == 0, out.stderr[-3000:]
    with open(metrics_file) as f:
        metrics = json.load(f)
    for key in ('coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/bbox_mAP_75', 'coco/bbox_mAP_80',
                'coco/bbox_mAP_90'):
        assert 0 <= metrics[key] <= 1, key

    # The localization analysis runs on any checkpoint and always writes a valid report.
    out = run_tool('analyze_localization.py', CONFIG, ckpt1, '--out', str(tmp_path / 'analysis'),
                   '--cfg-options', *opts)
    assert out.returncode == 0, out.stderr[-3000:]
    with open(tmp_path / 'analysis' / 'summary.json') as f:
        report = json.load(f)
    assert report['num_images'] == 8 and len(report['ap_by_iou_threshold']) == 10
    assert (tmp_path / 'analysis' / 'scatter.png').stat().st_size > 0

    # A model that detects nothing still gets a valid report (all AP 0), with a warning.
    out = run_tool('analyze_localization.py', CONFIG, ckpt1, '--out', str(tmp_path / 'none'),
                   '--cfg-options', *opts, 'model.test_cfg.score_thr=1.5')
    assert out.returncode == 0, out.stderr[-3000:]
    assert 'made no detections' in out.stdout
    report = json.loads((tmp_path / 'none' / 'summary.json').read_text())
    assert report['num_detections'] == 0 and set(report['ap_by_iou_threshold'].values()) == {0}

    # An empty val set: a clear warning and an empty report, without running the model.
    empty = tmp_path / 'empty'
    shutil.copytree(tiny_shapes, empty)
    ann = json.loads((empty / 'annotations' / 'val.json').read_text())
    ann.update(images=[], annotations=[])
    (empty / 'annotations' / 'val.json').write_text(json.dumps(ann))
    out = run_tool('analyze_localization.py', CONFIG, ckpt1, '--out', str(tmp_path / 'no_images'),
                   '--cfg-options', *data_options(str(empty)), *FAST)
    assert out.returncode == 0, out.stderr[-3000:]
    assert 'has no images' in out.stdout
    report = json.loads((tmp_path / 'no_images' / 'summary.json').read_text())
    assert report['num_images'] == 0 and report['num_detections'] == 0

    # A checkpoint of another model is refused with one line, not evaluated half-random.
    other = osp.join(ROOT, 'configs', 'faster_rcnn', 'faster-rcnn_tiny-r18_fpn_shapes.py')
    line = one_error_line(run_tool('test.py', other, ckpt1, '--cfg-options', *opts))
    assert 'does not match' in line and 'missing' in line
    line = one_error_line(run_tool('analyze_localization.py', other, ckpt1, '--out',
                                   str(tmp_path / 'wrong'), '--cfg-options', *opts))
    assert 'does not match' in line

    # Resume (message hub with HistoryBuffers, numpy state) and train one more epoch.
    out = run_tool('train.py', CONFIG, '--work-dir', work, '--resume', '--cfg-options', *opts,
                   'train_cfg.max_epochs=2', 'train_cfg.val_interval=2')
    assert out.returncode == 0, out.stderr[-3000:]
    ckpt2 = torch.load(osp.join(work, 'epoch_2.pth'), map_location='cpu', weights_only=True)
    assert ckpt2['meta']['epoch'] == 2 and ckpt2['meta']['iter'] == 8  # 4 + 4 steps, not 4


@pytest.mark.parametrize('tool', ['train.py', 'test.py'])
def test_missing_dataset_is_one_clear_line(tool, tmp_path):
    args = [CONFIG] + ([] if tool == 'train.py' else [str(tmp_path / 'x.pth')])
    if tool == 'test.py':
        (tmp_path / 'x.pth').write_bytes(b'')
    out = run_tool(tool, *args, '--cfg-options', *data_options(str(tmp_path / 'nowhere')))
    line = one_error_line(out)
    assert 'annotation file not found' in line and 'nowhere' in line


def test_corrupt_annotation_file_is_one_clear_line(tiny_shapes, tmp_path):
    root = tmp_path / 'corrupt'
    shutil.copytree(tiny_shapes, root)
    (root / 'annotations' / 'train.json').write_text('{"images": [')
    out = run_tool('train.py', CONFIG, '--cfg-options', *data_options(str(root)))
    line = one_error_line(out)
    assert 'corrupt' in line and 'train.json' in line


def test_missing_image_is_one_clear_line(tiny_shapes, tmp_path):
    root = tmp_path / 'holes'
    shutil.copytree(tiny_shapes, root)
    victim = sorted((root / 'val').iterdir())[3]
    victim.unlink()
    out = run_tool('train.py', CONFIG, '--cfg-options', *data_options(str(root)))
    line = one_error_line(out)
    assert 'missing' in line and victim.name in line


def test_missing_config_and_checkpoint_are_clear(tmp_path):
    assert 'config file not found' in one_error_line(run_tool('train.py', 'no/such/config.py'))
    out = run_tool('test.py', CONFIG, str(tmp_path / 'none.pth'))
    assert 'checkpoint not found' in one_error_line(out)
