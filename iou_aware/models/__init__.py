"""mmdet components; importing this module registers them in mmdet's registries."""
from .calibrated_detector import CalibratedDetector
from .dense_heads import IoUAwareRetinaHead
from .peers import GFLHeadWithQuality, PAAHeadWithQuality, VFNetHeadWithQuality
from .roi_extractors import PrRoIExtractor
from .roi_heads import IoUHead, IoUNetRoIHead, refine_boxes
from .task_modules import jitter_gt_boxes

__all__ = ['CalibratedDetector', 'GFLHeadWithQuality', 'IoUAwareRetinaHead', 'PAAHeadWithQuality', 'VFNetHeadWithQuality',
           'IoUHead', 'IoUNetRoIHead', 'PrRoIExtractor', 'jitter_gt_boxes',
           'refine_boxes']
