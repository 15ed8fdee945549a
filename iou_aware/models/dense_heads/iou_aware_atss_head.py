"""ATSS with an IoU branch: the same detector, two quality estimates (GFL, Table 1a).

GFL's ablation (Li et al. 2020, Table 1a, ATSS R50 1x COCO) changes one thing on ATSS: what
the quality branch beside classification predicts: nothing 38.0 AP, centerness 39.2, the IoU
of the regressed box 39.6, QFL's joint score 39.9. ``IoUAwareATSSHead`` is the IoU row:
mmdet's ``ATSSHead`` whose centerness branch is trained (BCE, positives only) on the IoU
between each positive's decoded box and its ground truth, as the IoU-aware RetinaNet paper
trains its branch; everything else (ATSS assignment, GIoU loss weighted by the centerness
target, test-time ``cls x quality`` ranking) is ATSS's, so a row against ``ATSSHeadWithQuality``
measures the quality target alone.
"""
import torch
from mmdet.models.dense_heads import ATSSHead
from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox_overlaps

from ..prediction_fields import attach


class _ReportsQuality:
    """Detections carry the quality branch's output (``pred_ious``) and the classification
    score (``cls_scores``) beside mmdet's ``scores`` = cls x quality."""

    def _bbox_post_process(self, results, cfg, rescale=False, with_nms=True, img_meta=None):
        if 'score_factors' in results:  # mmdet multiplies them into scores and drops them
            attach(results, pred_ious=results.score_factors, cls_scores=results.scores)
        return super()._bbox_post_process(results, cfg, rescale=rescale, with_nms=with_nms,
                                          img_meta=img_meta)


@MODELS.register_module()
class ATSSHeadWithQuality(_ReportsQuality, ATSSHead):
    """mmdet's ``ATSSHead``; detections carry the centerness as ``pred_ious`` (the quality
    estimate ATSS ranks by) and ``cls_scores``. Training is ATSSHead's, unchanged."""


@MODELS.register_module()
class IoUAwareATSSHead(_ReportsQuality, ATSSHead):
    """``ATSSHead`` whose quality branch predicts the IoU of the regressed box.

    Args:
        detach_iou_target (bool): False (the IoU-aware paper's recipe): the BCE's target,
            the IoU of the decoded box, passes its gradient to the regression branch;
            True: the target is a constant.
        Others as ``ATSSHead``; ``loss_centerness`` is the branch's BCE.
    """

    def __init__(self, *args, detach_iou_target=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.detach_iou_target = bool(detach_iou_target)

    def loss_by_feat_single(self, anchors, cls_score, bbox_pred, iou_pred, labels,
                            label_weights, bbox_targets, avg_factor):
        # ATSSHead.loss_by_feat_single (mmdet 3.3) with the branch's target replaced; mmdet
        # computes the target inside this method, so the method is restated.
        anchors = anchors.reshape(-1, 4)
        cls_score = cls_score.permute(0, 2, 3, 1).reshape(-1, self.cls_out_channels).contiguous()
        bbox_pred = bbox_pred.permute(0, 2, 3, 1).reshape(-1, 4)
        iou_pred = iou_pred.permute(0, 2, 3, 1).reshape(-1)
        bbox_targets = bbox_targets.reshape(-1, 4)
        labels = labels.reshape(-1)
        label_weights = label_weights.reshape(-1)
        loss_cls = self.loss_cls(cls_score, labels, label_weights, avg_factor=avg_factor)
        pos_inds = ((labels >= 0) & (labels < self.num_classes)).nonzero().squeeze(1)
        if len(pos_inds) > 0:
            pos_targets = bbox_targets[pos_inds]
            pos_anchors = anchors[pos_inds]
            decoded = self.bbox_coder.decode(pos_anchors, bbox_pred[pos_inds])
            centerness = self.centerness_target(pos_anchors, pos_targets)
            loss_bbox = self.loss_bbox(decoded, pos_targets, weight=centerness, avg_factor=1.0)
            iou = bbox_overlaps(decoded, pos_targets, is_aligned=True).clamp(0, 1)
            if self.detach_iou_target:
                iou = iou.detach()
            loss_iou = self.loss_centerness(iou_pred[pos_inds], iou, avg_factor=avg_factor)
            weight_sum = centerness.sum()
        else:
            loss_bbox = bbox_pred.sum() * 0
            loss_iou = iou_pred.sum() * 0
            weight_sum = bbox_targets.new_tensor(0.)
        # the regression loss is averaged by the centerness weights, as ATSSHead does
        return loss_cls, loss_bbox, loss_iou, weight_sum

    def loss_by_feat(self, *args, **kwargs):
        losses = super().loss_by_feat(*args, **kwargs)
        losses['loss_iou'] = losses.pop('loss_centerness')
        return losses
