"""Generate the synthetic "shapes" detection dataset in COCO format.

    python tools/make_shapes_dataset.py [--out data/shapes] [--seed 0] [--force]

Writes OUT/{train,val}/NNNNNN.png, OUT/annotations/{train,val}.json and OUT/meta.json,
validates each split with pycocotools, and prints one summary line per split. The same
arguments give byte-identical files. What the boxes mean (visible pixels only; shapes less
than 35% visible are left unannotated) is documented in iou_aware/datasets/shapes.py.
"""
import argparse
import importlib.util
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def load_datasets_package():
    """Load ``iou_aware/datasets`` without running ``iou_aware/__init__.py``.

    The top-level package imports torch, mmengine and mmdet to register its models: seconds
    of start-up, and a dependency on the whole detection stack, for a script that only
    writes PNGs and JSON. The subpackage imports nothing but numpy, PIL and pycocotools.
    """
    name = '_iou_aware_datasets_standalone'
    if name in sys.modules:
        return sys.modules[name]
    package_dir = REPO_ROOT / 'iou_aware' / 'datasets'
    spec = importlib.util.spec_from_file_location(
        name, package_dir / '__init__.py', submodule_search_locations=[str(package_dir)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # the relative import of .shapes looks the parent up here
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', default='data/shapes', help='output directory (default: %(default)s)')
    parser.add_argument('--seed', type=int, default=0, help='random seed (default: %(default)s)')
    parser.add_argument('--train-images', type=int, default=1500, help='default: %(default)s')
    parser.add_argument('--val-images', type=int, default=300, help='default: %(default)s')
    parser.add_argument('--image-size', type=int, default=256, help='side of the square images in pixels (default: %(default)s)')
    parser.add_argument('--min-objects', type=int, default=2, help='shapes drawn per image, at least (default: %(default)s)')
    parser.add_argument('--max-objects', type=int, default=8, help='shapes drawn per image, at most (default: %(default)s)')
    parser.add_argument('--force', action='store_true', help='replace a dataset already in --out')
    args = parser.parse_args(argv)
    if args.seed < 0 or args.train_images < 0 or args.val_images < 0:
        parser.error('--seed, --train-images and --val-images must be non-negative')
    return parser, args


def main(argv=None):
    parser, args = parse_args(argv)
    datasets = load_datasets_package()
    try:
        config = datasets.ShapesConfig(image_size=args.image_size, min_objects=args.min_objects,
                                       max_objects=args.max_objects)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        datasets.generate_dataset(
            args.out, num_images=dict(train=args.train_images, val=args.val_images), seed=args.seed,
            config=config, force=args.force, on_split_done=lambda summary: print(summary.describe(), flush=True))
    except FileExistsError as exc:
        print(f'error: {exc} (pass --force)', file=sys.stderr)
        return 2
    except ValueError as exc:  # validation of a freshly written split failed: a generator bug
        print(f'error: {exc}', file=sys.stderr)
        return 1
    print(f'dataset written to {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
