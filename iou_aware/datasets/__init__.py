"""Synthetic datasets. Nothing here imports torch, mmcv or mmdet, so tools can load this
subpackage on its own (see tools/make_shapes_dataset.py)."""
from .shapes import (CLASSES, GENERATOR_VERSION, SPLITS, RenderedImage, RenderedObject,
                     ShapesConfig, SplitSummary, generate_dataset, generate_split, image_rng,
                     render_image, validate_coco_split)

__all__ = ['CLASSES', 'GENERATOR_VERSION', 'SPLITS', 'RenderedImage', 'RenderedObject',
           'ShapesConfig', 'SplitSummary', 'generate_dataset', 'generate_split', 'image_rng',
           'render_image', 'validate_coco_split']
