from .iou_aware_atss_head import ATSSHeadWithQuality, IoUAwareATSSHead
from .iou_aware_retina_head import IoUAwareRetinaHead, fuse_scores

__all__ = ['ATSSHeadWithQuality', 'IoUAwareATSSHead', 'IoUAwareRetinaHead', 'fuse_scores']
