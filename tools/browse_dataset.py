"""Check a config's dataset and draw a few of its images with their boxes.

    python tools/browse_dataset.py CONFIG [--split train|val|test] [--num 8]
        [--out-dir work_dirs/browse] [--cfg-options k=v ...]

Loads the split as training and testing do (the annotation check drops or clips flawed
boxes with one warning line per file), prints images and boxes per class and what the
check found, and writes NUM images (evenly spaced through the split) with their ground
truth drawn, to OUT_DIR/<split>/. Unlike mmdet's browse_dataset.py it shows the boxes as
loaded, before augmentation: what the annotation files say.
"""
import argparse
import collections
import os
import os.path as osp
import sys

import iou_aware  # noqa: F401
from iou_aware.utils.cli import check_datasets_or_fail, load_config


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('--split', default='train', choices=['train', 'val', 'test'])
    parser.add_argument('--num', type=int, default=8, help='images to draw (0: none)')
    parser.add_argument('--out-dir', default='work_dirs/browse')
    from mmengine.config import DictAction
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    check_datasets_or_fail(cfg, (args.split,))

    import mmcv
    import numpy as np
    import torch
    from mmdet.registry import DATASETS, VISUALIZERS
    from mmdet.structures import DetDataSample
    from mmengine.registry import init_default_scope
    from mmengine.structures import InstanceData
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    ds_cfg = dict(cfg[f'{args.split}_dataloader'].dataset)
    ds_cfg.update(pipeline=[], filter_cfg=None)  # every image, boxes as loaded
    dataset = DATASETS.build(ds_cfg)
    dataset.full_init()
    classes = dataset.metainfo['classes']
    per_class = collections.Counter()
    for i in range(len(dataset)):
        for inst in dataset.get_data_info(i)['instances']:
            per_class[classes[inst['bbox_label']]] += 1
    report = getattr(dataset, '_report', None)
    print(f'{args.split}: {len(dataset)} images, {sum(per_class.values())} boxes ('
          + ', '.join(f'{c} {per_class[c]}' for c in classes) + ')')
    print('annotation check: ' + (report.describe() if report else 'no flawed boxes'))

    if args.num > 0 and len(dataset):
        out = osp.join(args.out_dir, args.split)
        os.makedirs(out, exist_ok=True)
        vis = VISUALIZERS.build(dict(type='IoUDetLocalVisualizer', name='browse'))
        vis.dataset_meta = dataset.metainfo
        for i in np.linspace(0, len(dataset) - 1, min(args.num, len(dataset))).astype(int):
            info = dataset.get_data_info(int(i))
            sample = DetDataSample()
            boxes = [inst['bbox'] for inst in info['instances']]
            sample.gt_instances = InstanceData(
                bboxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
                labels=torch.tensor([inst['bbox_label'] for inst in info['instances']]))
            image = mmcv.imread(info['img_path'], channel_order='rgb')
            vis.add_datasample(osp.basename(info['img_path']), image, sample, draw_pred=False,
                               show=False, out_file=osp.join(out, osp.basename(info['img_path'])))
        print(f'{min(args.num, len(dataset))} images with their boxes written to {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
