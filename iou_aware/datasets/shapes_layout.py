"""Shapes benchmark, part 1: each object's outline (signed distance, antialiased coverage)
and where the objects of one image go (sizes, aspect ratios, same-class overlaps)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .shapes_config import _MAX_TRUNCATION, _SAME_CLASS_IOU_RANGE, CLASSES

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
