"""Evaluate a trained detector with mmengine's Runner (iou_aware registered).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out results.pkl]
                         [--metrics-json metrics.json] [--show-dir DIR]
                         [--cfg-options k=v ...] [--launcher pytorch]

``--out`` dumps the predictions as mmdet does (a pickle; each image's ``pred_instances``
keeps ``pred_ious`` and ``cls_scores``); ``--show-dir`` draws every image with its
detections, each labelled with class, score and predicted IoU.
"""
import argparse
import json
import os
import sys

from mmengine.runner import Runner

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # the lab's provenance record (benchmarks/ is not installed)

import iou_aware  # noqa: E402,F401  (registers our components before the config is built)
from iou_aware.utils.cpu_distributed import finish_distributed  # noqa: E402
from iou_aware.utils.cli import (add_runner_args, check_checkpoint_or_fail, check_datasets_or_fail,
                                 fail, parse_runner_args, prepare_config, run_or_fail)
from benchmarks.provenance import provenance  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (evaluate) a detector')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where the evaluation log goes')
    parser.add_argument('--out', help='also dump the raw predictions to this .pkl file')
    parser.add_argument('--metrics-json', help='write the metrics to this json file')
    parser.add_argument('--show-dir', help='draw each image with its detections into this '
                        'folder (boxes labelled with class, score and predicted IoU)')
    add_runner_args(parser)
    return parse_runner_args(parser, argv)


def build_runner(args):
    cfg = prepare_config(args)
    args.provenance = provenance(cfg, args.config, args.cfg_options)
    if not os.path.isfile(args.checkpoint):
        fail(f'checkpoint not found: {args.checkpoint}')
    cfg.load_from = args.checkpoint
    if args.out:
        if not args.out.endswith(('.pkl', '.pickle')):
            fail(f'--out must end with .pkl or .pickle, got {args.out}')
        evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) else [cfg.test_evaluator]
        cfg.test_evaluator = [*evaluators, dict(type='DumpDetResults', out_file_path=args.out)]
    if args.show_dir:  # as mmdet's tools/test.py, with the IoU-labelling visualizer
        hook = cfg.default_hooks.get('visualization')
        if hook is None:
            fail('--show-dir needs default_hooks.visualization (mmdet\'s DetVisualizationHook) '
                 'in the config')
        hook.update(draw=True, test_out_dir=os.path.abspath(args.show_dir))
        cfg.visualizer = dict(cfg.get('visualizer') or {}, type='IoUDetLocalVisualizer')
    check_datasets_or_fail(cfg, ('test',))
    runner = Runner.from_cfg(cfg)
    check_checkpoint_or_fail(runner.model, args.checkpoint)
    return runner


def main(argv=None):
    args = parse_args(argv)
    metrics = run_or_fail(build_runner(args).test)
    from mmengine.dist import is_main_process
    if args.metrics_json and is_main_process():
        record = {k: float(v) for k, v in metrics.items()}
        record['provenance'] = args.provenance
        with open(args.metrics_json, 'w') as f:
            json.dump(record, f, indent=2, sort_keys=True)
    finish_distributed()
    return metrics


if __name__ == '__main__':
    main()
