"""The product is the wheel: built from the tree, installed into a fresh venv, it trains, tests
and calibrates a detector from a user's config inheriting ``iou_aware::``, with neither tools/
nor the lab (benchmarks/) on the path.

The fresh venv gets the pinned stack (torch, mmcv, mmdet, ...) through a path file naming the
project venv's site-packages: installing torch and building mmcv again would take most of
``make test``'s budget, and the stack is not what this test is about. Path files listed in a
directory that a path file adds are not run, so the project's editable install of iou_aware
(a path-file hook) is not active there: the only iou_aware the venv can import is the wheel's,
and the test checks that it is.
"""
import glob
import json
import os
import os.path as osp
import shutil
import site
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.slow

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

USER_SCRIPT = textwrap.dedent('''
    import json, os, os.path as osp, sys
    work = sys.argv[1]
    import iou_aware
    assert osp.realpath(iou_aware.__file__).startswith(osp.realpath(sys.prefix)), iou_aware.__file__
    for absent in ('benchmarks', 'tools'):
        try:
            __import__(absent)
        except ImportError:
            pass
        else:
            raise AssertionError(f'{absent} is importable from the installed environment')
    assert not osp.exists(osp.join(osp.dirname(iou_aware.__file__), 'results.py'))

    from iou_aware.datasets import ShapesConfig, generate_dataset
    data = osp.join(work, 'shapes')
    generate_dataset(data, num_images=dict(train=16, val=8), seed=0,
                     config=ShapesConfig(image_size=128))
    cfg_path = osp.join(work, 'my_detector.py')
    with open(cfg_path, 'w') as f:
        f.write("_base_ = 'iou_aware::iou_aware_retinanet/iou-aware-retinanet_tiny-r18_fpn_shapes.py'\\n")
    from mmengine.config import Config
    from mmengine.runner import Runner
    from iou_aware.utils.cli import shapes_data_options
    options = shapes_data_options(data) + [
        'train_cfg.max_epochs=1', 'param_scheduler.0.end=2',
        'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
        'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False']
    overrides = dict(o.split('=', 1) for o in options)
    overrides = {k: (int(v) if v.isdigit() else v == 'True' if v in ('True', 'False') else v)
                 for k, v in overrides.items()}

    def load(path, run):
        cfg = Config.fromfile(path)
        cfg.merge_from_dict(overrides)
        cfg.work_dir = osp.join(work, run)
        return cfg

    runner = Runner.from_cfg(load(cfg_path, 'train'))
    runner.train()
    ckpt = osp.join(work, 'train', 'epoch_1.pth')
    assert osp.isfile(ckpt)
    cfg = load(cfg_path, 'test')
    cfg.load_from = ckpt
    metrics = Runner.from_cfg(cfg).test()
    assert 'coco/bbox_mAP' in metrics, metrics

    from iou_aware.apis import calibrate_detector
    made = calibrate_detector(load(cfg_path, 'calibrate'), ckpt, osp.join(work, 'cal'), cfg_path)
    cfg = load(made['config'], 'test_calibrated')
    cfg.load_from = ckpt
    calibrated = Runner.from_cfg(cfg).test()
    print(json.dumps(dict(plain=metrics['coco/bbox_mAP'], calibrated=calibrated['coco/bbox_mAP'],
                          model=cfg.model.type, val_detections=made['num_val_detections'])))
''')


def _run(cmd, **kwargs):
    out = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    assert out.returncode == 0, f'{cmd[:4]} failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}'
    return out


def _source_copy(out):
    """The tree's files (tracked, and untracked ones git does not ignore) copied to ``out``:
    building a wheel writes into its source (setup.py replaces the editable install's
    ``iou_aware/.mim/configs`` link with a copy), which must not happen to the checkout
    while other tests read configs through it."""
    listed = subprocess.run(['git', 'ls-files', '-co', '--exclude-standard', '-z'], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split('\0')
    for rel in filter(None, listed):
        src = osp.join(ROOT, rel)
        if osp.isfile(src) and not osp.islink(src):
            dst = osp.join(out, rel)
            os.makedirs(osp.dirname(dst), exist_ok=True)
            shutil.copy2(src, dst)
    return out


def test_wheel_trains_tests_and_calibrates_without_the_checkout(tmp_path):
    wheels = tmp_path / 'wheels'
    source = _source_copy(str(tmp_path / 'source'))
    _run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '-q',
          '-w', str(wheels), source], cwd=source)
    wheel = glob.glob(str(wheels / 'iou_aware-*.whl'))
    assert len(wheel) == 1, wheel
    venv = tmp_path / 'venv'
    _run([sys.executable, '-m', 'venv', str(venv)])
    python = str(venv / 'bin' / 'python')
    purelib = _run([python, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])']
                   ).stdout.strip()
    stack = [p for p in site.getsitepackages() if osp.isdir(osp.join(p, 'mmdet'))]
    assert stack, 'the project venv has no mmdet'
    with open(osp.join(purelib, 'pinned_stack.pth'), 'w') as f:
        f.write('\n'.join(stack) + '\n')
    _run([python, '-m', 'pip', 'install', '--no-deps', '--no-index', '-q', wheel[0]])
    # the wheel holds the product only: no lab, no tools, no tests
    listing = _run([python, '-m', 'zipfile', '-l', wheel[0]]).stdout
    assert 'iou_aware/_C' in listing and 'iou_aware/.mim/configs/' in listing
    for absent in ('benchmarks/', 'tools/', 'tests/', 'iou_aware/results.py'):
        assert absent not in listing, absent
    work = tmp_path / 'user'
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH',)}
    out = _run([python, '-c', USER_SCRIPT, str(work)], cwd=str(work), env=env, timeout=900)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result['model'] == 'CalibratedDetector' and result['val_detections'] > 0
    assert 0.0 <= result['plain'] <= 1.0 and 0.0 <= result['calibrated'] <= 1.0
