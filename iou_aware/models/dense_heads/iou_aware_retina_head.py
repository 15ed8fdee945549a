"""IoU-aware RetinaNet head (Wu, Li, Wang 2019, arXiv:1912.05992) for MMDetection 3.x."""
import torch
from mmdet.models.dense_heads import RetinaHead
from mmdet.models.utils import images_to_levels, multi_apply
from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox_overlaps, cat_boxes, get_box_tensor
from torch import nn

from iou_aware.engine.separate_clip import tag_clip_group
from .decoupled_iou_branch import per_image as _per_image
from .fused_score_predict import FusedScorePredictMixin


@MODELS.register_module()
class IoUAwareRetinaHead(FusedScorePredictMixin, RetinaHead):
    """The paper's head: RetinaHead plus a branch that predicts, per anchor, the IoU of its
    regressed box.

    The IoU branch is one 3x3 conv on the last regression-tower feature. Training: for
    positive anchors the target is IoU(decoded predicted box, assigned GT box) and the loss
    is BCE (``loss_iou``) averaged over positives. With ``detach_iou_target=False`` (the
    paper's choice) the BCE gradient also flows through the target into the regression
    branch. This project's default, a decoupled estimator trained on every (anchor, class),
    is its own head: :class:`~.DecoupledIoURetinaHead`.

    Inference: the detection score is made as ``test_cfg.score_type`` says
    (:mod:`iou_aware.models.scoring`): ``'cls_x_iou'`` (the expected IoU),
    ``'geometric'`` (paper Eq. 7, ``cls ** alpha * iou ** (1 - alpha)``, ``test_cfg.alpha``;
    a config that sets only ``alpha`` means this) or ``'cls'``; it is used for the pre-NMS
    top-k, the score threshold and NMS. ``test_cfg.cls_score_thr`` (optional) first drops
    anchors whose classification score is below it, before the IoU branch is fused in.
    Detections also carry ``cls_scores`` and ``pred_ious`` for analysis.
    ``test_cfg.nms.type='iou_guided_nms'`` switches to IoU-Net's IoU-guided NMS: clusters
    are ranked by predicted IoU and each kept box takes its cluster's best fused score
    (:class:`~.fused_score_predict.FusedScorePredictMixin`, shared with IoU-aware ATSS).
    Calibration of the scores is the detector-agnostic ``CalibratedDetector``
    (:mod:`iou_aware.models.calibrated_detector`).

    Args:
        loss_iou (dict): loss on the IoU logits; must accept soft targets in [0, 1].
        detach_iou_target (bool): stop the IoU loss gradient at the target.
    """

    # the modules IoUBranchRetrofit trains on a frozen detector (iou_aware/models/retrofit.py)
    IOU_BRANCH = ('retina_iou',)

    iou_channels = 1  # one IoU per anchor (the decoupled head: one per (anchor, class))

    def __init__(self, *args,
                 loss_iou=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
                 detach_iou_target=False, **kwargs):
        super().__init__(*args, **kwargs)
        self._init_scoring()
        self.loss_iou = MODELS.build(loss_iou)
        self.detach_iou_target = bool(detach_iou_target)

    def _init_layers(self):
        super()._init_layers()
        self._init_branch(self.feat_channels if self.stacked_convs > 0 else self.in_channels)

    def _init_branch(self, in_channels):
        """The IoU branch's layers, after RetinaHead's (subclasses build their own)."""
        self.retina_iou = nn.Conv2d(in_channels, self.num_base_priors * self.iou_channels, 3,
                                    padding=1)
        tag_clip_group(self.retina_iou, 'iou_branch')  # SeparateClipOptimWrapper's group

    def _towers(self, x):
        cls_feat, reg_feat = x, x
        for conv in self.cls_convs:
            cls_feat = conv(cls_feat)
        for conv in self.reg_convs:
            reg_feat = conv(reg_feat)
        return cls_feat, reg_feat

    def _iou_logits(self, reg_feat):
        return self.retina_iou(reg_feat)

    def forward_single(self, x):
        cls_feat, reg_feat = self._towers(x)
        return self.retina_cls(cls_feat), self.retina_reg(reg_feat), self._iou_logits(reg_feat)

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
        anchors = [cat_boxes(a) for a in anchor_list]  # per image, all levels
        all_anchor_list = images_to_levels(anchors, num_level_anchors)
        # mmdet's per-level cls (focal) and box losses
        losses_cls, losses_bbox = multi_apply(
            super().loss_by_feat_single, cls_scores, bbox_preds, all_anchor_list, labels_list,
            label_weights_list, bbox_targets_list, bbox_weights_list, avg_factor=avg_factor)
        loss_iou = self.loss_iou_by_feat(
            _per_image(cls_scores, self.cls_out_channels),
            _per_image(bbox_preds, self.bbox_coder.encode_size),
            _per_image(iou_preds, self.iou_channels),
            torch.stack([get_box_tensor(a) for a in anchors]),
            torch.cat(labels_list, dim=1), torch.cat(bbox_targets_list, dim=1),
            batch_gt_instances, avg_factor)
        return dict(loss_cls=losses_cls, loss_bbox=losses_bbox, loss_iou=loss_iou)

    def loss_iou_by_feat(self, cls_scores, bbox_preds, iou_preds, anchors, labels,
                         bbox_targets, batch_gt_instances, avg_factor):
        """BCE of the IoU branch on the positives; every tensor is per image, all levels:
        ``cls_scores`` [B, N, C], ``bbox_preds`` [B, N, 4], ``iou_preds`` [B, N, C or 1]
        (logits), ``anchors`` [B, N, 4], ``labels`` [B, N], ``bbox_targets`` [B, N, 4]."""
        pos = (labels >= 0) & (labels < self.num_classes)
        loss = iou_preds.sum() * 0  # keeps the graph when nothing is trained
        if pos.any():
            target = self.iou_targets(anchors[pos], bbox_preds[pos], bbox_targets[pos])
            if self.detach_iou_target:
                target = target.detach()
            channel = labels[pos] if self.iou_channels > 1 else torch.zeros_like(labels[pos])
            logits = iou_preds[pos].gather(1, channel[:, None])[:, 0]
            loss = loss + self.loss_iou(logits, target, avg_factor=avg_factor)
        return loss

    def iou_targets(self, anchors, deltas, bbox_targets):
        """IoU between each positive anchor's decoded prediction and its assigned GT box."""
        pred_boxes = get_box_tensor(self.bbox_coder.decode(anchors, deltas))
        gt_boxes = bbox_targets if self.reg_decoded_bbox else \
            get_box_tensor(self.bbox_coder.decode(anchors, bbox_targets))
        return bbox_overlaps(pred_boxes, gt_boxes, is_aligned=True)
