"""tools/train.py, test.py and analyze_localization.py end to end on a tiny generated
dataset, one phase per test on a checkpoint trained once; one clear error line for bad
datasets and bad checkpoints."""
import json
import os.path as osp
import pickle
import shutil

import pytest
import torch

from .tool_helpers import FAST, ROOT, data_options, one_error_line, run_tool

pytestmark = pytest.mark.slow  # trains in subprocesses

CONFIG = osp.join(ROOT, 'configs', 'retinanet', 'retinanet_tiny-r18_fpn_shapes.py')


@pytest.fixture(scope='module')
def trained(tiny_shapes, tmp_path_factory):
    """One epoch of the tiny RetinaNet: (work dir, checkpoint, train output, options)."""
    work = str(tmp_path_factory.mktemp('work'))
    opts = data_options(tiny_shapes) + FAST
    out = run_tool('tools/train.py', CONFIG, '--work-dir', work, '--cfg-options', *opts,
                   'train_cfg.max_epochs=1', 'train_cfg.val_interval=1')
    assert out.returncode == 0, out.stderr[-3000:]
    ckpt = osp.join(work, 'epoch_1.pth')
    assert osp.isfile(ckpt)
    return work, ckpt, out, opts


def test_training_prints_the_val_metrics(trained):
    out = trained[2]
    assert 'coco/bbox_mAP_90' in out.stdout + out.stderr


def test_evaluate_from_checkpoint_writes_metrics_and_predictions(trained, tmp_path):
    work, ckpt, _, opts = trained
    metrics_file, preds = str(tmp_path / 'metrics.json'), str(tmp_path / 'preds.pkl')
    # mmengine's torch.load with weights_only=True must read our checkpoint
    out = run_tool('tools/test.py', CONFIG, ckpt, '--work-dir', work, '--metrics-json', metrics_file,
                   '--out', preds, '--show-dir', str(tmp_path / 'show'), '--cfg-options', *opts)
    assert out.returncode == 0, out.stderr[-3000:]
    metrics = json.loads(open(metrics_file).read())
    for key in ('coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/bbox_mAP_75', 'coco/bbox_mAP_80',
                'coco/bbox_mAP_90'):
        assert 0 <= metrics[key] <= 1, key
    with open(preds, 'rb') as f:
        assert len(pickle.load(f)) == 8
    assert len(list((tmp_path / 'show').glob('*.png'))) == 8


def test_analysis_writes_a_valid_report(trained, tmp_path):
    _, ckpt, _, opts = trained
    out = run_tool('tools/analyze_localization.py', CONFIG, ckpt, '--out-dir', str(tmp_path / 'a'),
                   '--cfg-options', *opts)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads((tmp_path / 'a' / 'summary.json').read_text())
    assert report['num_images'] == 8 and len(report['ap_by_iou_threshold']) == 10
    assert report['summary_version'] == 4 and 'value' in report['expected_calibration_error']
    field = report['detection_calibration']
    assert 'score_thr' in field['score_thresholds'] and 'max_per_img' in field['score_thresholds']
    assert 0 <= field['by_confidence']['fused_score']['laece_0'] <= 1
    assert report['provenance']['config_sha256']
    assert (tmp_path / 'a' / 'detections.npz').stat().st_size > 0
    assert report['expected_calibration_error_all_detections']['detections'] == 'all'
    for png in ('scatter.png', 'calibration_and_ap.png'):
        assert (tmp_path / 'a' / png).stat().st_size > 0


def test_analysis_of_a_model_without_detections(trained, tmp_path):
    _, ckpt, _, opts = trained
    out = run_tool('tools/analyze_localization.py', CONFIG, ckpt, '--out-dir', str(tmp_path / 'none'),
                   '--cfg-options', *opts, 'model.test_cfg.score_thr=1.5')
    assert out.returncode == 0, out.stderr[-3000:]
    assert 'made no detections' in out.stdout
    report = json.loads((tmp_path / 'none' / 'summary.json').read_text())
    assert report['num_detections'] == 0 and set(report['ap_by_iou_threshold'].values()) == {0}


def test_analysis_of_an_empty_val_set(trained, tiny_shapes, tmp_path):
    _, ckpt, _, _ = trained
    empty = tmp_path / 'empty'
    shutil.copytree(tiny_shapes, empty)
    ann = json.loads((empty / 'annotations' / 'val.json').read_text())
    ann.update(images=[], annotations=[])
    (empty / 'annotations' / 'val.json').write_text(json.dumps(ann))
    out = run_tool('tools/analyze_localization.py', CONFIG, ckpt, '--out-dir', str(tmp_path / 'no'),
                   '--cfg-options', *data_options(str(empty)), *FAST)
    assert out.returncode == 0, out.stderr[-3000:]
    assert 'has no images' in out.stdout
    report = json.loads((tmp_path / 'no' / 'summary.json').read_text())
    assert report['num_images'] == 0 and report['num_detections'] == 0


def test_checkpoint_of_another_model_is_refused(trained, tmp_path):
    _, ckpt, _, opts = trained
    other = osp.join(ROOT, 'configs', 'faster_rcnn', 'faster-rcnn_tiny-r18_fpn_shapes.py')
    line = one_error_line(run_tool('tools/test.py', other, ckpt, '--cfg-options', *opts))
    assert 'does not match' in line and 'missing' in line
    line = one_error_line(run_tool('tools/analyze_localization.py', other, ckpt, '--out-dir',
                                   str(tmp_path / 'wrong'), '--cfg-options', *opts))
    assert 'does not match' in line


@pytest.mark.parametrize('damage', ['truncated', 'garbage'])
def test_corrupt_checkpoint_is_one_clear_line(trained, tmp_path, damage):
    work, ckpt, _, opts = trained
    bad = tmp_path / 'bad.pth'
    data = open(ckpt, 'rb').read()
    bad.write_bytes(data[:len(data) // 2] if damage == 'truncated' else b'not a checkpoint' * 50)
    line = one_error_line(run_tool('tools/test.py', CONFIG, str(bad), '--cfg-options', *opts))
    assert line.startswith(f'error: cannot read checkpoint {bad}: ')
    resume = run_tool('tools/train.py', CONFIG, '--work-dir', str(tmp_path / 'r'), '--resume',
                      str(bad), '--cfg-options', *opts)
    assert one_error_line(resume).startswith(f'error: cannot read checkpoint {bad}: ')


def test_resume_trains_one_more_epoch(trained, tmp_path):
    work, _, _, opts = trained
    work2 = str(tmp_path / 'work')
    shutil.copytree(work, work2)
    with open(osp.join(work2, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(work2, 'epoch_1.pth'))
    # message hub with HistoryBuffers, numpy and random states: all read by the safe loader
    out = run_tool('tools/train.py', CONFIG, '--work-dir', work2, '--resume', '--cfg-options', *opts,
                   'train_cfg.max_epochs=2', 'train_cfg.val_interval=2')
    assert out.returncode == 0, out.stderr[-3000:]
    ckpt2 = torch.load(osp.join(work2, 'epoch_2.pth'), map_location='cpu', weights_only=True)
    assert ckpt2['meta']['epoch'] == 2 and ckpt2['meta']['iter'] == 8  # 4 + 4 steps, not 4


@pytest.mark.parametrize('tool', ['train.py', 'test.py'])
def test_missing_dataset_is_one_clear_line(tool, tmp_path):
    args = [CONFIG] + ([] if tool == 'train.py' else [str(tmp_path / 'x.pth')])
    if tool == 'test.py':
        (tmp_path / 'x.pth').write_bytes(b'')
    out = run_tool(f'tools/{tool}', *args, '--cfg-options', *data_options(str(tmp_path / 'nowhere')))
    line = one_error_line(out)
    assert 'annotation file not found' in line and 'nowhere' in line


def test_corrupt_annotation_file_is_one_clear_line(tiny_shapes, tmp_path):
    root = tmp_path / 'corrupt'
    shutil.copytree(tiny_shapes, root)
    (root / 'annotations' / 'train.json').write_text('{"images": [')
    out = run_tool('tools/train.py', CONFIG, '--cfg-options', *data_options(str(root)))
    line = one_error_line(out)
    assert 'corrupt' in line and 'train.json' in line


def test_missing_image_is_one_clear_line(tiny_shapes, tmp_path):
    root = tmp_path / 'holes'
    shutil.copytree(tiny_shapes, root)
    victim = sorted((root / 'val').iterdir())[3]
    victim.unlink()
    out = run_tool('tools/train.py', CONFIG, '--cfg-options', *data_options(str(root)))
    line = one_error_line(out)
    assert 'missing' in line and victim.name in line


def test_missing_config_and_checkpoint_are_clear(tmp_path):
    assert 'config file not found' in one_error_line(run_tool('tools/train.py', 'no/such/config.py'))
    out = run_tool('tools/test.py', CONFIG, str(tmp_path / 'none.pth'))
    assert 'checkpoint not found' in one_error_line(out)
