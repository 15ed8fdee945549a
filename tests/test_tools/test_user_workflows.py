"""What an MMDetection user does with the package: mmdet's own train/test tools on our
configs (resume included), a config outside the repo inheriting ``iou_aware::``, and the
predicted IoU in the image demo's JSON and pictures and in ``test.py --out`` files."""
import json
import os.path as osp
import pickle
import textwrap

import mmdet
import pytest
import torch

from .tool_helpers import FAST, ROOT, data_options, run_tool

pytestmark = pytest.mark.slow

CONFIGS = {
    'iou-aware': 'configs/iou_aware_retinanet/iou-aware-retinanet_tiny-r18_fpn_shapes.py',
    'iou-net': 'configs/iou_net/faster-rcnn_tiny-r18_fpn_iou-net_shapes.py',
}
MMDET_TOOLS = osp.join(osp.dirname(mmdet.__file__), '.mim', 'tools')


@pytest.fixture(scope='module')
def checkpoints(tiny_shapes, tmp_path_factory):
    """One epoch of each detector with an IoU branch: {name: checkpoint}."""
    out = {}
    for name, config in CONFIGS.items():
        work = str(tmp_path_factory.mktemp(name))
        done = run_tool('train.py', osp.join(ROOT, config), '--work-dir', work, '--cfg-options',
                        *data_options(tiny_shapes), *FAST, 'train_cfg.max_epochs=1')
        assert done.returncode == 0, done.stderr[-3000:]
        out[name] = osp.join(work, 'epoch_1.pth')
    return out


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_image_demo_writes_pred_ious_and_pictures(checkpoints, tiny_shapes, tmp_path, name):
    images = sorted(osp.join(tiny_shapes, 'val', f) for f in __import__('os').listdir(
        osp.join(tiny_shapes, 'val')))[:2]
    out = run_tool('image_demo.py', osp.join(ROOT, CONFIGS[name]), checkpoints[name], *images,
                   '--out-dir', str(tmp_path), '--score-thr', '0')
    assert out.returncode == 0, out.stderr[-3000:]
    for image in images:
        stem = osp.splitext(osp.basename(image))[0]
        pred = json.loads((tmp_path / 'preds' / f'{stem}.json').read_text())
        n = len(pred['labels'])
        assert n > 0 and len(pred['bboxes']) == n and len(pred['scores']) == n
        assert len(pred['pred_ious']) == n and len(pred['cls_scores']) == n
        assert all(0 <= v <= 1 for v in pred['pred_ious'])
        assert (tmp_path / 'vis' / osp.basename(image)).stat().st_size > 0


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_test_out_file_carries_pred_ious(checkpoints, tiny_shapes, tmp_path, name):
    pkl = str(tmp_path / 'preds.pkl')
    out = run_tool('test.py', osp.join(ROOT, CONFIGS[name]), checkpoints[name], '--out', pkl,
                   '--cfg-options', *data_options(tiny_shapes), *FAST)
    assert out.returncode == 0, out.stderr[-3000:]
    with open(pkl, 'rb') as f:
        preds = pickle.load(f)
    assert len(preds) == 8
    for sample in preds:
        inst = sample['pred_instances']
        assert len(inst['pred_ious']) == len(inst['labels']) == len(inst['cls_scores'])


def _mmdet_tool(tool, *args):
    import subprocess
    import sys
    return subprocess.run([sys.executable, osp.join(MMDET_TOOLS, tool), *args],
                          capture_output=True, text=True, cwd=ROOT)


def test_mmdets_own_tools_train_resume_and_test_our_config(tiny_shapes, tmp_path):
    config = osp.join(ROOT, CONFIGS['iou-aware'])
    work = str(tmp_path / 'work')
    opts = ['--cfg-options', *data_options(tiny_shapes), *FAST]
    out = _mmdet_tool('train.py', config, '--work-dir', work, *opts, 'train_cfg.max_epochs=1')
    assert out.returncode == 0, out.stderr[-3000:]
    out = _mmdet_tool('train.py', config, '--work-dir', work, '--resume', *opts,
                      'train_cfg.max_epochs=2')
    assert out.returncode == 0, out.stderr[-3000:]
    ckpt = torch.load(osp.join(work, 'epoch_2.pth'), map_location='cpu', weights_only=True)
    assert ckpt['meta']['epoch'] == 2 and ckpt['meta']['iter'] == 8 and 'random_state' in ckpt
    out = _mmdet_tool('test.py', config, osp.join(work, 'epoch_2.pth'), '--work-dir', work,
                      *opts)
    assert out.returncode == 0, out.stderr[-3000:]
    assert 'coco/bbox_mAP_90' in out.stdout + out.stderr


def test_a_config_outside_the_repo_inherits_by_scope(tiny_shapes, tmp_path):
    cfg = tmp_path / 'my_iou_net.py'
    cfg.write_text(textwrap.dedent('''
        _base_ = 'iou_aware::iou_net/faster-rcnn_tiny-r18_fpn_iou-net_shapes.py'
        model = dict(test_cfg=dict(rcnn=dict(refine=None)))  # a user's own change
    '''))
    work = str(tmp_path / 'work')
    out = run_tool('train.py', str(cfg), '--work-dir', work, '--cfg-options',
                   *data_options(tiny_shapes), *FAST, 'train_cfg.max_epochs=1')
    assert out.returncode == 0, out.stderr[-3000:]
    dumped = open(osp.join(work, 'my_iou_net.py')).read()
    assert "type='IoUNetRoIHead'" in dumped and 'refine=None' in dumped


def test_mmdets_stock_train_tool_loads_a_scope_inheriting_config(tiny_shapes, tmp_path):
    """mmdet's own tools/train.py parses the config before anything imports iou_aware; the
    interpreter-start hook (iou_aware_config_scope.pth) makes the scope known."""
    cfg = tmp_path / 'my_iou_aware.py'
    cfg.write_text("_base_ = 'iou_aware::iou_aware_retinanet/"
                   "iou-aware-retinanet_tiny-r18_fpn_shapes.py'\n")
    work = str(tmp_path / 'work')
    out = _mmdet_tool('train.py', str(cfg), '--work-dir', work, '--cfg-options',
                      *data_options(tiny_shapes), *FAST, 'train_cfg.max_epochs=1')
    assert out.returncode == 0, out.stderr[-3000:]
    assert osp.isfile(osp.join(work, 'epoch_1.pth'))


def test_a_bare_config_load_in_a_fresh_interpreter_knows_the_scope(tmp_path):
    import subprocess
    import sys
    cfg = tmp_path / 'mine.py'
    cfg.write_text("_base_ = 'iou_aware::retinanet/retinanet_tiny-r18_fpn_shapes.py'\n")
    code = ('import sys; from mmengine.config import Config; '
            f'c = Config.fromfile({str(cfg)!r}, import_custom_modules=False); '
            "print(c.model.type, 'iou_aware' in sys.modules)")
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         cwd=str(tmp_path))
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == ['RetinaNet', 'False']  # resolved without importing us


def test_calibrate_once_then_test_and_demo_output_calibrated_scores(
        checkpoints, tiny_shapes, tmp_path):
    """tools/calibrate.py fits on val and writes a file plus a config; tools/test.py and the
    image demo then emit calibrated scores (raw ones kept), predicted IoUs unchanged."""
    config = osp.join(ROOT, CONFIGS['iou-aware'])
    opts = ['--cfg-options', *data_options(tiny_shapes), *FAST]
    out = run_tool('calibrate.py', config, checkpoints['iou-aware'], '--out-dir',
                   str(tmp_path / 'cal'), *opts)
    assert out.returncode == 0, out.stderr[-3000:]
    cal = json.loads((tmp_path / 'cal' / 'calibration.json').read_text())
    assert cal['classes'][0] == 'rectangle' and len(cal['fitted']['thresholds']) == 6
    calibrated_cfg = str(tmp_path / 'cal' / 'iou-aware-retinanet_tiny-r18_fpn_shapes_calibrated.py')
    assert calibrated_cfg in out.stdout
    preds = {}
    for name, cfg in (('raw', config), ('calibrated', calibrated_cfg)):
        pkl = str(tmp_path / f'{name}.pkl')
        keep_all = ['model.apply_thresholds=False'] if name == 'calibrated' else []
        done = run_tool('test.py', cfg, checkpoints['iou-aware'], '--out', pkl,
                        '--work-dir', str(tmp_path / name), *opts, *keep_all)
        assert done.returncode == 0, done.stderr[-3000:]
        with open(pkl, 'rb') as f:
            preds[name] = pickle.load(f)
    for raw, cal_pred in zip(preds['raw'], preds['calibrated']):
        a, b = raw['pred_instances'], cal_pred['pred_instances']
        assert torch.equal(a['bboxes'], b['bboxes']) and torch.equal(a['pred_ious'], b['pred_ious'])
        assert torch.equal(b['raw_scores'], a['scores'])
        assert ((b['scores'] >= 0) & (b['scores'] <= 1)).all()
    images = sorted(osp.join(tiny_shapes, 'val', f) for f in __import__('os').listdir(
        osp.join(tiny_shapes, 'val')))[:1]
    demo = run_tool('image_demo.py', calibrated_cfg, checkpoints['iou-aware'], *images,
                    '--out-dir', str(tmp_path / 'demo'), '--score-thr', '0')
    assert demo.returncode == 0, demo.stderr[-3000:]
