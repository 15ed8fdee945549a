"""Compiled ops (iou_aware._C) with their Python APIs, autograd and fake kernels."""
from ._library import has_extension
from .prroi_pool import PrRoIPool2d, prroi_pool
from .prroi_pool_reference import prroi_pool_reference

__all__ = ['PrRoIPool2d', 'has_extension', 'prroi_pool', 'prroi_pool_reference']
