"""IoU-aware RetinaNet head (Wu, Li, Wang 2019, arXiv:1912.05992) for MMDetection 3.x."""
import torch
from mmdet.models.dense_heads import RetinaHead
from mmdet.models.utils import filter_scores_and_topk, images_to_levels, multi_apply
from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox_overlaps, cat_boxes, get_box_tensor
from mmengine.structures import InstanceData
from torch import nn

from iou_aware.ops import batched_iou_guided_nms


@MODELS.register_module()
class IoUAwareRetinaHead(RetinaHead):
    """RetinaHead plus a branch that predicts, per anchor, the IoU of its regressed box.

    The IoU branch is one 3x3 conv on the last regression-tower feature (as in the paper).
    Training: for positive anchors the target is IoU(decoded predicted box, assigned GT box)
    and the loss is BCE (``loss_iou``) averaged over positives; negatives get no IoU loss.
    With ``detach_iou_target=False`` (the paper's choice) the BCE gradient also flows
    through the target into the regression branch.

    Inference: the detection score is ``cls ** alpha * iou ** (1 - alpha)`` (paper Eq. 7,
    ``test_cfg.alpha``, default 0.5), used for the pre-NMS top-k, the score threshold and
    NMS. Detections also carry ``cls_scores`` and ``pred_ious`` for analysis.
    ``test_cfg.nms.type='iou_guided_nms'`` switches to IoU-Net's IoU-guided NMS: clusters
    are ranked by predicted IoU and each kept box takes its cluster's best fused score.

    Args:
        loss_iou (dict): loss on the IoU logits; must accept soft targets in [0, 1].
        detach_iou_target (bool): stop the IoU loss's gradient at the IoU target.
    """

    def __init__(self, *args,
                 loss_iou=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
                 detach_iou_target=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_iou = MODELS.build(loss_iou)
        self.detach_iou_target = detach_iou_target

    def _init_layers(self):
        super()._init_layers()
        in_channels = self.feat_channels if self.stacked_convs > 0 else self.in_channels
        self.retina_iou = nn.Conv2d(in_channels, self.num_base_priors, 3, padding=1)

    def forward_single(self, x):
        cls_feat, reg_feat = x, x
        for conv in self.cls_convs:
            cls_feat = conv(cls_feat)
        for conv in self.reg_convs:
            reg_feat = conv(reg_feat)
        return self.retina_cls(cls_feat), self.retina_reg(reg_feat), self.retina_iou(reg_feat)

    # ------------------------------------------------------------------ training
    def loss_by_feat(self, cls_scores, bbox_preds, iou_preds, batch_gt_instances,
                     batch_img_metas, batch_gt_instances_ignore=None):
        featmap_sizes = [featmap.size()[-2:] for featmap in cls_scores]
        anchor_list, valid_flag_list = self.get_anchors(
            featmap_sizes, batch_img_metas, device=cls_scores[0].device)
        (labels_list, label_weights_list, bbox_targets_list, bbox_weights_list,
         avg_factor) = self.get_targets(anchor_list, valid_flag_list, batch_gt_instances,
                                        batch_img_metas,
                                        batch_gt_instances_ignore=batch_gt_instances_ignore)
        num_level_anchors = [anchors.size(0) for anchors in anchor_list[0]]
        all_anchor_list = images_to_levels([cat_boxes(a) for a in anchor_list], num_level_anchors)
        losses_cls, losses_bbox, losses_iou = multi_apply(
            self.loss_by_feat_single, cls_scores, bbox_preds, iou_preds, all_anchor_list,
            labels_list, label_weights_list, bbox_targets_list, bbox_weights_list,
            avg_factor=avg_factor)
        return dict(loss_cls=losses_cls, loss_bbox=losses_bbox, loss_iou=losses_iou)

    def loss_by_feat_single(self, cls_score, bbox_pred, iou_pred, anchors, labels,
                            label_weights, bbox_targets, bbox_weights, avg_factor):
        loss_cls, loss_bbox = super().loss_by_feat_single(
            cls_score, bbox_pred, anchors, labels, label_weights, bbox_targets, bbox_weights,
            avg_factor=avg_factor)
        labels = labels.reshape(-1)
        pos = ((labels >= 0) & (labels < self.num_classes)).nonzero().squeeze(1)
        iou_pred = iou_pred.permute(0, 2, 3, 1).reshape(-1)
        if len(pos) == 0:
            return loss_cls, loss_bbox, iou_pred.sum() * 0
        target = self.iou_targets(anchors.reshape(-1, 4)[pos],
                                  bbox_pred.permute(0, 2, 3, 1).reshape(-1, 4)[pos],
                                  bbox_targets.reshape(-1, 4)[pos])
        if self.detach_iou_target:
            target = target.detach()
        loss_iou = self.loss_iou(iou_pred[pos], target, avg_factor=avg_factor)
        return loss_cls, loss_bbox, loss_iou

    def iou_targets(self, anchors, deltas, bbox_targets):
        """IoU between each positive anchor's decoded prediction and its assigned GT box."""
        pred_boxes = get_box_tensor(self.bbox_coder.decode(anchors, deltas))
        gt_boxes = bbox_targets if self.reg_decoded_bbox else \
            get_box_tensor(self.bbox_coder.decode(anchors, bbox_targets))
        return bbox_overlaps(pred_boxes, gt_boxes, is_aligned=True)

    # ----------------------------------------------------------------- inference
    def _predict_by_feat_single(self, cls_score_list, bbox_pred_list, score_factor_list,
                                mlvl_priors, img_meta, cfg, rescale=False, with_nms=True):
        """As BaseDenseHead's, but ranks, thresholds and NMS-es the fused score.

        mmdet's own score-factor path (FCOS/ATSS centerness) thresholds and takes the
        top-k on the classification score and multiplies the factor in only before NMS;
        the paper fuses first, so the IoU can rescue a well-localized, low-cls anchor.
        """
        cfg = self.test_cfg if cfg is None else cfg
        alpha = cfg.get('alpha', 0.5)
        nms_pre = cfg.get('nms_pre', -1)
        score_thr = cfg.get('score_thr', 0)
        mlvl = dict(bbox_pred=[], priors=[], scores=[], labels=[], cls_scores=[], pred_ious=[])
        for cls_score, bbox_pred, iou_pred, priors in zip(cls_score_list, bbox_pred_list,
                                                          score_factor_list, mlvl_priors):
            bbox_pred = bbox_pred.permute(1, 2, 0).reshape(-1, self.bbox_coder.encode_size)
            cls = cls_score.permute(1, 2, 0).reshape(-1, self.cls_out_channels).sigmoid()
            # predict_by_feat passes the IoU logits in as score factors.
            iou = iou_pred.permute(1, 2, 0).reshape(-1).sigmoid()
            fused = fuse_scores(cls, iou[:, None], alpha)
            scores, labels, keep, kept = filter_scores_and_topk(
                fused, score_thr, nms_pre, dict(bbox_pred=bbox_pred, priors=priors, iou=iou))
            mlvl['bbox_pred'].append(kept['bbox_pred'])
            mlvl['priors'].append(kept['priors'])
            mlvl['scores'].append(scores)
            mlvl['labels'].append(labels)
            mlvl['pred_ious'].append(kept['iou'])
            mlvl['cls_scores'].append(cls[keep, labels])
        results = InstanceData()
        results.bboxes = self.bbox_coder.decode(cat_boxes(mlvl['priors']),
                                                torch.cat(mlvl['bbox_pred']),
                                                max_shape=img_meta['img_shape'])
        for key in ('scores', 'labels', 'cls_scores', 'pred_ious'):
            results[key] = torch.cat(mlvl[key])
        return self._bbox_post_process(results, cfg, rescale=rescale, with_nms=with_nms,
                                       img_meta=img_meta)


    def _bbox_post_process(self, results, cfg, rescale=False, with_nms=True, img_meta=None):
        nms_cfg = cfg.get('nms') or {}
        if not (with_nms and nms_cfg.get('type') == 'iou_guided_nms'):
            return super()._bbox_post_process(results, cfg, rescale=rescale,
                                              with_nms=with_nms, img_meta=img_meta)
        # mmdet's post-process does the rescaling and min-size filter; the NMS is ours.
        results = super()._bbox_post_process(results, cfg, rescale=rescale, with_nms=False,
                                             img_meta=img_meta)
        boxes = get_box_tensor(results.bboxes)
        keep, scores = batched_iou_guided_nms(boxes, results.scores, results.pred_ious,
                                              results.labels, nms_cfg.get('iou_threshold', 0.5))
        results = results[keep]
        results.scores = scores
        order = scores.argsort(descending=True, stable=True)
        return results[order[:cfg.max_per_img]] if cfg.get('max_per_img', -1) > 0 else results[order]


def fuse_scores(cls_scores, ious, alpha):
    """Paper Eq. 7: cls ** alpha * iou ** (1 - alpha); alpha=1 is plain RetinaNet."""
    if alpha == 1:
        return cls_scores
    return cls_scores.pow(alpha) * ious.clamp(min=0).pow(1 - alpha)
