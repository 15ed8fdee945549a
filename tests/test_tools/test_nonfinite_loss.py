"""A loss that turns NaN stops training with one line naming the iteration and the term,
and no checkpoint ever holds the spoiled weights."""
import os.path as osp
import textwrap

import pytest
import torch

from .tool_helpers import FAST, ROOT, data_options, one_error_line, run_tool

pytestmark = pytest.mark.slow  # trains in subprocesses

POISON_HOOK = '''
import torch
from mmengine.hooks import Hook
from mmdet.registry import HOOKS


@HOOKS.register_module()
class PoisonAtIterationHook(Hook):
    """Fill the classification head's weights with NaN before iteration ``iteration``."""

    def __init__(self, iteration):
        self.iteration = iteration

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter + 1 == self.iteration:
            with torch.no_grad():
                runner.model.bbox_head.retina_cls.weight.fill_(float('nan'))
'''


def test_nan_loss_stops_with_one_line_and_no_spoiled_checkpoint(tiny_shapes, tmp_path):
    (tmp_path / 'poison_hook.py').write_text(POISON_HOOK)
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(textwrap.dedent(f'''
        _base_ = {osp.join(ROOT, 'configs/retinanet/retinanet_tiny-r18_fpn_shapes.py')!r}
        custom_imports = dict(imports=['iou_aware', 'poison_hook'], allow_failed_imports=False)
        custom_hooks = [dict(type='FiniteLossHook'), dict(type='PoisonAtIterationHook', iteration=3)]
    '''))
    work_dir = tmp_path / 'work'
    env = dict(__import__('os').environ, PYTHONPATH=str(tmp_path))
    out = run_tool('tools/train.py', str(cfg), '--work-dir', str(work_dir), '--checkpoint-interval', '1',
                   '--cfg-options', *data_options(tiny_shapes), *FAST, 'train_cfg.max_epochs=2',
                   env=env)
    line = one_error_line(out)
    assert line.startswith('error: non-finite loss at iteration 3 (epoch 1, batch 3): ')
    assert 'loss_cls = nan' in line and 'loss = nan' in line
    assert osp.isfile(work_dir / 'iter_2.pth') and not osp.exists(work_dir / 'iter_3.pth')
    state = torch.load(work_dir / 'iter_2.pth', map_location='cpu', weights_only=True)['state_dict']
    assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())
