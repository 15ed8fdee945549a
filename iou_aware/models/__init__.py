"""mmdet components; importing this module registers them in mmdet's registries."""
from .box_quality import BoxQualityHead, BoxQualityRetrofit
from .calibrated_detector import CalibratedDetector
from .detector_wrapper import DetectorWrapper, StackError
from .dense_heads import (ATSSHeadWithQuality, DecoupledIoURetinaHead, IoUAwareATSSHead,
                          IoUAwareRetinaHead)
from .retrofit import IoUBranchRetrofit
from .peers import DGQPGFLHead, GFLHeadWithQuality, PAAHeadWithQuality, VFNetHeadWithQuality
from .roi_extractors import PrRoIExtractor
from .roi_heads import IoUHead, IoUNetRoIHead, refine_boxes
from .task_modules import jitter_gt_boxes

__all__ = ['ATSSHeadWithQuality', 'IoUAwareATSSHead', 'BoxQualityHead', 'BoxQualityRetrofit', 'CalibratedDetector', 'DecoupledIoURetinaHead', 'DetectorWrapper', 'StackError', 'DGQPGFLHead', 'GFLHeadWithQuality', 'IoUAwareRetinaHead', 'PAAHeadWithQuality', 'VFNetHeadWithQuality',
           'IoUBranchRetrofit', 'IoUHead', 'IoUNetRoIHead', 'PrRoIExtractor', 'jitter_gt_boxes',
           'refine_boxes']
