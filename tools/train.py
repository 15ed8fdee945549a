"""Train a detector from an mmdet config with mmengine's Runner (iou_aware registered).

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--checkpoint-interval N]
                          [--amp] [--cfg-options k=v ...] [--launcher pytorch]

With the project's configs (ResumableEpochBasedTrainLoop) ``--resume`` continues exactly
where the checkpoint left off, also in the middle of an epoch; ``--checkpoint-interval N``
writes a checkpoint every N iterations (instead of every epoch), so a kill loses at most N.
"""
import argparse
import os

from mmengine.runner import Runner

import iou_aware  # noqa: F401  (registers our components before the config is built)
from iou_aware.utils.cpu_distributed import finish_distributed
from iou_aware.engine import NonFiniteLossError
from iou_aware.utils.cli import latest_checkpoint
from iou_aware.utils.cli import (add_runner_args, check_checkpoint_readable_or_fail,
                                 check_datasets_or_fail, fail, parse_runner_args, prepare_config,
                                 run_or_fail)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a detector')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--work-dir', help='where logs and checkpoints go '
                        '(default: ./work_dirs/<config name>)')
    parser.add_argument('--amp', action='store_true',
                        help='automatic mixed precision (needs a GPU)')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the learning rate by the total batch size')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from CKPT, or from the latest checkpoint in the '
                        'work dir when no path is given')
    parser.add_argument('--checkpoint-interval', type=int, metavar='N',
                        help='checkpoint every N iterations instead of every epoch (the '
                        'latest is kept)')
    add_runner_args(parser)
    return parse_runner_args(parser, argv)


def build_runner(args):
    cfg = prepare_config(args)
    if args.amp:
        import torch
        if not torch.cuda.is_available():
            fail('--amp needs a CUDA device (mmengine mixed precision is GPU-only)')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg or 'base_batch_size' not in cfg.auto_scale_lr:
            fail('--auto-scale-lr needs `auto_scale_lr = dict(base_batch_size=...)` in the config')
        cfg.auto_scale_lr.enable = True
    if args.checkpoint_interval is not None:
        if args.checkpoint_interval < 1:
            fail(f'--checkpoint-interval must be a positive number of iterations, got '
                 f'{args.checkpoint_interval}')
        cfg.default_hooks.checkpoint = dict(
            cfg.default_hooks.get('checkpoint') or {}, type='CheckpointHook', by_epoch=False,
            interval=args.checkpoint_interval, save_last=True)
    if args.resume is not None:
        path = latest_checkpoint(cfg.work_dir) if args.resume == 'auto' else args.resume
        if args.resume != 'auto' and not os.path.isfile(path):
            fail(f'checkpoint to resume from not found: {path}')
        if path is not None:
            check_checkpoint_readable_or_fail(path)
        cfg.resume, cfg.load_from = True, path
    check_datasets_or_fail(cfg, ('train', 'val') if cfg.get('val_cfg') else ('train',))
    return Runner.from_cfg(cfg)


def main(argv=None):
    runner = build_runner(parse_args(argv))
    try:
        run_or_fail(runner.train)
    except NonFiniteLossError as exc:
        fail(str(exc))
    finish_distributed()


if __name__ == '__main__':
    main()
