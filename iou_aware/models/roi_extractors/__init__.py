from .prroi_extractor import PrRoIExtractor

__all__ = ['PrRoIExtractor']
