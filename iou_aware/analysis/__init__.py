"""Localization-quality analysis (how well confidences track the true IoU)."""
from .localization import calibration_table, correlations, true_ious

__all__ = ['calibration_table', 'correlations', 'true_ious']
