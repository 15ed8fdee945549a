from .strict_coco_metric import StrictIoUCocoMetric, ap_at_iou_thresholds

__all__ = ['StrictIoUCocoMetric', 'ap_at_iou_thresholds']
