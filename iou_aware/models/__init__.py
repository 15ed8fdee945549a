"""mmdet components; importing this module registers them in mmdet's registries."""
from .roi_extractors import PrRoIExtractor

__all__ = ['PrRoIExtractor']
