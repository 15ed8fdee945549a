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
import math
import shutil
import time
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, ImageDraw

# Bump whenever a change alters the generated pixels or annotations for a given seed.
GENERATOR_VERSION = 2  # 1: the float64 draft committed in ec062a4
CLASSES = ('rectangle', 'ellipse', 'triangle', 'star', 'ring', 'cross')
SPLITS = ('train', 'val')

# Fixed PNG options keep the bytes stable. Level 1: the noisy images barely compress
# better at 6 (-12% size) but take almost twice as long to encode.
_PNG_OPTIONS = dict(format='PNG', compress_level=1, optimize=False)
_MIN_COLOUR_DISTANCE = 60.0  # RGB distance between an object and what lies under it
_SAME_CLASS_IOU_RANGE = (0.1, 0.5)
_MAX_TRUNCATION = 0.2  # fraction of an object's box that may lie outside the image per side
_DISTRACTOR_MAX_RADIUS = 5.0  # keeps blobs below the smallest object size (12 px default)


@dataclass(frozen=True)
class ShapesConfig:
    """Everything that shapes one image besides (seed, split, image_id)."""
    image_size: int = 256
    min_objects: int = 2
    max_objects: int = 8
    min_object_size: float = 12.0
    max_object_fraction: float = 0.6
    same_class_overlap_prob: float = 0.35
    min_visible_fraction: float = 0.35

    def __post_init__(self):
        if self.image_size < 32:
            raise ValueError(f'image_size must be at least 32, got {self.image_size}')
        if not 1 <= self.min_objects <= self.max_objects:
            raise ValueError(f'need 1 <= min_objects <= max_objects, got '
                             f'{self.min_objects} and {self.max_objects}')
        if not 0 < self.max_object_fraction <= 0.9:
            raise ValueError(f'max_object_fraction must be in (0, 0.9], '
                             f'got {self.max_object_fraction}')
        if not 4 <= self.min_object_size <= self.max_object_size:
            raise ValueError(f'min_object_size must be in [4, {self.max_object_size:g}] '
                             f'for image_size {self.image_size}, got {self.min_object_size}')
        if not 0 <= self.same_class_overlap_prob <= 1:
            raise ValueError(f'same_class_overlap_prob must be in [0, 1], '
                             f'got {self.same_class_overlap_prob}')
        if not 0 <= self.min_visible_fraction <= 1:
            raise ValueError(f'min_visible_fraction must be in [0, 1], '
                             f'got {self.min_visible_fraction}')

    @property
    def max_object_size(self) -> float:
        return self.max_object_fraction * self.image_size


# ---------------------------------------------------------------------------- geometry

@dataclass(frozen=True)
class _Geometry:
    """A shape's outline relative to the centre of its (unoccluded) axis-aligned box.

    Polygons are stored already rotated; ellipses and rings keep radii and angle because
    their distance function is evaluated in the ellipse's own frame.
    """
    kind: str
    half_width: float
    half_height: float
    polygon: np.ndarray | None = None  # (N, 2) vertices
    radii: tuple[float, float] | None = None
    angle: float = 0.0
    hole_ratio: float = 0.0  # ring: inner radii / outer radii

    @property
    def size(self) -> float:
        return 2.0 * math.sqrt(self.half_width * self.half_height)


def _log_uniform(rng, low, high):
    return float(math.exp(rng.uniform(math.log(low), math.log(high))))


def _rotate(points, angle):
    c, s = math.cos(angle), math.sin(angle)
    return points @ np.array([[c, s], [-s, c]])


def _ellipse_half_extent(a, b, angle):
    c, s = math.cos(angle), math.sin(angle)
    return math.hypot(a * c, b * s), math.hypot(a * s, b * c)


def _unit_outline(kind, rng):
    """Return (polygon, radii, angle, hole_ratio) for a shape of roughly unit size."""
    if kind == 'rectangle':
        aspect = _log_uniform(rng, 1 / 3, 3)
        w, h = math.sqrt(aspect) / 2, 1 / math.sqrt(aspect) / 2
        # Axis-aligned rectangles are kept common: there the box is the object's own edges.
        angle = 0.0 if rng.random() < 0.3 else rng.uniform(0, math.pi)
        return np.array([[-w, -h], [w, -h], [w, h], [-w, h]]), None, angle, 0.0
    if kind == 'ellipse':
        aspect = _log_uniform(rng, 1 / 3, 3)
        angle = 0.0 if rng.random() < 0.3 else rng.uniform(0, math.pi)
        return None, (math.sqrt(aspect) / 2, 1 / math.sqrt(aspect) / 2), angle, 0.0
    if kind == 'ring':
        # Nearly circular so the hole, not the aspect ratio, is what tells it from an ellipse.
        radii = (0.5, 0.5 * rng.uniform(0.75, 1.0))
        return None, radii, rng.uniform(0, math.pi), rng.uniform(0.45, 0.7)
    if kind == 'triangle':
        while True:
            corners = np.arange(3) * 2 * math.pi / 3 + rng.uniform(-0.45, 0.45, 3)
            radius = rng.uniform(0.75, 1.0, 3)
            polygon = np.stack([radius * np.cos(corners), radius * np.sin(corners)], axis=1)
            if _min_interior_angle(polygon) > math.radians(25):  # no slivers
                return polygon, None, rng.uniform(0, 2 * math.pi), 0.0
    if kind == 'star':
        points = 5 if rng.random() < 0.7 else 6
        inner = rng.uniform(0.38, 0.55)
        angles = np.arange(2 * points) * math.pi / points
        radius = np.where(np.arange(2 * points) % 2 == 0, 1.0, inner)
        polygon = np.stack([radius * np.cos(angles), radius * np.sin(angles)], axis=1)
        return polygon, None, rng.uniform(0, 2 * math.pi), 0.0
    if kind == 'cross':
        hx, hy = 0.5, 0.5 * _log_uniform(rng, 0.75, 1.33)
        t = rng.uniform(0.25, 0.42) / 2
        polygon = np.array([[-t, -hy], [t, -hy], [t, -t], [hx, -t], [hx, t], [t, t],
                            [t, hy], [-t, hy], [-t, t], [-hx, t], [-hx, -t], [-t, -t]])
        angle = 0.0 if rng.random() < 0.4 else rng.uniform(0, math.pi / 2)
        return polygon, None, angle, 0.0
    raise ValueError(f'unknown shape kind {kind!r}')


def _min_interior_angle(triangle):
    angles = []
    for i in range(3):
        u = triangle[(i + 1) % 3] - triangle[i]
        v = triangle[(i + 2) % 3] - triangle[i]
        cos = np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v))
        angles.append(math.acos(float(np.clip(cos, -1, 1))))
    return min(angles)


def _make_geometry(kind, size, image_size, rng):
    """A random shape of ``kind`` whose rotated box has sqrt(area) == ``size`` (if it fits)."""
    polygon, radii, angle, hole_ratio = _unit_outline(kind, rng)
    if polygon is not None:
        polygon = _rotate(polygon, angle)
        low, high = polygon.min(axis=0), polygon.max(axis=0)
        polygon = polygon - (low + high) / 2
        half_w, half_h = (high - low) / 2
    else:
        half_w, half_h = _ellipse_half_extent(*radii, angle)
    # Elongated shapes at the top of the size range would not fit: shrink them to 95%.
    scale = min(size / (2 * math.sqrt(half_w * half_h)),
                0.95 * image_size / (2 * half_w), 0.95 * image_size / (2 * half_h))
    return _Geometry(
        kind=kind, half_width=float(half_w * scale), half_height=float(half_h * scale),
        polygon=None if polygon is None else polygon * scale,
        radii=None if radii is None else (radii[0] * scale, radii[1] * scale),
        angle=float(angle), hole_ratio=float(hole_ratio))


def _polygon_signed_distance(x, y, vertices):
    """Signed distance (negative inside) from points to a simple polygon; even-odd rule."""
    dist_sq = np.full(np.broadcast_shapes(x.shape, y.shape), np.inf)
    inside = np.zeros(dist_sq.shape, dtype=bool)
    for (ax, ay), (bx, by) in zip(vertices, np.roll(vertices, -1, axis=0)):
        ex, ey = bx - ax, by - ay
        wx, wy = x - ax, y - ay
        t = np.clip((wx * ex + wy * ey) / (ex * ex + ey * ey), 0.0, 1.0)
        dist_sq = np.minimum(dist_sq, (wx - t * ex) ** 2 + (wy - t * ey) ** 2)
        if ey != 0:  # a horizontal edge is never crossed by a horizontal ray
            straddles = (ay > y) != (by > y)
            inside ^= straddles & (x < ax + (y - ay) * ex / ey)
    return np.where(inside, -1.0, 1.0) * np.sqrt(dist_sq)


def _ellipse_signed_distance(u, v, a, b):
    # First-order distance (k0 - 1) / |grad k0|: exact on the boundary and the right sign
    # everywhere, which is all antialiasing and thin outlines need.
    k0 = np.hypot(u / a, v / b)
    k1 = np.hypot(u / (a * a), v / (b * b))
    ratio = np.divide(k0, k1, out=np.full(k0.shape, min(a, b)), where=k1 > 0)
    return (k0 - 1.0) * ratio


def _signed_distance(geometry, x, y):
    """Signed distance to ``geometry`` at offsets (x, y) from its box centre."""
    if geometry.polygon is not None:
        return _polygon_signed_distance(x, y, geometry.polygon)
    c, s = math.cos(geometry.angle), math.sin(geometry.angle)
    u, v = x * c + y * s, y * c - x * s
    a, b = geometry.radii
    dist = _ellipse_signed_distance(u, v, a, b)
    if geometry.hole_ratio > 0:
        r = geometry.hole_ratio
        dist = np.maximum(dist, -_ellipse_signed_distance(u, v, a * r, b * r))
    return dist


def _coverage(signed_distance):
    # Fraction of a pixel covered by an edge at that distance from its centre (box filter).
    return np.clip(0.5 - signed_distance, 0.0, 1.0)


# ---------------------------------------------------------------------------- layout

@dataclass(frozen=True)
class _PlacedShape:
    geometry: _Geometry
    category_id: int
    cx: float
    cy: float

    @property
    def box(self):
        g = self.geometry
        return (self.cx - g.half_width, self.cy - g.half_height,
                self.cx + g.half_width, self.cy + g.half_height)


def _box_iou(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _within_truncation_limit(geometry, cx, cy, image_size):
    hw, hh = geometry.half_width, geometry.half_height
    margin_x, margin_y = _MAX_TRUNCATION * 2 * hw, _MAX_TRUNCATION * 2 * hh
    return (cx - hw >= -margin_x and cx + hw <= image_size + margin_x
            and cy - hh >= -margin_y and cy + hh <= image_size + margin_y)


def _random_centre(geometry, image_size, rng):
    spans = []
    for half in (geometry.half_width, geometry.half_height):
        margin = _MAX_TRUNCATION * 2 * half
        spans.append(rng.uniform(half - margin, max(half - margin, image_size - half + margin)))
    return spans[0], spans[1]


def _centre_overlapping(geometry, partner, image_size, rng, tries=30):
    """A centre whose box overlaps ``partner``'s with IoU in the target range, or None."""
    pw, ph = partner.geometry.half_width, partner.geometry.half_height
    for _ in range(tries):
        cx = partner.cx + rng.uniform(-1, 1) * (pw + geometry.half_width)
        cy = partner.cy + rng.uniform(-1, 1) * (ph + geometry.half_height)
        if not _within_truncation_limit(geometry, cx, cy, image_size):
            continue
        box = (cx - geometry.half_width, cy - geometry.half_height,
               cx + geometry.half_width, cy + geometry.half_height)
        if _SAME_CLASS_IOU_RANGE[0] <= _box_iou(box, partner.box) <= _SAME_CLASS_IOU_RANGE[1]:
            return cx, cy
    return None


def _plan_layout(config, rng):
    """Choose the objects of one image, returned in drawing order (bottom first)."""
    count = int(rng.integers(config.min_objects, config.max_objects + 1))
    planned = []
    for _ in range(count):
        centre = None
        if planned and rng.random() < config.same_class_overlap_prob:
            partner = planned[int(rng.integers(len(planned)))]
            category_id = partner.category_id
            size = float(np.clip(partner.geometry.size * _log_uniform(rng, 0.7, 1.4),
                                 config.min_object_size, config.max_object_size))
            geometry = _make_geometry(CLASSES[category_id - 1], size, config.image_size, rng)
            centre = _centre_overlapping(geometry, partner, config.image_size, rng)
        else:
            category_id = int(rng.integers(len(CLASSES))) + 1
            size = _log_uniform(rng, config.min_object_size, config.max_object_size)
            geometry = _make_geometry(CLASSES[category_id - 1], size, config.image_size, rng)
        if centre is None:
            centre = _random_centre(geometry, config.image_size, rng)
        planned.append(_PlacedShape(geometry, category_id, *centre))
    # Shuffle so that the same-class partner is as likely to be on top as underneath.
    return [planned[i] for i in rng.permutation(count)]


# ---------------------------------------------------------------------------- painting

def _upsample_bilinear(grid, n_out):
    """Resize a (cells, cells, C) float grid to (n_out, n_out, C) float32.

    PIL's resampler rather than a matrix product, so the result does not depend on the
    BLAS build or its thread count.
    """
    channels = [Image.fromarray(grid[..., c].astype(np.float32)).resize(
        (n_out, n_out), Image.Resampling.BILINEAR) for c in range(grid.shape[-1])]
    return np.stack([np.asarray(c) for c in channels], axis=-1)


def _paint_background(image_size, rng):
    """Gradient + low-frequency blotches + thin lines + small blobs, as float32 RGB."""
    n = image_size
    start, end = rng.uniform(0, 255, (2, 3))
    theta = rng.uniform(0, 2 * math.pi)
    coords = (np.arange(n) + 0.5) / n
    ramp = coords[None, :] * math.cos(theta) + coords[:, None] * math.sin(theta)
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-9)
    canvas = (start + (end - start) * ramp[..., None]).astype(np.float32)

    cells = int(rng.integers(3, 9))
    blotches = rng.normal(0.0, rng.uniform(8, 30), (cells, cells, 3))
    canvas += _upsample_bilinear(blotches, n)

    # Lines and blobs are drawn without antialiasing, unlike objects: one more cue a
    # detector could in principle use, but they are also thin/small, which is the point.
    pil = Image.fromarray(np.clip(np.rint(canvas), 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(pil)
    for _ in range(int(rng.integers(2, 12))):
        x0, y0 = rng.uniform(0, n, 2)
        direction = rng.uniform(0, 2 * math.pi)
        length = rng.uniform(0.1, 1.2) * n
        x1, y1 = x0 + length * math.cos(direction), y0 + length * math.sin(direction)
        width = 1 if rng.random() < 0.8 else 2
        draw.line([(x0, y0), (x1, y1)], fill=_colour_tuple(rng.uniform(0, 255, 3)), width=width)
    for _ in range(int(rng.integers(3, 16))):
        cx, cy = rng.uniform(0, n, 2)
        radius = rng.uniform(1.5, _DISTRACTOR_MAX_RADIUS)
        corners = np.sort(rng.uniform(0, 2 * math.pi, 7))
        radii = radius * rng.uniform(0.6, 1.0, 7)
        outline = [(cx + r * math.cos(a), cy + r * math.sin(a)) for a, r in zip(corners, radii)]
        draw.polygon(outline, fill=_colour_tuple(rng.uniform(0, 255, 3)))
    return np.asarray(pil, dtype=np.float32)  # writable copy


def _colour_tuple(rgb):
    return tuple(int(round(c)) for c in np.clip(rgb, 0, 255))


def _contrasting_colour(reference, rng, min_distance=_MIN_COLOUR_DISTANCE, tries=20):
    for _ in range(tries):
        colour = rng.uniform(0, 255, 3)
        if np.linalg.norm(colour - reference) >= min_distance:
            return colour
    return 255.0 - reference  # deterministic fallback, far from the reference in most cases


def _fill_layer(region_shape, x, y, reference, size, rng):
    """Object colours for its crop, plus an optional (outline colour, width)."""
    base = _contrasting_colour(reference, rng)
    style = rng.random()
    layer = np.broadcast_to(base, (*region_shape, 3))
    outline = None
    if style < 0.25:
        width = float(rng.integers(1, 4))
        outline = (_contrasting_colour(base, rng), min(width, max(1.0, size / 10)))
    elif style < 0.45:
        second = _contrasting_colour(base, rng, min_distance=50)
        period = rng.uniform(4, max(6.0, size / 3))
        theta = rng.uniform(0, math.pi)
        u = x * math.cos(theta) + y * math.sin(theta)
        stripes = np.floor(u / (period / 2)).astype(int)
        if rng.random() < 0.5:  # checkerboard: xor with stripes across
            v = y * math.cos(theta) - x * math.sin(theta)
            stripes = stripes + np.floor(v / (period / 2)).astype(int)
        layer = np.where((stripes % 2 == 0)[..., None], base, second)
    return layer, outline


def _paint_object(canvas, shape, rng):
    """Composite ``shape`` onto ``canvas`` in place; return (mask in image, full area)."""
    n = canvas.shape[0]
    g = shape.geometry
    # One pixel of padding: the antialiased fringe reaches half a pixel beyond the edge.
    x0, x1 = math.floor(shape.cx - g.half_width) - 1, math.ceil(shape.cx + g.half_width) + 2
    y0, y1 = math.floor(shape.cy - g.half_height) - 1, math.ceil(shape.cy + g.half_height) + 2
    xs = (np.arange(x0, x1) + 0.5 - shape.cx)[None, :]
    ys = (np.arange(y0, y1) + 0.5 - shape.cy)[:, None]
    dist = _signed_distance(g, xs, ys)
    inside = dist <= 0
    full_area = int(inside.sum())

    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, n), min(y1, n)
    rows, cols = slice(cy0 - y0, cy1 - y0), slice(cx0 - x0, cx1 - x0)
    dist, inside = dist[rows, cols], inside[rows, cols]
    region = canvas[cy0:cy1, cx0:cx1]
    under = region[inside] if inside.any() else region.reshape(-1, 3)
    layer, outline = _fill_layer(dist.shape, xs[:, cols], ys[rows, :], under.mean(axis=0),
                                 g.size, rng)

    alpha = _coverage(dist)[..., None]
    region[...] = region * (1 - alpha) + layer * alpha
    if outline is not None:
        colour, width = outline
        band = (_coverage(dist) - _coverage(dist + width))[..., None]
        region[...] = region * (1 - band) + colour * band

    mask = np.zeros((n, n), dtype=bool)
    mask[cy0:cy1, cx0:cx1] = inside
    return mask, full_area


# ---------------------------------------------------------------------------- one image

@dataclass
class RenderedObject:
    """One drawn object. ``mask`` is the whole object clipped to the image; ``visible_mask``
    excludes pixels covered by objects drawn later; ``full_area`` counts the unclipped shape."""
    category_id: int
    mask: np.ndarray
    visible_mask: np.ndarray
    full_area: int
    annotated: bool

    @property
    def visible_fraction(self) -> float:
        return float(self.visible_mask.sum()) / self.full_area

    @property
    def bbox(self) -> list[float]:
        """Tight [x, y, w, h] box of the visible pixels (pixel-edge coordinates)."""
        rows = np.flatnonzero(self.visible_mask.any(axis=1))
        cols = np.flatnonzero(self.visible_mask.any(axis=0))
        if rows.size == 0:
            raise ValueError('object has no visible pixels')
        return [float(cols[0]), float(rows[0]),
                float(cols[-1] + 1 - cols[0]), float(rows[-1] + 1 - rows[0])]


@dataclass
class RenderedImage:
    """An image (H, W, 3 uint8) and its objects in drawing order (bottom first)."""
    image: np.ndarray
    objects: list[RenderedObject]

    @property
    def annotated_objects(self) -> list[RenderedObject]:
        return [obj for obj in self.objects if obj.annotated]


def image_rng(seed: int, split: str, image_id: int) -> np.random.Generator:
    """The random generator of one image; independent across seeds, splits and ids."""
    if seed < 0 or image_id < 0:
        raise ValueError(f'seed and image_id must be non-negative, got {seed} and {image_id}')
    # crc32 rather than hash(): str hashes are salted per process.
    return np.random.default_rng([seed, zlib.crc32(split.encode()), image_id])


def render_image(seed: int, split: str, image_id: int,
                 config: ShapesConfig = ShapesConfig()) -> RenderedImage:
    """Render one image and its objects; the same arguments always give the same result."""
    rng = image_rng(seed, split, image_id)
    layout = _plan_layout(config, rng)
    canvas = _paint_background(config.image_size, rng)
    painted = [_paint_object(canvas, shape, rng) for shape in layout]
    sigma = rng.uniform(1.0, 6.0)
    canvas += sigma * rng.standard_normal(canvas.shape, dtype=np.float32)  # sensor-like noise
    image = np.clip(np.rint(canvas), 0, 255).astype(np.uint8)

    objects = []
    covered = np.zeros(canvas.shape[:2], dtype=bool)
    for shape, (mask, full_area) in zip(reversed(layout), reversed(painted)):  # top first
        visible = mask & ~covered
        covered |= mask
        annotated = visible.sum() >= config.min_visible_fraction * full_area and visible.any()
        objects.append(RenderedObject(shape.category_id, mask, visible, full_area, bool(annotated)))
    objects.reverse()
    return RenderedImage(image, objects)


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
                   config: ShapesConfig = ShapesConfig()) -> SplitSummary:
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
        summaries.append(generate_split(out_dir, split, count, seed, config))
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
        bbox = ann.get('bbox')
        if not (isinstance(bbox, list) and len(bbox) == 4
                and all(isinstance(v, (int, float)) and math.isfinite(v) for v in bbox)):
            raise ValueError(f'{where} has a malformed bbox {bbox!r}')
        x, y, w, h = bbox
        width, height = sizes[ann['image_id']]
        if not (w > 0 and h > 0 and x >= 0 and y >= 0 and x + w <= width and y + h <= height):
            raise ValueError(f'{where} has bbox {bbox} outside its {width}x{height} image or empty')
    return coco
