from .calibration_metric import DetectionCalibrationMetric
from .strict_coco_metric import StrictIoUCocoMetric, ap_at_iou_thresholds

__all__ = ['DetectionCalibrationMetric', 'StrictIoUCocoMetric', 'ap_at_iou_thresholds']
