from .iou_aware_retina_head import IoUAwareRetinaHead, fuse_scores

__all__ = ['IoUAwareRetinaHead', 'fuse_scores']
