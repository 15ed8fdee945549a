"""Up-front checks of a config's COCO-style datasets, so that a missing path, a corrupt
annotation file or an absent image is one clear line instead of a traceback from deep
inside a dataloader worker."""
import json
import os.path as osp

GENERATE_HINT = ' (the shapes benchmark is made with `python tools/make_shapes_dataset.py`)'


class DatasetError(Exception):
    """A dataset named by a config cannot be used as it is on disk."""


def _innermost_dataset(cfg):
    # Wrappers such as RepeatDataset and ClassBalancedDataset hold the real one in `dataset`.
    while isinstance(cfg, dict) and 'dataset' in cfg:
        cfg = cfg['dataset']
    return cfg


def _join(root, path):
    return path if not root or osp.isabs(path) else osp.join(root, path)


def check_coco_files(ann_file, img_dir, split):
    """Raise DatasetError unless ``ann_file`` is a readable COCO json whose images exist.

    Deliberately lighter than ``iou_aware.datasets.validate_coco_split`` (the generator's
    self-check, which opens every image and checks every box): this runs before every
    training and test, on datasets as large as COCO, so it only stats the files.
    """
    if not osp.isfile(ann_file):
        where = osp.dirname(ann_file) or '.'
        hint = '' if osp.isdir(where) else f'; the folder {where} does not exist either'
        raise DatasetError(f'{split} annotation file not found: {ann_file}{hint}{GENERATE_HINT}')
    try:
        with open(ann_file) as f:
            data = json.load(f)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DatasetError(f'{split} annotation file is corrupt (not valid JSON: {exc}): {ann_file}')
    missing_keys = [k for k in ('images', 'annotations', 'categories')
                    if not isinstance(data, dict) or not isinstance(data.get(k), list)]
    if missing_keys:
        raise DatasetError(f'{split} annotation file is not in COCO format (no list '
                           f'{", ".join(repr(k) for k in missing_keys)}): {ann_file}')
    absent = [im.get('file_name') for im in data['images']
              if not osp.isfile(osp.join(img_dir, str(im.get('file_name'))))]
    if absent:
        raise DatasetError(f'{split}: {len(absent)} of {len(data["images"])} images listed in '
                           f'{ann_file} are missing, e.g. {osp.join(img_dir, str(absent[0]))}')


def coco_split_files(cfg, split):
    """(annotation file, image folder) of ``cfg.<split>_dataloader``'s COCO-style dataset,
    or None when the split has no loader or its dataset has no ``ann_file``."""
    loader = cfg.get(f'{split}_dataloader')
    if not loader:
        return None
    ds = _innermost_dataset(loader.get('dataset'))
    if not isinstance(ds, dict) or 'ann_file' not in ds:
        return None
    root = ds.get('data_root') or ''
    prefix = (ds.get('data_prefix') or {}).get('img', '')
    return _join(root, ds['ann_file']), _join(root, prefix)


def check_dataset_files(cfg, splits=('train', 'val', 'test')):
    """Check the COCO-style datasets of ``cfg.<split>_dataloader`` for each split."""
    for split in splits:
        files = coco_split_files(cfg, split)
        if files is not None:
            check_coco_files(*files, split)
