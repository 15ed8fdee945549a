"""Exact resume: a training run killed with SIGKILL in the middle of an epoch and resumed
with ``tools/train.py --resume`` ends with the same weights, bit for bit, as the run that
was never interrupted (ResumableEpochBasedTrainLoop + per-sample seeding)."""
import os.path as osp
import signal
import textwrap

import pytest
import torch

from .tool_helpers import ROOT, data_options, run_tool

pytestmark = pytest.mark.slow

KILL_HOOK = '''
import os, signal
from mmengine.hooks import Hook
from mmdet.registry import HOOKS


@HOOKS.register_module()
class KillAtIterationHook(Hook):
    """SIGKILL this process just before iteration ``iteration`` (1-based) starts."""

    def __init__(self, iteration):
        self.iteration = iteration

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter + 1 == self.iteration:
            os.kill(os.getpid(), signal.SIGKILL)
'''

# 16 images at batch 4: 4 iterations an epoch, 3 epochs. Checkpoints every 2 iterations,
# the kill comes before iteration 7: the run resumes from iter_6.pth, in the middle of epoch 2.
SCHEDULE = ['train_cfg.max_epochs=3', 'train_cfg.val_interval=100',
            'param_scheduler.1.end=3', 'param_scheduler.1.T_max=3',
            'param_scheduler.0.end=2', 'default_hooks.logger.interval=1']


def _config(tmp_path, base, kill_at=None):
    hooks = "dict(type='FiniteLossHook')"
    if kill_at:
        hooks += f", dict(type='KillAtIterationHook', iteration={kill_at})"
    path = tmp_path / f'cfg_{kill_at or "full"}.py'
    path.write_text(textwrap.dedent(f'''
        _base_ = {osp.join(ROOT, base)!r}
        custom_imports = dict(imports=['iou_aware', 'kill_hook'], allow_failed_imports=False)
        custom_hooks = [{hooks}]
    '''))
    return str(path)


def _final_weights(work_dir):
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        ckpt = torch.load(f.read().strip(), map_location='cpu', weights_only=True)
    assert ckpt['meta']['iter'] == 12
    return ckpt['state_dict']


@pytest.mark.parametrize('base', [
    # IoU-Net draws random numbers in the model too (RPN/RoI samplers, jittered boxes,
    # own-box sampling); IoU-aware RetinaNet is the one-stage default.
    'configs/iou_net/faster-rcnn_tiny-r18_fpn_iou-net_shapes.py',
    'configs/iou_aware_retinanet/iou-aware-retinanet_tiny-r18_fpn_shapes.py',
])
def test_sigkill_mid_epoch_then_resume_gives_identical_weights(tiny_shapes, tmp_path, base):
    (tmp_path / 'kill_hook.py').write_text(KILL_HOOK)
    env = dict(__import__('os').environ, PYTHONPATH=str(tmp_path))
    opts = ['--checkpoint-interval', '2', '--cfg-options', *data_options(tiny_shapes),
            *SCHEDULE]

    full = run_tool('tools/train.py', _config(tmp_path, base), '--work-dir', str(tmp_path / 'full'),
                    *opts, env=env)
    assert full.returncode == 0, full.stderr[-3000:]

    killed_dir = str(tmp_path / 'killed')
    killed = run_tool('tools/train.py', _config(tmp_path, base, kill_at=7), '--work-dir', killed_dir,
                      *opts, env=env)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert osp.isfile(osp.join(killed_dir, 'iter_6.pth'))
    assert not osp.exists(osp.join(killed_dir, 'iter_8.pth'))

    resumed = run_tool('tools/train.py', _config(tmp_path, base), '--work-dir', killed_dir,
                       '--resume', *opts, env=env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    log = resumed.stdout + resumed.stderr
    assert 'resuming epoch 2 at batch 3 of 4' in log

    want, got = _final_weights(str(tmp_path / 'full')), _final_weights(killed_dir)
    assert want.keys() == got.keys()
    differ = [k for k in want if not torch.equal(want[k], got[k])]
    assert not differ, f'{len(differ)} tensors differ, e.g. {differ[:3]}'
