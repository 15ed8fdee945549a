"""Compiled ops (iou_aware._C) with their Python APIs, autograd and fake kernels."""
from ._library import has_extension
from .iou_guided_nms import batched_iou_guided_nms, iou_guided_nms, iou_guided_nms_reference
from .prroi_pool import PrRoIPool2d, prroi_pool
from .prroi_pool_reference import prroi_pool_reference

__all__ = ['PrRoIPool2d', 'batched_iou_guided_nms', 'has_extension', 'iou_guided_nms',
           'iou_guided_nms_reference', 'prroi_pool', 'prroi_pool_reference']
