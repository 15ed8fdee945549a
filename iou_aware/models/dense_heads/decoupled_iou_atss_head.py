"""This project's default IoU recipe on ATSS: mmdet's ATSS detector unchanged (centerness
branch, its losses and its training bit for bit) plus the decoupled, class-aware IoU branch
of :class:`~.DecoupledIoURetinaHead`, whose predicted IoU replaces the centerness in the
detection score. Against ``ATSSHeadWithQuality`` (cls x centerness) a row then measures the
quality estimate alone, on the same detector for a seed (a paired control)."""
import torch
from mmdet.models.dense_heads import ATSSHead
from mmdet.models.utils import multi_apply
from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox_overlaps, get_box_tensor
from mmdet.utils import reduce_mean

from .decoupled_iou_branch import (build_branch, check_iou_convs, init_weights_apart,
                                   other_pairs_iou_loss, per_image)
from .fused_score_predict import FusedScorePredictMixin

BRANCH_MODULES = ('iou_convs', 'atss_iou')  # the IoU branch's own layers


@MODELS.register_module()
class DecoupledIoUATSSHead(FusedScorePredictMixin, ATSSHead):
    """``ATSSHead`` plus a decoupled IoU branch trained on every (anchor, class).

    - Training: ATSSHead's losses unchanged (``loss_cls``, ``loss_bbox``,
      ``loss_centerness``), plus ``loss_iou``: the branch (``iou_convs`` on the detached
      regression tower, one output per class) is trained with BCE on the positives' IoU
      (decoded box with its assigned object, detached) and on every other (anchor, class)
      towards the IoU with the best object of that class, weighted by that class's score,
      exactly as the RetinaNet default. Built and initialized on a fork of the RNG and
      clipped apart (``SeparateClipOptimWrapper``), so the detector trains as ATSS's does.
    - Inference: the score is ``test_cfg.score_type`` of cls and the predicted IoU of the
      detection's class (default cls x IoU, the expected IoU); the centerness, ATSS's own
      quality estimate, is trained but not used. Detections carry ``cls_scores`` and
      ``pred_ious``; ``test_cfg.cls_score_thr`` and IoU-guided NMS as the RetinaNet heads.

    Args:
        loss_iou (dict): BCE on the IoU logits (soft targets in [0, 1]).
        iou_convs (int): the branch's own conv layers (2, as the RetinaNet default).
    """

    IOU_BRANCH = BRANCH_MODULES  # trained by IoUBranchRetrofit on a frozen detector

    score_weight_gamma = 1.0  # the other (anchor, class) terms' weight: score ** gamma

    def __init__(self, *args,
                 loss_iou=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
                 iou_convs=2, **kwargs):
        check_iou_convs('DecoupledIoUATSSHead', iou_convs)
        self.num_iou_convs = iou_convs  # read by _init_layers
        super().__init__(*args, **kwargs)
        self._init_scoring()
        self.loss_iou = MODELS.build(loss_iou)

    def _init_layers(self):
        super()._init_layers()
        self.iou_channels = self.cls_out_channels
        self.iou_convs, self.atss_iou = build_branch(
            self.feat_channels, self.num_iou_convs, self.num_base_priors * self.iou_channels,
            self.conv_cfg, self.norm_cfg, kernel_size=self.pred_kernel_size)

    def init_weights(self):
        init_weights_apart(self, BRANCH_MODULES, super().init_weights)

    def forward_single(self, x, scale):
        # ATSSHead.forward_single (mmdet 3.3) restated: the branch needs the tower's feature
        cls_feat, reg_feat = x, x
        for cls_conv in self.cls_convs:
            cls_feat = cls_conv(cls_feat)
        for reg_conv in self.reg_convs:
            reg_feat = reg_conv(reg_feat)
        cls_score = self.atss_cls(cls_feat)
        bbox_pred = scale(self.atss_reg(reg_feat)).float()
        centerness = self.atss_centerness(reg_feat)
        iou_pred = self.atss_iou(self.iou_convs(reg_feat.detach()))
        return cls_score, bbox_pred, centerness, iou_pred

    def loss_by_feat(self, cls_scores, bbox_preds, centernesses, iou_preds, batch_gt_instances,
                     batch_img_metas, batch_gt_instances_ignore=None):
        # ATSSHead.loss_by_feat (mmdet 3.3) restated so that the targets it computes (the
        # ATSS assignment) also train the IoU branch instead of being computed twice; the
        # detector's three losses are ATSS's, bit for bit (tests/test_models/test_atss.py).
        device = cls_scores[0].device
        anchor_list, valid_flag_list = self.get_anchors(
            [f.size()[-2:] for f in bbox_preds], batch_img_metas, device=device)
        (anchor_list, labels_list, label_weights_list, bbox_targets_list, _,
         avg_factor) = self.get_targets(anchor_list, valid_flag_list, batch_gt_instances,
                                        batch_img_metas,
                                        batch_gt_instances_ignore=batch_gt_instances_ignore)
        avg_factor = reduce_mean(torch.tensor(avg_factor, dtype=torch.float,
                                              device=device)).item()
        losses_cls, losses_bbox, loss_centerness, bbox_avg_factor = multi_apply(
            self.loss_by_feat_single, anchor_list, cls_scores, bbox_preds, centernesses,
            labels_list, label_weights_list, bbox_targets_list, avg_factor=avg_factor)
        bbox_avg_factor = reduce_mean(sum(bbox_avg_factor)).clamp_(min=1).item()
        losses_bbox = [loss / bbox_avg_factor for loss in losses_bbox]
        loss_iou = self.loss_iou_by_feat(cls_scores, bbox_preds, iou_preds, batch_gt_instances,
                                         anchor_list, labels_list, bbox_targets_list, avg_factor)
        return dict(loss_cls=losses_cls, loss_bbox=losses_bbox, loss_centerness=loss_centerness,
                    loss_iou=loss_iou)

    def loss_iou_by_feat(self, cls_scores, bbox_preds, iou_preds, batch_gt_instances,
                         anchor_list, labels_list, bbox_targets_list, avg_factor):
        """The branch's BCE over every (anchor, class), all inputs detached but its logits;
        ``anchor_list``, ``labels_list``, ``bbox_targets_list`` (per level) and ``avg_factor``
        as ``get_targets`` returns them."""
        anchors = torch.cat([get_box_tensor(a) for a in anchor_list], dim=1)  # [B, N, 4]
        labels = torch.cat(labels_list, dim=1)
        gt_boxes = torch.cat(bbox_targets_list, dim=1)  # decoded: ATSS regresses decoded boxes
        iou_logits = per_image(iou_preds, self.iou_channels)
        with torch.no_grad():
            deltas = per_image(bbox_preds, self.bbox_coder.encode_size)
            boxes = [get_box_tensor(self.bbox_coder.decode(anchors[i], deltas[i]))
                     for i in range(len(batch_gt_instances))]
            probs = per_image(cls_scores, self.cls_out_channels).sigmoid()
        pos = (labels >= 0) & (labels < self.num_classes)
        loss = iou_logits.sum() * 0  # keeps the graph when nothing is trained
        if pos.any():
            with torch.no_grad():
                target = torch.cat([bbox_overlaps(boxes[i][pos[i]], gt_boxes[i][pos[i]],
                                                  is_aligned=True) for i in range(len(boxes))])
            logits = iou_logits[pos].gather(1, labels[pos][:, None])[:, 0]
            loss = loss + self.loss_iou(logits, target, avg_factor=avg_factor)
        return loss + other_pairs_iou_loss(self.loss_iou, iou_logits, boxes, probs, labels, pos,
                                           batch_gt_instances, avg_factor,
                                           self.score_weight_gamma)

    def predict_by_feat(self, cls_scores, bbox_preds, centernesses, iou_preds,
                        batch_img_metas=None, cfg=None, rescale=False, with_nms=True):
        # the IoU logits go in as mmdet's score factors; FusedScorePredictMixin fuses them
        return super().predict_by_feat(cls_scores, bbox_preds, score_factors=iou_preds,
                                       batch_img_metas=batch_img_metas, cfg=cfg,
                                       rescale=rescale, with_nms=with_nms)
