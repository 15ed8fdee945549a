"""Time detectors side by side: inference latency per image and training step time.

    python benchmarks/speed/benchmark_detectors.py \\
        --model retinanet configs/retinanet/retinanet_tiny-r18_fpn_shapes.py [CKPT] \\
        --model iou-aware configs/iou_aware_retinanet/iou-aware-retinanet_tiny-r18_fpn_shapes.py [CKPT] \\
        [--images 60] [--train-steps 10] [--rounds 5] [--device cpu] [--json out.json]

Each ``--model NAME CONFIG [CHECKPOINT] [key=value ...]`` is one row; key=value pairs are
that row's config overrides, parsed as ``--cfg-options`` (which applies to every row),
e.g. ``model.test_cfg.rcnn.refine=None``, so one checkpoint can be timed under several
test-time switches. Batches come from the config's val (batch 1) and train
loaders and are loaded once up front, so only the model is timed (data preprocessing on the
tensor included). The models take turns within each round (order rotated every round) and
each row reports its median over the rounds; the ratio column is against the first row.
Timing wants a quiet machine; ratios from one run are the comparable numbers. On CUDA
each timed block ends with a device synchronization.
"""
import argparse
import json
import math
import os.path as osp
import time

import torch
from mmengine.config import DictAction
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.runner import Runner, load_checkpoint

import iou_aware  # noqa: F401
from iou_aware.utils.cli import check_checkpoint_or_fail, check_datasets_or_fail, fail, load_config


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--model', nargs='+', action='append', required=True,
                        metavar='NAME CONFIG [CHECKPOINT] [key=value]',
                        help='a row: name, config, optional checkpoint, config overrides')
    parser.add_argument('--images', type=int, default=60, help='val images per round')
    parser.add_argument('--train-steps', type=int, default=10,
                        help='training steps per round (0: skip training)')
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--device', default='cpu', help='cpu or cuda[:N]')
    parser.add_argument('--json', help='also write the table as JSON')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='config overrides for every row (a row\'s own key=value '
                        'items are parsed the same way and applied after these)')
    args = parser.parse_args(argv)
    # A row's key=value items go through the same DictAction as --cfg-options.
    row_options = argparse.ArgumentParser(add_help=False)
    row_options.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    rows = []
    for spec in args.model:
        if len(spec) < 2:
            parser.error(f'--model needs NAME CONFIG [CHECKPOINT] [key=value ...], got {spec}')
        name, config, rest = spec[0], spec[1], spec[2:]
        ckpt = rest.pop(0) if rest and '=' not in rest[0] else None
        bad = [item for item in rest if '=' not in item]
        if bad:
            parser.error(f'--model {name}: expected key=value config overrides, got {bad}')
        own = row_options.parse_args(['--cfg-options', *rest] if rest else []).cfg_options
        options = {**args.cfg_options, **own}
        rows.append(dict(name=name, config=config, checkpoint=ckpt, options=options))
    return args, rows


def build(row, device):
    cfg = load_config(row['config'], row['options'])
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    check_datasets_or_fail(cfg, ('train', 'val'))
    detector = cfg.model.get('detector', cfg.model)  # the builders wrap a detector config
    detector.setdefault('backbone', {})['init_cfg'] = None
    from mmdet.registry import MODELS
    model = MODELS.build(cfg.model)
    if row['checkpoint']:
        if not osp.isfile(row['checkpoint']):
            fail(f'checkpoint not found: {row["checkpoint"]}')
        check_checkpoint_or_fail(model, row['checkpoint'])
        load_checkpoint(model, row['checkpoint'], map_location='cpu', logger='silent')
    return cfg, model.to(device)


def cached_batches(cfg, key, count, batch_size=None):
    loader_cfg = dict(cfg[key])
    loader_cfg['num_workers'] = 0
    loader_cfg.pop('persistent_workers', None)
    if batch_size:
        loader_cfg['batch_size'] = batch_size
    batches = []
    for batch in Runner.build_dataloader(loader_cfg, seed=0):
        batches.append(batch)
        if len(batches) == count:
            break
    return batches


def main():
    args, rows = parse_args()
    torch.manual_seed(0)
    if args.device.startswith('cuda') and not torch.cuda.is_available():
        fail(f'--device {args.device}: no CUDA device is available')
    sync = torch.cuda.synchronize if args.device.startswith('cuda') else (lambda: None)
    for row in rows:
        cfg, row['model'] = build(row, args.device)
        row['val'] = cached_batches(cfg, 'val_dataloader', args.images, batch_size=1)
        if args.train_steps:
            row['train'] = cached_batches(cfg, 'train_dataloader', args.train_steps)
            row['optim'] = build_optim_wrapper(row['model'], cfg.optim_wrapper)
        row['infer_s'], row['train_s'] = [], []

    def infer(row):
        row['model'].eval()
        with torch.no_grad():
            for batch in row['val']:
                row['model'].test_step(batch)

    def train(row):
        row['model'].train()
        for batch in row['train']:
            row['model'].train_step(batch, row['optim'])

    for row in rows:  # warm-up: first calls allocate buffers and the optimizer's state
        infer(row)
        if args.train_steps:
            train(row)
    for r in range(args.rounds):
        order = rows[r % len(rows):] + rows[:r % len(rows)]
        for row in order:
            sync()
            start = time.perf_counter()
            infer(row)
            sync()
            row['infer_s'].append((time.perf_counter() - start) / len(row['val']))
            if args.train_steps:
                start = time.perf_counter()
                train(row)
                sync()
                row['train_s'].append((time.perf_counter() - start) / len(row['train']))
        print(f'[benchmark] round {r + 1}/{args.rounds} done', flush=True)

    def median(xs):
        return sorted(xs)[len(xs) // 2] if xs else float('nan')

    ref = rows[0]
    table = []
    where = (torch.cuda.get_device_name(args.device) if args.device.startswith('cuda')
             else f'CPU, {torch.get_num_threads()} threads')
    print(f'\ntorch {torch.__version__}, {where}; median of '
          f'{args.rounds} rounds of {len(ref["val"])} val images (batch 1) and '
          f'{args.train_steps} train steps (batch {len(ref["train"][0]["inputs"]) if args.train_steps else "-"})\n')
    print('| model | inference ms/img | vs first | train s/step | vs first |')
    print('|---|---:|---:|---:|---:|')
    for row in rows:
        inf, tr = median(row['infer_s']), median(row['train_s'])
        inf_ref, tr_ref = median(ref['infer_s']), median(ref['train_s'])
        table.append(dict(name=row['name'], config=row['config'], options=row['options'],
                          inference_ms_per_img=inf * 1e3, inference_ratio=inf / inf_ref,
                          train_s_per_step=tr, train_ratio=tr / tr_ref if args.train_steps else None))
        train_cells = f'{tr:.3f} | {tr / tr_ref:.3f}x' if args.train_steps else '- | -'
        print(f'| {row["name"]} | {inf * 1e3:.1f} | {inf / inf_ref:.3f}x | {train_cells} |')
    if args.json:
        with open(args.json, 'w') as f:
            # Strict JSON: a step that was not measured is null, not NaN.
            rows = [{k: None if isinstance(v, float) and math.isnan(v) else v
                     for k, v in row.items()} for row in table]
            json.dump(rows, f, indent=2, default=str)


if __name__ == '__main__':
    main()
