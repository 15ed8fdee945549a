from .decoupled_iou_atss_head import DecoupledIoUATSSHead
from .decoupled_iou_retina_head import DecoupledIoURetinaHead
from .iou_aware_atss_head import ATSSHeadWithQuality, IoUAwareATSSHead
from .iou_aware_retina_head import IoUAwareRetinaHead, fuse_scores

__all__ = ['ATSSHeadWithQuality', 'DecoupledIoUATSSHead', 'DecoupledIoURetinaHead',
           'IoUAwareATSSHead', 'IoUAwareRetinaHead', 'fuse_scores']
