from .decoupled_iou_atss_head import DecoupledIoUATSSHead
from .decoupled_iou_retina_head import DecoupledIoURetinaHead
from .iou_aware_atss_head import ATSSHeadWithQuality, IoUAwareATSSHead
from ..scoring import fuse_scores
from .iou_aware_retina_head import IoUAwareRetinaHead

__all__ = ['ATSSHeadWithQuality', 'DecoupledIoUATSSHead', 'DecoupledIoURetinaHead',
           'IoUAwareATSSHead', 'IoUAwareRetinaHead', 'fuse_scores']
