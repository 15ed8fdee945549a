"""Detect objects in images and show how well each box is localized.

    python tools/image_demo.py CONFIG CHECKPOINT IMG [IMG ...] [--out-dir outputs]
        [--score-thr 0.3] [--device cpu] [--cfg-options k=v ...]

mmdet's DetInferencer underneath. Writes OUT_DIR/vis/<image>.jpg, each box labelled
``class score | IoU x.xx`` (the model's predicted IoU, where it has an IoU branch), and
OUT_DIR/preds/<image>.json with mmdet's ``labels``, ``scores``, ``bboxes`` plus
``pred_ious`` and ``cls_scores``. IMG may be image files or folders of images.
"""
import argparse
import os.path as osp
import sys

import iou_aware  # noqa: F401  (registers our components and the checkpoint fix)
from iou_aware.utils.cli import check_checkpoint_readable_or_fail, fail, load_config


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('inputs', nargs='+', metavar='IMG', help='image files or folders')
    parser.add_argument('--out-dir', default='outputs', help='where vis/ and preds/ go')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='draw boxes scoring at least this (all are saved in preds/)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cfg-options', nargs='+', default=None,
                        action=__import__('mmengine.config', fromlist=['DictAction']).DictAction,
                        help='override config settings, e.g. model.test_cfg.score_thr=0.1')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    missing = [p for p in args.inputs if not osp.exists(p)]
    if missing:
        fail(f'input not found: {missing[0]}')
    cfg = load_config(args.config, args.cfg_options)
    check_checkpoint_readable_or_fail(args.checkpoint)
    from iou_aware.visualization import IoUDetInferencer
    inferencer = IoUDetInferencer(model=cfg, weights=args.checkpoint, device=args.device,
                                  show_progress=False)
    for path in args.inputs:
        inferencer(path, out_dir=args.out_dir, pred_score_thr=args.score_thr, no_save_pred=False)
    print(f'pictures in {osp.join(args.out_dir, "vis")}, predictions in '
          f'{osp.join(args.out_dir, "preds")}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
