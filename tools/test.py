"""Evaluate a trained detector with mmengine's Runner (iou_aware registered).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out results.pkl]
                         [--cfg-options k=v ...] [--launcher pytorch]
"""
import argparse
import json
import os

from mmengine.config import DictAction
from mmengine.runner import Runner

import iou_aware  # noqa: F401  (registers our components before the config is built)
from iou_aware.utils.cli import (check_datasets_or_fail, default_work_dir, fail, load_config,
                                 run_or_fail)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (evaluate) a detector')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where the evaluation log goes')
    parser.add_argument('--out', help='also dump the raw predictions to this .pkl file')
    parser.add_argument('--metrics-json', help='write the metrics to this json file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher for distributed testing')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def build_runner(args):
    cfg = load_config(args.config, args.cfg_options)
    cfg.launcher = args.launcher
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or default_work_dir(args.config)
    if not os.path.isfile(args.checkpoint):
        fail(f'checkpoint not found: {args.checkpoint}')
    cfg.load_from = args.checkpoint
    if args.out:
        if not args.out.endswith(('.pkl', '.pickle')):
            fail(f'--out must end with .pkl or .pickle, got {args.out}')
        cfg.test_evaluator = [cfg.test_evaluator, dict(type='DumpDetResults', out_file_path=args.out)] \
            if isinstance(cfg.test_evaluator, dict) else [*cfg.test_evaluator,
                                                          dict(type='DumpDetResults', out_file_path=args.out)]
    check_datasets_or_fail(cfg, ('test',))
    return Runner.from_cfg(cfg)


def main(argv=None):
    args = parse_args(argv)
    metrics = run_or_fail(build_runner(args).test)
    if args.metrics_json:
        with open(args.metrics_json, 'w') as f:
            json.dump({k: float(v) for k, v in metrics.items()}, f, indent=2, sort_keys=True)
    return metrics


if __name__ == '__main__':
    main()
