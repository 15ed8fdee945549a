"""The shapes benchmark's classes, fixed options and :class:`ShapesConfig` (see shapes.py)."""
from __future__ import annotations

from dataclasses import dataclass

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
