"""A deterministic synthetic detection dataset of six shape classes, written in COCO format.

The images are built so that a detector has to localize precisely rather than just find
blobs of colour:

* object sizes (square root of the box area) are log-uniform from ``min_object_size`` to
  ``max_object_fraction`` of the image side, and rectangles, ellipses and crosses come in
  aspect ratios from about 1:3 to 3:1, mostly rotated;
* fill colours are random (never tied to the class); some objects get an outline or a
  two-colour stripe/checker pattern;
* backgrounds are gradients with low-frequency blotches, thin lines, small distractor blobs
  (smaller than any object, never annotated) and pixel noise, different in every image;
* objects are drawn in random order, so later ones occlude earlier ones, and an object is
  often placed next to one of the same class so that their boxes overlap (IoU 0.1-0.5).

Annotation rules (what a box means):

* an object's mask is the set of pixels whose centre lies inside the shape (signed
  distance <= 0); edges are antialiased in the image, but the mask is binary;
* its *visible* mask is its mask minus the masks of all objects drawn after it, clipped to
  the image; the bbox is the tight box of the visible pixels in pixel-edge coordinates
  ``[x_min, y_min, x_max + 1 - x_min, y_max + 1 - y_min]`` and ``area`` is the number of
  visible pixels;
* objects whose visible fraction (visible pixels / pixels of the whole, unclipped shape,
  so truncation at the border counts as hidden) is below ``min_visible_fraction`` (0.35)
  are still drawn but get no annotation: they are clutter, and a detector that fires on a
  mostly hidden shape is penalized as for any other false positive.

Every image is a pure function of ``(seed, split, image_id, config)``: its random generator
is seeded from those alone, so splits are independent and any image can be regenerated on
its own with :func:`render_image`. PNG and JSON are written with fixed options, so the same
arguments give byte-identical files (given the same numpy, Pillow and zlib).

Only numpy and PIL are needed here (pycocotools lazily, for validation): no torch or mmdet.
"""
from __future__ import annotations

import contextlib
import io
import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from PIL import Image

from .annotation_checks import check_coco_annotations
from .shapes_config import _PNG_OPTIONS, CLASSES, GENERATOR_VERSION, SPLITS, ShapesConfig
from .shapes_render import RenderedImage, RenderedObject, image_rng, render_image

__all__ = ['CLASSES', 'GENERATOR_VERSION', 'SPLITS', 'RenderedImage', 'RenderedObject',
           'ShapesConfig', 'SplitSummary', 'generate_dataset', 'generate_split', 'image_rng',
           'render_image', 'validate_coco_split']

# ---------------------------------------------------------------------------- a split on disk

@dataclass
class SplitSummary:
    """What :func:`generate_split` wrote."""
    split: str
    num_images: int
    num_objects: int  # annotated
    num_hidden: int  # drawn but below the visibility threshold, so not annotated
    per_class: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def describe(self) -> str:
        counts = ', '.join(f'{name} {count}' for name, count in self.per_class.items())
        return (f'{self.split}: {self.num_images} images, {self.num_objects} objects ({counts}), '
                f'{self.num_hidden} mostly-hidden shapes unannotated, {self.seconds:.1f} s')


def _write_json(data, path):
    path.write_text(json.dumps(data, sort_keys=True, indent=2) + '\n', encoding='utf-8')


def generate_split(out_dir, split: str, num_images: int, seed: int = 0,
                   config: ShapesConfig = ShapesConfig(),
                   on_image_done: Callable[[], None] | None = None) -> SplitSummary:
    """Write ``out_dir/<split>/*.png`` and ``out_dir/annotations/<split>.json``, then
    validate them with :func:`validate_coco_split`."""
    started = time.perf_counter()
    out_dir = Path(out_dir)
    img_dir, ann_dir = out_dir / split, out_dir / 'annotations'
    img_dir.mkdir(parents=True, exist_ok=True)
    ann_dir.mkdir(parents=True, exist_ok=True)

    images, annotations = [], []
    per_class = dict.fromkeys(CLASSES, 0)
    hidden = 0
    for image_id in range(1, num_images + 1):
        rendered = render_image(seed, split, image_id, config)
        if on_image_done is not None:
            on_image_done()
        file_name = f'{image_id:06d}.png'
        Image.fromarray(rendered.image).save(img_dir / file_name, **_PNG_OPTIONS)
        images.append(dict(id=image_id, file_name=file_name,
                           width=config.image_size, height=config.image_size))
        for obj in rendered.objects:
            if not obj.annotated:
                hidden += 1
                continue
            per_class[CLASSES[obj.category_id - 1]] += 1
            annotations.append(dict(id=len(annotations) + 1, image_id=image_id,
                                    category_id=obj.category_id, bbox=obj.bbox,
                                    area=float(obj.visible_mask.sum()), iscrowd=0))
    coco = dict(
        info=dict(description='iou_aware synthetic shapes', version=str(GENERATOR_VERSION)),
        licenses=[], images=images, annotations=annotations,
        categories=[dict(id=i + 1, name=name, supercategory='shape')
                    for i, name in enumerate(CLASSES)])
    ann_file = ann_dir / f'{split}.json'
    _write_json(coco, ann_file)
    validate_coco_split(ann_file, img_dir)
    return SplitSummary(split, num_images, len(annotations), hidden, per_class,
                        time.perf_counter() - started)


def _owned_outputs(out_dir):
    return [out_dir / name for name in (*SPLITS, 'annotations', 'meta.json')]


def generate_dataset(out_dir, num_images: dict[str, int] | None = None, seed: int = 0,
                     config: ShapesConfig = ShapesConfig(), force: bool = False,
                     on_split_done: Callable[[SplitSummary], None] | None = None,
                     on_split_start: Callable[[str, int], Callable[[], None]] | None = None,
                     ) -> list[SplitSummary]:
    """Generate every split of ``num_images`` (default 1500 train / 300 val) plus
    ``out_dir/meta.json``.

    Refuses (FileExistsError) to write over an earlier dataset unless ``force``; with it,
    only the generator's own outputs are deleted, never anything else in ``out_dir``.
    """
    num_images = dict(train=1500, val=300) if num_images is None else dict(num_images)
    unknown = set(num_images) - set(SPLITS)
    if unknown:
        raise ValueError(f'unknown split(s) {sorted(unknown)}; expected some of {SPLITS}')
    out_dir = Path(out_dir)
    existing = [p for p in _owned_outputs(out_dir) if p.exists()]
    if existing and not force:
        raise FileExistsError(f'{out_dir} already holds a dataset '
                              f'({", ".join(p.name for p in existing)}); pass force=True to replace it')
    for path in existing:
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    out_dir.mkdir(parents=True, exist_ok=True)

    summaries = []
    for split, count in num_images.items():
        tick = on_split_start(split, count) if on_split_start is not None else None
        summaries.append(generate_split(out_dir, split, count, seed, config, tick))
        if on_split_done is not None:
            on_split_done(summaries[-1])
    # meta.json last: its presence means the dataset is complete.
    meta = dict(generator='iou_aware.datasets.shapes', generator_version=GENERATOR_VERSION,
                seed=seed, num_images=num_images, config=asdict(config), classes=list(CLASSES))
    _write_json(meta, out_dir / 'meta.json')
    return summaries


# ---------------------------------------------------------------------------- validation

def validate_coco_split(ann_file, img_dir):
    """Check a COCO detection split on disk and return its ``pycocotools.coco.COCO``.

    Raises ValueError naming the offending file when the json cannot be loaded by
    pycocotools, an image is missing or has another size than recorded, a bbox is not a
    positive-size box inside its image, or an annotation refers to an unknown image or
    category.
    """
    from pycocotools.coco import COCO

    ann_file, img_dir = Path(ann_file), Path(img_dir)
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # COCO() prints progress lines
            coco = COCO(str(ann_file))
    except Exception as exc:  # json, OSError, or pycocotools' own asserts/KeyErrors
        raise ValueError(f'{ann_file}: cannot be loaded as COCO '
                         f'({type(exc).__name__}: {exc})') from exc
    dataset = coco.dataset
    missing = [key for key in ('images', 'annotations', 'categories')
               if not isinstance(dataset.get(key), list)]
    if missing:
        raise ValueError(f'{ann_file}: not a COCO detection file, no list {missing}')
    if not dataset['categories']:
        raise ValueError(f'{ann_file}: no categories')
    # pycocotools indexes by id and silently keeps the last of duplicates.
    for key in ('images', 'annotations', 'categories'):
        ids = [item.get('id') for item in dataset[key]]
        if len(set(ids)) != len(ids):
            raise ValueError(f'{ann_file}: duplicate ids in {key}')

    sizes = {}
    for image in dataset['images']:
        path = img_dir / str(image.get('file_name'))
        if not path.is_file():
            raise ValueError(f'{path}: image listed in {ann_file} '
                             f'(id {image.get("id")}) does not exist')
        try:
            with Image.open(path) as im:
                actual = im.size
        except Exception as exc:
            raise ValueError(f'{path}: cannot be read as an image ({exc})') from exc
        recorded = (image.get('width'), image.get('height'))
        if actual != recorded:
            raise ValueError(f'{path}: size {actual} but {ann_file} records {recorded}')
        sizes[image['id']] = actual

    for ann in dataset['annotations']:
        where = f'{ann_file}: annotation {ann.get("id")}'
        if ann.get('image_id') not in sizes:
            raise ValueError(f'{where} refers to unknown image id {ann.get("image_id")}')
        if ann.get('category_id') not in coco.cats:
            raise ValueError(f'{where} has unknown category id {ann.get("category_id")}')
    # The project's one annotation check, strict here: the generator never writes a box
    # the loader would drop or clip.
    _, report = check_coco_annotations(dataset['images'], dataset['annotations'], str(ann_file))
    if report:
        raise ValueError(f'flawed boxes written by the generator: {report.describe()}')
    return coco
