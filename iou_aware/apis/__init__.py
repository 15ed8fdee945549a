"""What a user runs from Python, beside mmengine's Runner (train, test) and mmdet's inferencer:
fitting a detector's calibration on its val split."""
from .calibrate import CalibrationError, calibrate_detector

__all__ = ['CalibrationError', 'calibrate_detector']
