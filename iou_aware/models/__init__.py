"""mmdet components; importing this module registers them in mmdet's registries."""
from .dense_heads import IoUAwareRetinaHead
from .roi_extractors import PrRoIExtractor

__all__ = ['IoUAwareRetinaHead', 'PrRoIExtractor']
