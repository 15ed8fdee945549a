"""Drawing and inference helpers that show the predicted IoU where users look."""
from .inferencer import IoUDetInferencer
from .visualizer import IoUDetLocalVisualizer

__all__ = ['IoUDetInferencer', 'IoUDetLocalVisualizer']
