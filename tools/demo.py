"""The project's main job: train and evaluate tiny detectors on the shapes benchmark.

Generates the dataset if it is missing, trains each config from scratch with
tools/train.py (progress printed as it goes), and prints the metrics side by side.

    python tools/demo.py [--configs CFG ...] [--data data/shapes] [--work-dir work_dirs/demo]
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEFAULT_CONFIGS = ['configs/retinanet/retinanet_tiny-r18_fpn_shapes.py']


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--configs', nargs='+', default=DEFAULT_CONFIGS)
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
                    '--out', data], check=True)


def main():
    args = parse_args()
    os.chdir(ROOT)
    ensure_dataset(args.data)
    from iou_aware.utils.run_logs import markdown_table, read_run_summary

    data_root = args.data.rstrip('/') + '/'
    data_opts = [f'train_dataloader.dataset.data_root={data_root}',
                 f'val_dataloader.dataset.data_root={data_root}',
                 f'test_dataloader.dataset.data_root={data_root}',
                 f'val_evaluator.ann_file={data_root}annotations/val.json',
                 f'test_evaluator.ann_file={data_root}annotations/val.json']
    rows = {}
    for cfg in args.configs:
        name = osp.splitext(osp.basename(cfg))[0]
        work_dir = osp.join(args.work_dir, name)
        print(f'[demo] training {name} (log and checkpoint in {work_dir})', flush=True)
        start = time.time()
        subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'train.py'), cfg,
                        '--work-dir', work_dir, '--cfg-options', *data_opts,
                        *args.cfg_options], check=True)
        rows[name] = read_run_summary(work_dir)
        rows[name]['wall_s'] = round(time.time() - start, 1)
    table = markdown_table(rows)
    with open(osp.join(args.work_dir, 'summary.json'), 'w') as f:
        json.dump(rows, f, indent=2, sort_keys=True)
    print(f'\n[demo] results on {args.data} val (AP in %):\n{table}')
    print(f'[demo] summary written to {osp.join(args.work_dir, "summary.json")}')


if __name__ == '__main__':
    try:
        main()
    except subprocess.CalledProcessError as exc:
        sys.exit(f'[demo] a step failed (exit code {exc.returncode}): {" ".join(exc.cmd[1:3])}')
