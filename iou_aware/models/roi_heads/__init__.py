from .box_refinement import refine_boxes
from .iou_head import IoUHead
from .iou_net_roi_head import IoUNetRoIHead

__all__ = ['IoUHead', 'IoUNetRoIHead', 'refine_boxes']
