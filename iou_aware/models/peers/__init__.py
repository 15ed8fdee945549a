"""mmdet's quality-estimating single-stage heads (GFL, VFNet, PAA), unchanged in training
and inference, with each detection's localization-quality estimate attached as
``pred_ious`` (and the classification score as ``cls_scores``), so that
``tools/analyze_localization.py`` treats them like our IoU branches."""
from .quality_heads import GFLHeadWithQuality, PAAHeadWithQuality, VFNetHeadWithQuality

__all__ = ['GFLHeadWithQuality', 'PAAHeadWithQuality', 'VFNetHeadWithQuality']
