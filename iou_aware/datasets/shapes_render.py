"""Shapes benchmark, part 2: painting one image (background, objects, noise) and the
visible mask of each object, a pure function of (seed, split, image id, config)."""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from .shapes_config import _DISTRACTOR_MAX_RADIUS, _MIN_COLOUR_DISTANCE, ShapesConfig
from .shapes_layout import _coverage, _plan_layout, _signed_distance

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
