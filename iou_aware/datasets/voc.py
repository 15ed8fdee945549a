"""Pascal-VOC XML annotations -> COCO json (pure Python), as mmdet's own converter does.

Coordinates follow mmdet (``tools/dataset_converters/pascal_voc.py`` and ``XMLDataset``):
VOC corners are 1-based pixel indices, so ``x1 = xmin - 1``, ``x2 = xmax - 1`` and the COCO
box is ``[x1, y1, x2 - x1, y2 - y1]``; ``difficult`` objects become ``iscrowd=1`` (ignored
in training and evaluation). Boxes are written as the XML has them, flaws included: the
loader (``CheckedCocoDataset``) and the metric drop or clip them with one warning per file,
so the conversion stays a faithful copy of the source.
"""
import os.path as osp
import xml.etree.ElementTree as ET


def read_split(root, split):
    """Image ids listed in ``ImageSets/Main/<split>.txt``."""
    path = osp.join(root, 'ImageSets', 'Main', f'{split}.txt')
    if not osp.isfile(path):
        raise FileNotFoundError(f'split file not found: {path}')
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def parse_voc_xml(path, classes):
    """(width, height, objects) of one VOC annotation file; ``objects`` are dicts with
    ``name``, ``label`` (index in ``classes``), ``bbox`` (COCO xywh) and ``difficult``."""
    try:
        root = ET.parse(path).getroot()
        size = root.find('size')
        width, height = int(size.find('width').text), int(size.find('height').text)
    except (ET.ParseError, AttributeError, TypeError, ValueError) as exc:
        raise ValueError(f'{path}: not a readable VOC annotation ({type(exc).__name__}: {exc})')
    objects = []
    for obj in root.findall('object'):
        name = obj.find('name').text.strip()
        if name not in classes:
            raise ValueError(f'{path}: class {name!r} is not one of {list(classes)}')
        box = obj.find('bndbox')
        xmin, ymin, xmax, ymax = (float(box.find(k).text) for k in ('xmin', 'ymin', 'xmax', 'ymax'))
        difficult = obj.find('difficult')
        objects.append(dict(name=name, label=classes.index(name),
                            bbox=[xmin - 1, ymin - 1, xmax - xmin, ymax - ymin],
                            difficult=int(difficult.text) if difficult is not None else 0))
    return width, height, objects


def voc_to_coco(root, split, classes, image_dir='JPEGImages'):
    """The COCO dict of one split. Image and annotation ids are positions in the sorted
    list of all annotation files, so an image has the same ids in every split."""
    classes = list(classes)
    ann_dir = osp.join(root, 'Annotations')
    all_ids = sorted(osp.splitext(f)[0] for f in _listdir(ann_dir) if f.endswith('.xml'))
    image_id_of = {name: i for i, name in enumerate(all_ids)}
    wanted = set(read_split(root, split))
    unknown = sorted(wanted - set(image_id_of))
    if unknown:
        raise ValueError(f'{split}: {len(unknown)} listed images have no annotation file in '
                         f'{ann_dir}, e.g. {unknown[0]}')
    images, annotations = [], []
    ann_id = 0
    for name in all_ids:  # every file, so annotation ids do not depend on the split
        width, height, objects = parse_voc_xml(osp.join(ann_dir, f'{name}.xml'), classes)
        keep = name in wanted
        if keep:
            images.append(dict(id=image_id_of[name], file_name=f'{name}.jpg', width=width,
                               height=height))
        for obj in objects:
            if keep:
                x, y, w, h = obj['bbox']
                annotations.append(dict(id=ann_id, image_id=image_id_of[name],
                                        category_id=obj['label'] + 1, bbox=[x, y, w, h],
                                        area=max(w, 0) * max(h, 0),
                                        iscrowd=obj['difficult'], ignore=0))
            ann_id += 1
    categories = [dict(id=i + 1, name=c, supercategory='none') for i, c in enumerate(classes)]
    return dict(images=images, annotations=annotations, categories=categories)


def _listdir(path):
    import os
    if not osp.isdir(path):
        raise FileNotFoundError(f'annotation folder not found: {path}')
    return os.listdir(path)
