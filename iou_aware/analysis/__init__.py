"""Localization-quality analysis (how well confidences track the true IoU)."""
from .localization import (CALIBRATION_BINS, calibration_table, correlations,
                           expected_calibration_error, true_ious)

__all__ = ['CALIBRATION_BINS', 'calibration_table', 'correlations', 'expected_calibration_error',
           'true_ious']
