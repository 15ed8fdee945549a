"""Train a detector from an mmdet config with mmengine's Runner (iou_aware registered).

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
                          [--cfg-options k=v ...] [--launcher pytorch]
"""
import argparse
import os

from mmengine.runner import Runner

import iou_aware  # noqa: F401  (registers our components before the config is built)
from iou_aware.utils.cpu_distributed import finish_distributed
from iou_aware.utils.cli import (add_runner_args, check_datasets_or_fail, fail,
                                 parse_runner_args, prepare_config, run_or_fail)


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
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        if not os.path.isfile(args.resume):
            fail(f'checkpoint to resume from not found: {args.resume}')
        cfg.resume, cfg.load_from = True, args.resume
    check_datasets_or_fail(cfg, ('train', 'val') if cfg.get('val_cfg') else ('train',))
    return Runner.from_cfg(cfg)


def main(argv=None):
    runner = build_runner(parse_args(argv))
    run_or_fail(runner.train)
    finish_distributed()


if __name__ == '__main__':
    main()
