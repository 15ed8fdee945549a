"""Generate the synthetic "shapes" detection dataset in COCO format.

    python tools/make_shapes_dataset.py [--out-dir data/shapes] [--seed 0] [--force]

Writes OUT/{train,val}/NNNNNN.png, OUT/annotations/{train,val}.json and OUT/meta.json,
validates each split with pycocotools, and prints one summary line per split. The same
arguments give byte-identical files. What the boxes mean (visible pixels only; shapes less
than 35% visible are left unannotated) is documented in iou_aware/datasets/shapes.py.
"""
import argparse
import sys

from iou_aware import datasets


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--out-dir', default='data/shapes', help='output directory')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument('--train-images', type=int, default=1500, help='images in the train split')
    parser.add_argument('--val-images', type=int, default=300, help='images in the val split')
    parser.add_argument('--image-size', type=int, default=256, help='image side (px)')
    parser.add_argument('--min-objects', type=int, default=2, help='fewest shapes drawn per image')
    parser.add_argument('--max-objects', type=int, default=8, help='most shapes drawn per image')
    parser.add_argument('--force', action='store_true', help='replace a dataset already in --out')
    args = parser.parse_args(argv)
    if args.seed < 0 or args.train_images < 0 or args.val_images < 0:
        parser.error('--seed, --train-images and --val-images must be non-negative')
    return parser, args


def progress_bar(split, count):
    """A progress bar per split (mmengine's); returns its per-image tick."""
    try:
        from mmengine.utils import ProgressBar
    except ImportError:  # the generator itself needs only numpy and PIL
        return None
    print(f'{split}: rendering {count} images', flush=True)
    return ProgressBar(count).update if count else None


def main(argv=None):
    parser, args = parse_args(argv)
    try:
        config = datasets.ShapesConfig(image_size=args.image_size, min_objects=args.min_objects,
                                       max_objects=args.max_objects)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        datasets.generate_dataset(
            args.out_dir, num_images=dict(train=args.train_images, val=args.val_images),
            seed=args.seed, config=config, force=args.force,
            on_split_start=progress_bar,
            on_split_done=lambda summary: print(f'\n{summary.describe()}', flush=True))
    except FileExistsError:
        print(f'error: {args.out_dir} already holds a dataset; pass --force to replace it',
              file=sys.stderr)
        return 2
    except ValueError as exc:  # validation of a freshly written split failed: a generator bug
        print(f'error: {exc}', file=sys.stderr)
        return 1
    print(f'dataset written to {args.out_dir}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
