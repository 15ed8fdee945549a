"""The one check of COCO box annotations, used wherever annotations are read.

Used by the training/test dataset (:class:`CheckedCocoDataset`), the metric's ground truth
(``StrictIoUCocoMetric``), the localization analysis, the shapes generator's self-check
(strict: any flaw is a generator bug) and ``tools/browse_dataset.py``.

What happens to each kind of flaw (COCO ``bbox`` is ``[x, y, width, height]``):

* dropped: malformed (not four numbers), non-finite, zero-size (width or height 0),
  reversed (negative width or height: which corner was meant is unknowable), entirely
  outside the image, smaller than 1 px once clipped, or ``area`` <= 0. mmdet's loader
  drops most of these too, but silently; nothing a detector could learn from is lost.
* clipped: a box reaching past the image border is cut to the image. The image shows only
  the part inside, a regression target outside it cannot be learned from the pixels, and
  evaluation against the clipped box is what the data supports. mmdet keeps such boxes as
  they are.
"""
import math
from collections import OrderedDict

DROPPED = ('malformed', 'non-finite', 'zero-size', 'reversed', 'outside the image',
           'under 1 px', 'zero area')
CLIPPED = 'clipped to the image'
MIN_SIZE = 1.0  # mmdet's CocoDataset drops boxes under 1 px as well
SHOW_IDS = 3  # offending annotation ids named per kind in the warning line


def check_box(bbox, width, height, area=None):
    """Classify one COCO box: ``(None, bbox)`` when fine, ``(CLIPPED, clipped bbox)``, or
    ``(kind, None)`` for a dropped box with ``kind`` in :data:`DROPPED`."""
    if not (isinstance(bbox, (list, tuple)) and len(bbox) == 4
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in bbox)):
        return 'malformed', None
    if not all(math.isfinite(v) for v in bbox):
        return 'non-finite', None
    x, y, w, h = (float(v) for v in bbox)
    if w < 0 or h < 0:
        return 'reversed', None
    if w == 0 or h == 0:
        return 'zero-size', None
    if area is not None and not (isinstance(area, (int, float)) and area > 0):
        return 'zero area', None
    x1, y1 = max(x, 0.0), max(y, 0.0)
    x2, y2 = min(x + w, float(width)), min(y + h, float(height))
    if x2 <= x1 or y2 <= y1:
        return 'outside the image', None
    if x2 - x1 < MIN_SIZE or y2 - y1 < MIN_SIZE:
        return 'under 1 px', None
    if (x1, y1, x2, y2) != (x, y, x + w, y + h):
        return CLIPPED, [x1, y1, x2 - x1, y2 - y1]
    return None, list(bbox)


class AnnotationReport:
    """Counts and first offending annotation ids per kind of flaw, for one file."""

    def __init__(self, source):
        self.source = source
        self.found = OrderedDict()  # kind -> [(annotation id, image file name), ...]

    def add(self, kind, ann_id, file_name=None):
        self.found.setdefault(kind, []).append((ann_id, file_name))

    def count(self, kind):
        return len(self.found.get(kind, ()))

    @property
    def num_dropped(self):
        return sum(len(v) for k, v in self.found.items() if k != CLIPPED)

    @property
    def num_clipped(self):
        return self.count(CLIPPED)

    def __bool__(self):
        return bool(self.found)

    def kinds(self):
        """``'1 zero-size (id 3950 in a.jpg); 2 clipped to the image (id 4, 7)'``."""
        def part(kind, items):
            where = [f'{i} in {f}' if f else f'{i}' for i, f in items[:SHOW_IDS]]
            more = f', +{len(items) - SHOW_IDS} more' if len(items) > SHOW_IDS else ''
            return f'{len(items)} {kind} (id {", ".join(where)}{more})'
        return '; '.join(part(k, v) for k, v in self.found.items())

    def describe(self):
        """One line: the file, how many boxes were dropped and clipped, and why."""
        return (f'{self.source}: dropped {self.num_dropped} and clipped {self.num_clipped} '
                f'annotated box(es): {self.kinds()}')


def check_coco_annotations(images, annotations, source):
    """Check COCO ``annotations`` against their ``images`` (lists of dicts as in the json).

    Returns ``(kept, report)``: the annotations to use (clipped ones are copies with the
    new ``bbox``; dropped ones are left out) and an :class:`AnnotationReport`.
    Annotations with an unknown ``image_id`` are dropped as ``outside the image``.
    """
    by_id = {im.get('id'): im for im in images}
    report = AnnotationReport(source)
    kept = []
    for ann in annotations:
        im = by_id.get(ann.get('image_id'))
        if im is None:
            report.add('outside the image', ann.get('id'))
            continue
        kind, bbox = check_box(ann.get('bbox'), im.get('width', 0), im.get('height', 0),
                               ann.get('area'))
        if kind is not None:
            report.add(kind, ann.get('id'), im.get('file_name'))
        if bbox is None:
            continue
        if kind == CLIPPED:
            ann = dict(ann, bbox=bbox)
        kept.append(ann)
    return kept, report


def sanitize_coco_api(coco, source):
    """Apply :func:`check_coco_annotations` to a loaded pycocotools ``COCO`` in place
    (its ``dataset`` and indexes); returns the report."""
    data = coco.dataset
    kept, report = check_coco_annotations(data.get('images', []), data.get('annotations', []),
                                          source)
    if report:
        data['annotations'] = kept
        import contextlib
        import io
        with contextlib.redirect_stdout(io.StringIO()):  # createIndex prints progress
            coco.createIndex()
    return report
