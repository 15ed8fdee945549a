"""A quality head on a detector's final boxes (see head.py), trained on a frozen one (dense or
two-stage)."""
from .detector import BoxQualityRetrofit
from .evidence import EVIDENCE_FEATURES, cluster_evidence
from .head import BoxQualityHead

__all__ = ['BoxQualityHead', 'BoxQualityRetrofit', 'EVIDENCE_FEATURES', 'cluster_evidence']
