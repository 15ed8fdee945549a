"""Convert a Pascal-VOC style dataset (XML annotations, ImageSets/Main split files) to
COCO json, one file per split, so mmdet's CocoDataset and our StrictIoUCocoMetric (AP80,
AP90) can use it.

    python tools/dataset_converters/voc_to_coco.py ROOT --classes A B C \\
        [--splits train val test] [--out-dir ROOT/coco]

Boxes are copied as they are (coordinates as mmdet's own VOC converter); flawed ones are
dropped or clipped at load time with a warning (iou_aware/datasets/annotation_checks.py),
and counted here. The same input gives byte-identical files.
"""
import argparse
import json
import os
import os.path as osp
import sys

from iou_aware.datasets.annotation_checks import check_coco_annotations
from iou_aware.datasets.voc import voc_to_coco


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('root', help='dataset folder with Annotations/, ImageSets/Main/, JPEGImages/')
    parser.add_argument('--classes', nargs='+', required=True, help='class names, in label order')
    parser.add_argument('--splits', nargs='+', default=['train', 'val', 'test'])
    parser.add_argument('--out-dir', help='where the json files go (default: ROOT/coco)')
    args = parser.parse_args(argv)
    out_dir = args.out_dir or osp.join(args.root, 'coco')
    os.makedirs(out_dir, exist_ok=True)
    for split in args.splits:
        try:
            coco = voc_to_coco(args.root, split, args.classes)
        except (OSError, ValueError) as exc:
            print(f'error: {exc}', file=sys.stderr)
            return 2
        path = osp.join(out_dir, f'{split}.json')
        with open(path, 'w') as f:
            json.dump(coco, f, indent=None, separators=(',', ':'), sort_keys=True)
            f.write('\n')
        _, report = check_coco_annotations(coco['images'], coco['annotations'], path)
        flaws = f' (as in the source, flawed: {report.kinds()})' if report else ''
        print(f'{split}: {len(coco["images"])} images, {len(coco["annotations"])} boxes -> '
              f'{path}{flaws}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
