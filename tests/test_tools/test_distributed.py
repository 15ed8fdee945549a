"""Distributed training on CPU: 2 processes, gloo backend, through tools/dist_train.sh."""
import glob
import json
import os
import os.path as osp
import socket
import subprocess
import sys
import time

import pytest
import torch

from .ddp_probe import weights_digest
from .tool_helpers import FAST, ROOT, data_options, run_tool

pytestmark = pytest.mark.slow  # trains in subprocesses

CONFIGS = {
    'iou-aware-retinanet': 'configs/iou_aware_retinanet/iou-aware-retinanet_tiny-r18_fpn_shapes.py',
    # IoU-Net: our PrRoIPool op's backward inside DDP's gradient all-reduce.
    'iou-net': 'configs/iou_net/faster-rcnn_tiny-r18_fpn_iou-net_shapes.py',
}


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def probed_config(tmp_path, name):
    cfg = tmp_path / f'{name}.py'
    cfg.write_text(f"_base_ = '{osp.join(ROOT, CONFIGS[name])}'\n"
                   "custom_imports = dict(imports=['iou_aware', 'ddp_probe'], "
                   "allow_failed_imports=False)\n"
                   "custom_hooks = [dict(type='WeightDigestHook')]\n")
    return str(cfg)


def env_with_probe():
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([osp.dirname(__file__), env.get('PYTHONPATH', '')])
    return env


def train(config, work, shapes, nproc, batch_size):
    opts = data_options(shapes) + FAST + [
        'train_cfg.max_epochs=1', 'train_cfg.val_interval=5',  # 1 epoch, no validation
        f'train_dataloader.batch_size={batch_size}']
    start = time.time()
    if nproc == 1:
        out = run_tool('tools/train.py', config, '--work-dir', work, '--cfg-options', *opts,
                       env=env_with_probe())
    else:
        env = dict(env_with_probe(), PYTHON=sys.executable, PORT=str(free_port()))
        out = subprocess.run(['bash', osp.join(ROOT, 'tools', 'dist_train.sh'), config,
                              str(nproc), '--work-dir', work, '--cfg-options', *opts],
                             capture_output=True, text=True, cwd=ROOT, env=env)
    assert out.returncode == 0, out.stderr[-4000:]
    return time.time() - start


def read(work, rank):
    with open(osp.join(work, f'digests_rank{rank}.json')) as f:
        return json.load(f)


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_two_cpu_processes_train_in_sync_and_save_one_checkpoint(name, tiny_shapes, tmp_path):
    config = probed_config(tmp_path, name)
    work = str(tmp_path / 'ddp')
    # 16 images, global batch 4: each of the 2 ranks runs 4 steps on its own half of the data.
    wall_2 = train(config, work, tiny_shapes, nproc=2, batch_size=2)
    rank0, rank1 = read(work, 0), read(work, 1)
    assert len(rank0) == len(rank1) == 4
    # Different data on each rank (different losses), yet identical weights after every step.
    assert any(a['loss'] != b['loss'] for a, b in zip(rank0, rank1))
    assert [r['digest'] for r in rank0] == [r['digest'] for r in rank1]
    assert len({r['digest'] for r in rank0}) == 4  # and the weights do change every step
    ckpts = sorted(glob.glob(osp.join(work, '*.pth')))
    assert [osp.basename(p) for p in ckpts] == ['epoch_1.pth']
    state = torch.load(ckpts[0], map_location='cpu', weights_only=True)['state_dict']
    params = [(k, v) for k, v in state.items() if not _is_buffer(k)]
    assert weights_digest(params) == rank0[-1]['digest']

    # dist_test.sh: both ranks evaluate their share, rank 0 writes the merged metrics.
    metrics = tmp_path / 'metrics.json'
    env = dict(env_with_probe(), PYTHON=sys.executable, PORT=str(free_port()))
    out = subprocess.run(['bash', osp.join(ROOT, 'tools', 'dist_test.sh'), config, ckpts[0], '2',
                          '--work-dir', work, '--metrics-json', str(metrics), '--cfg-options',
                          *data_options(tiny_shapes), *FAST], capture_output=True, text=True,
                         cwd=ROOT, env=env)
    assert out.returncode == 0, out.stderr[-4000:]
    assert 0 <= json.loads(metrics.read_text())['coco/bbox_mAP_50'] <= 1

    if name == 'iou-aware-retinanet':
        # The same epoch in one process (same global batch) for the wall-time comparison.
        wall_1 = train(config, str(tmp_path / 'single'), tiny_shapes, nproc=1, batch_size=4)
        print(f'\n[ddp] {name}: 1 epoch of 16 images, global batch 4: 1 process {wall_1:.1f} s, '
              f'2 processes (gloo) {wall_2:.1f} s')


BUFFER_SUFFIXES = ('running_mean', 'running_var', 'num_batches_tracked')


def _is_buffer(key):
    return key.endswith(BUFFER_SUFFIXES)


def test_sync_bn_on_cpu_is_refused_with_a_clear_message():
    from mmengine.config import Config

    from iou_aware.utils.cpu_distributed import prepare_cpu_distributed
    if torch.cuda.is_available():
        pytest.skip('SyncBN is fine with CUDA')
    cfg = Config(dict(sync_bn='torch', model=dict(type='RetinaNet'), launcher='pytorch'))
    messages = []

    def fail(msg):
        messages.append(msg)
        raise SystemExit(2)

    with pytest.raises(SystemExit):
        prepare_cpu_distributed(cfg, fail)
    assert 'SyncBN needs GPUs' in messages[0] and 'norm_cfg' in messages[0]
