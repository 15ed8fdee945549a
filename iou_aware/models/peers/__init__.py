"""mmdet's quality-estimating single-stage heads (GFL, VFNet, PAA), unchanged in training
and inference (and GFLv2's DGQP on GFL's head, which mmdet does not ship), with each detection's localization-quality estimate attached as
``pred_ious`` (and the classification score as ``cls_scores``), so that
``tools/analyze_localization.py`` treats them like our IoU branches."""
from .dgqp_gfl_head import DGQPGFLHead
from .quality_heads import GFLHeadWithQuality, PAAHeadWithQuality, VFNetHeadWithQuality

__all__ = ['DGQPGFLHead', 'GFLHeadWithQuality', 'PAAHeadWithQuality', 'VFNetHeadWithQuality']
