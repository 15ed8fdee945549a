"""The project's main job: train and evaluate tiny detectors on the shapes benchmark.

Generates the dataset if it is missing, trains each config from scratch with
tools/train.py (progress printed as it goes), runs tools/analyze_localization.py on each
trained model, and prints metrics and correlations with the true IoU side by side.
By default: the tiny RetinaNet and the tiny IoU-aware RetinaNet, 6 epochs each (half the
benchmark schedule, so the demo fits in about 12-14 minutes on 2 CPU cores; --epochs 12 gives
the README's benchmark setting).

    python tools/demo.py [--configs CFG ...] [--epochs N] [--data data/shapes]
                         [--work-dir work_dirs/demo]
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEFAULT_CONFIGS = ['configs/retinanet/retinanet_tiny-r18_fpn_shapes.py',
                   'configs/iou_aware_retinanet/iou-aware-retinanet_tiny-r18_fpn_shapes.py']


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--configs', nargs='+', default=DEFAULT_CONFIGS)
    parser.add_argument('--epochs', type=int, default=6,
                        help='epochs per model; the cosine schedule is stretched to fit '
                        '(0: keep the config\'s own, 12)')
    parser.add_argument('--no-analysis', action='store_true',
                        help='skip the localization analysis (correlation columns)')
    parser.add_argument('--data', default='data/shapes', help='shapes dataset folder')
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        help='passed to every tools/train.py run')
    return parser.parse_args()


def ensure_dataset(data):
    if osp.isfile(osp.join(data, 'annotations', 'val.json')):
        print(f'[demo] dataset: {data} (exists)')
        return
    print(f'[demo] dataset: generating {data}')
    subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'make_shapes_dataset.py'),
                    '--out-dir', data], check=True)


def main():
    args = parse_args()
    os.chdir(ROOT)
    ensure_dataset(args.data)
    from iou_aware.utils.run_logs import markdown_table, read_correlations, read_run_summary

    if args.epochs < 0:
        sys.exit(f'[demo] --epochs must be >= 0, got {args.epochs}')
    from iou_aware.utils.cli import load_config, shapes_data_options
    data_opts = shapes_data_options(args.data)
    from iou_aware.utils.schedule import epoch_schedule_options
    rows = {}
    for cfg in args.configs:
        schedule = epoch_schedule_options(load_config(cfg), args.epochs) if args.epochs else []
        name = osp.splitext(osp.basename(cfg))[0]
        work_dir = osp.join(args.work_dir, name)
        print(f'[demo] training {name} (log and checkpoint in {work_dir})', flush=True)
        start = time.time()
        subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'train.py'), cfg,
                        '--work-dir', work_dir, '--cfg-options', *data_opts, *schedule,
                        *args.cfg_options], check=True)
        rows[name] = read_run_summary(work_dir)
        rows[name]['wall_s'] = round(time.time() - start, 1)
        if not args.no_analysis:
            with open(osp.join(work_dir, 'last_checkpoint')) as f:
                ckpt = f.read().strip()
            analysis = osp.join(work_dir, 'analysis')
            print(f'[demo] localization analysis of {name} -> {analysis}', flush=True)
            subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'analyze_localization.py'),
                            cfg, ckpt, '--out-dir', analysis, '--cfg-options', *data_opts,
                            *args.cfg_options], check=True, stdout=subprocess.DEVNULL)
            rows[name].update(read_correlations(osp.join(analysis, 'summary.json')))
    columns = ('AP', 'AP50', 'AP75', 'AP80', 'AP90', 'sec_per_iter')
    if not args.no_analysis:
        columns += ('r(cls)', 'r(IoU)', 'r(fused)')
    table = markdown_table(rows, columns)
    with open(osp.join(args.work_dir, 'summary.json'), 'w') as f:
        json.dump(rows, f, indent=2, sort_keys=True)
    epochs = f'{args.epochs} epochs' if args.epochs else "the configs' schedule"
    print(f'\n[demo] results on {args.data} val after {epochs} (AP in %; r(...): Pearson '
          f'correlation of a confidence with the true IoU, detections with true IoU >= 0.5):'
          f'\n{table}')
    print(f'[demo] summary written to {osp.join(args.work_dir, "summary.json")}')


if __name__ == '__main__':
    try:
        main()
    except subprocess.CalledProcessError as exc:
        sys.exit(f'[demo] a step failed (exit code {exc.returncode}): {" ".join(exc.cmd[1:3])}')
