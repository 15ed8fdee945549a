"""IoU-aware RetinaNet head (Wu, Li, Wang 2019, arXiv:1912.05992) for MMDetection 3.x."""
import contextlib

import torch
from mmcv.cnn import ConvModule
from mmdet.models.dense_heads import RetinaHead
from mmdet.models.utils import (filter_scores_and_topk, images_to_levels, multi_apply,
                                unpack_gt_instances)
from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox_overlaps, cat_boxes, get_box_tensor
from mmengine.model import normal_init
from mmengine.structures import InstanceData
from torch import nn

from iou_aware.engine.separate_clip import tag_clip_group
from iou_aware.models.scoring import check_scoring, fuse_scores
from iou_aware.ops import batched_iou_guided_nms


EXTRA_TARGET_CLASSES = ('any', 'top_class')
BRANCH_MODULES = ('iou_convs', 'retina_iou')  # the IoU branch's own layers


@MODELS.register_module()
class IoUAwareRetinaHead(RetinaHead):
    """RetinaHead plus a branch that predicts, per anchor, the IoU of its regressed box.

    The IoU branch is one 3x3 conv on the last regression-tower feature (as in the paper).
    Training: for positive anchors the target is IoU(decoded predicted box, assigned GT box)
    and the loss is BCE (``loss_iou``) averaged over positives. With
    ``detach_iou_target=False`` (the paper's choice) the BCE gradient also flows through the
    target into the regression branch.

    The paper trains the branch on positive anchors only, yet at test time it scores every
    box the head emits, most of which come from non-positive anchors (parts of objects,
    boxes spanning two neighbours, background). ``extra_iou_targets`` also trains it on those:

    - every non-positive anchor gets the target IoU of its decoded box (detached) with the
      best ground truth: of any class (``target_class='any'``) or of the anchor's
      top-scoring class (``'top_class'``, which is what that detection is judged by); 0 for
      a box that overlaps none (background);
    - weighted by the anchor's detached top classification score ``** gamma``, times
      ``loss_weight``, and normalized like the positives' loss: the anchors that become
      detections dominate, the thousands of low-score background anchors barely count
      (VFNet weights its negatives the same way);
    - ``tower_grad=False`` stops these extra terms' gradient at the IoU conv: they train
      only the branch's own 3x3 conv, and the regression tower (shared with the box
      regressor) is trained by the positives as in the paper. With ``tower_grad=True``
      (the first setting measured) the extra terms also reach the tower, which the shapes
      runs showed to cost box regression (docs/localization.md).

    ``extra_iou_targets=None`` is the paper's positives-only setting.

    ``class_aware_iou=True`` predicts one IoU per (anchor, class) instead of one per anchor
    (the paper), as IoU-Net's IoU head does: a detection is judged by its IoU with objects
    of its own class, and one shared prediction cannot be right both for an anchor's
    correct class and for a wrong class it also scores. Positives train their label's
    output; with ``extra_iou_targets`` every other (anchor, class) trains its own output,
    target IoU with the best ground truth of that class, weighted by that class's score.

    ``decoupled_iou=True`` makes the branch a pure estimator: it reads the regression
    tower's features detached and its targets are detached, so the IoU loss trains only
    the branch's own layers and the gradients of the detector's classification and box
    layers are exactly RetinaNet's. Two couplings remain: unless the optimizer wrapper is
    ``SeparateClipOptimWrapper``, a global grad-norm clip (as in our schedules) sees the
    branch's gradients too, and, unless ``isolate_branch_rng``, building and initializing
    the branch's layers draws from the global RNG stream, so a seed gives the detector
    another init than RetinaNet's. Letting the extra targets reach the shared tower
    collapsed box regression in some of our shapes runs (docs/localization.md); decoupling
    is the way out that keeps the extra targets. The paper's coupling (its gradient through
    the target into the boxes) is given up. ``iou_convs`` adds that many 3x3 conv layers
    (norm and ReLU as the towers') in front of the branch's output conv: a decoupled branch
    cannot shape the tower's features for itself, so it needs some depth of its own.

    ``isolate_branch_rng=True`` builds and initializes the branch (``iou_convs``,
    ``retina_iou``) on a fork of the RNG stream, so every other layer, and everything drawn
    after the model is built, gets exactly the random numbers RetinaNet gets for the same
    seed. The branch's parameters are tagged so that ``SeparateClipOptimWrapper``
    (``iou_aware.engine``) clips them apart from the detector's. With ``decoupled_iou``, the
    isolated RNG and that wrapper, the detector trains bitwise as RetinaNet does for the same
    seed (tested end to end), a paired control. Off by default so results made before it
    stay reproducible; the project's configs turn the decoupled setting on (class-aware,
    extra targets, two convs, isolated RNG, separate clip) since it was chosen on the
    shapes benchmark (configs/_base_/models/iou-aware-retinanet_tiny-r18_fpn.py), and the
    arguments' defaults stay the paper's.

    ``quality_cls_loss`` (e.g. ``dict(type='QualityFocalLoss', use_sigmoid=True, beta=2.0)``)
    trains the classification output as GFL does, replacing the focal loss: its target is
    the IoU of a positive's decoded box with its ground truth (detached) at the positive's
    class and 0 everywhere else, so the cls score itself becomes a joint cls x IoU score,
    trained on every anchor. The IoU branch is kept (as configured) beside it, so the two
    quality estimates can be compared on one detector.

    Inference: the detection score is made as ``test_cfg.score_type`` says
    (:mod:`iou_aware.models.scoring`): ``'cls_x_iou'`` (the expected IoU, the default),
    ``'geometric'`` (paper Eq. 7, ``cls ** alpha * iou ** (1 - alpha)``, ``test_cfg.alpha``;
    a config that sets only ``alpha`` means this) or ``'cls'``; it is used for the pre-NMS
    top-k, the score threshold and NMS. ``test_cfg.cls_score_thr`` (optional) first drops
    anchors whose classification
    score is below it, before the IoU branch is fused in. Detections also carry
    ``cls_scores`` and ``pred_ious`` for analysis. ``test_cfg.nms.type='iou_guided_nms'``
    switches to IoU-Net's IoU-guided NMS: clusters are ranked by predicted IoU and each
    kept box takes its cluster's best fused score. Calibration of the scores is the
    detector-agnostic ``CalibratedDetector`` (:mod:`iou_aware.models.calibrated_detector`).

    Args:
        loss_iou (dict): loss on the IoU logits; must accept soft targets in [0, 1].
        detach_iou_target (bool): stop the positives' IoU loss gradient at the target.
        extra_iou_targets (dict, optional): ``dict(target_class='any', gamma=1.0,
            loss_weight=1.0)`` to train the IoU branch beyond the positives (see above;
            ``target_class`` is unused with ``class_aware_iou``).
        class_aware_iou (bool): one IoU output per class (see above).
        decoupled_iou (bool): the IoU loss reaches neither the towers nor the boxes.
        iou_convs (int): 3x3 conv layers of the branch's own before its output conv.
        isolate_branch_rng (bool): the branch's layers draw from a forked RNG stream.
        quality_cls_loss (dict, optional): a QFL-style loss for the cls output (see above).
    """

    def __init__(self, *args,
                 loss_iou=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
                 detach_iou_target=False, extra_iou_targets=None, class_aware_iou=False,
                 decoupled_iou=False, iou_convs=0, isolate_branch_rng=False,
                 quality_cls_loss=None, **kwargs):
        if not isinstance(iou_convs, int) or isinstance(iou_convs, bool) or iou_convs < 0:
            raise ValueError('IoUAwareRetinaHead: iou_convs must be an int >= 0, got '
                             f'{iou_convs!r}')
        self.class_aware_iou = class_aware_iou  # read by _init_layers
        self.num_iou_convs = iou_convs  # read by _init_layers
        self.decoupled_iou = decoupled_iou
        self.isolate_branch_rng = bool(isolate_branch_rng)  # read by _init_layers
        super().__init__(*args, **kwargs)
        self.score_type, self.alpha = 'cls_x_iou', 0.5
        if self.test_cfg is not None:  # fail at build time, not on the first image
            self.score_type, self.alpha = check_scoring(self.test_cfg, 'IoUAwareRetinaHead: test_cfg')
        self.loss_iou = MODELS.build(loss_iou)
        if quality_cls_loss is not None:
            if not isinstance(quality_cls_loss, dict) or not quality_cls_loss.get('use_sigmoid'):
                raise ValueError('IoUAwareRetinaHead: quality_cls_loss must be a loss config '
                                 'with use_sigmoid=True taking (labels, IoU scores) targets, '
                                 "e.g. dict(type='QualityFocalLoss', use_sigmoid=True, "
                                 f'beta=2.0); got {quality_cls_loss!r}')
            quality_cls_loss = MODELS.build(quality_cls_loss)
        self.quality_cls_loss = quality_cls_loss
        self.detach_iou_target = detach_iou_target or decoupled_iou
        if extra_iou_targets is not None:
            extra_iou_targets = dict(dict(target_class='any', gamma=1.0, loss_weight=1.0,
                                          tower_grad=True), **extra_iou_targets)
            if extra_iou_targets['target_class'] not in EXTRA_TARGET_CLASSES:
                raise ValueError('IoUAwareRetinaHead: extra_iou_targets.target_class must be '
                                 f'one of {EXTRA_TARGET_CLASSES}, got '
                                 f'{extra_iou_targets["target_class"]!r}')
        self.extra_iou_targets = extra_iou_targets

    def _init_layers(self):
        super()._init_layers()
        in_channels = self.feat_channels if self.stacked_convs > 0 else self.in_channels
        self.iou_channels = self.cls_out_channels if self.class_aware_iou else 1
        with _forked_rng(self.isolate_branch_rng, []):
            self.iou_convs = nn.Sequential(*[
                ConvModule(in_channels, in_channels, 3, padding=1, conv_cfg=self.conv_cfg,
                           norm_cfg=self.norm_cfg) for _ in range(self.num_iou_convs)])
            self.retina_iou = nn.Conv2d(in_channels, self.num_base_priors * self.iou_channels,
                                        3, padding=1)
        for name in BRANCH_MODULES:  # SeparateClipOptimWrapper clips these apart
            tag_clip_group(getattr(self, name), 'iou_branch')

    def init_weights(self):
        if not self.isolate_branch_rng:
            return super().init_weights()
        # mmdet's init_cfg (Normal on every Conv2d, then retina_cls re-drawn) would also draw
        # the branch's convs, shifting retina_cls and all later draws; so RetinaNet's init runs
        # with the branch taken out, and the branch gets the same Normal(0, 0.01) on a fork.
        branch = {name: self._modules.pop(name) for name in BRANCH_MODULES}
        try:
            super().init_weights()
        finally:
            self._modules.update(branch)
        cuda = sorted({p.device.index or 0 for m in branch.values() for p in m.parameters()
                       if p.is_cuda})
        with _forked_rng(True, cuda):
            for module in branch.values():
                for m in module.modules():
                    if isinstance(m, nn.Conv2d):
                        normal_init(m, std=0.01)

    def _towers(self, x):
        cls_feat, reg_feat = x, x
        for conv in self.cls_convs:
            cls_feat = conv(cls_feat)
        for conv in self.reg_convs:
            reg_feat = conv(reg_feat)
        return cls_feat, reg_feat

    def _iou_logits(self, reg_feat):
        if self.decoupled_iou:
            reg_feat = reg_feat.detach()
        return self.retina_iou(self.iou_convs(reg_feat))

    def forward_single(self, x):
        cls_feat, reg_feat = self._towers(x)
        return self.retina_cls(cls_feat), self.retina_reg(reg_feat), self._iou_logits(reg_feat)

    # ------------------------------------------------------------------ training
    def loss(self, x, batch_data_samples):
        """As BaseDenseHead.loss; with ``extra_iou_targets.tower_grad=False`` the IoU conv
        is also applied to the detached tower features, for the extra terms."""
        extra = self.extra_iou_targets
        if extra is None or extra['tower_grad'] or self.decoupled_iou:
            return super().loss(x, batch_data_samples)
        cls_scores, bbox_preds, iou_preds, head_only_iou_preds = multi_apply(
            self._forward_single_with_head_only_iou, x)
        gt, gt_ignore, metas = unpack_gt_instances(batch_data_samples)
        return self.loss_by_feat(cls_scores, bbox_preds, iou_preds, gt, metas, gt_ignore,
                                 extra_iou_preds=head_only_iou_preds)

    def _forward_single_with_head_only_iou(self, x):
        cls_feat, reg_feat = self._towers(x)
        return (self.retina_cls(cls_feat), self.retina_reg(reg_feat),
                self._iou_logits(reg_feat), self._iou_logits(reg_feat.detach()))

    def loss_by_feat(self, cls_scores, bbox_preds, iou_preds, batch_gt_instances,
                     batch_img_metas, batch_gt_instances_ignore=None, extra_iou_preds=None):
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
        # mmdet's per-level cls (focal) and box losses; with quality_cls_loss the focal term
        # gets zero weights (mmdet computes both in one method) and QFL replaces it below.
        focal_weights = label_weights_list if self.quality_cls_loss is None else [
            torch.zeros_like(w) for w in label_weights_list]
        losses_cls, losses_bbox = multi_apply(
            super().loss_by_feat_single, cls_scores, bbox_preds, all_anchor_list, labels_list,
            focal_weights, bbox_targets_list, bbox_weights_list, avg_factor=avg_factor)
        image_cls = _per_image(cls_scores, self.cls_out_channels)
        image_box = _per_image(bbox_preds, self.bbox_coder.encode_size)
        image_anchors = torch.stack([get_box_tensor(a) for a in anchors])
        labels, box_targets = torch.cat(labels_list, dim=1), torch.cat(bbox_targets_list, dim=1)
        if self.quality_cls_loss is not None:
            losses_cls = self._quality_cls_loss(image_cls, image_box, image_anchors, labels,
                                                torch.cat(label_weights_list, dim=1),
                                                box_targets, avg_factor)
        loss_iou = self.loss_iou_by_feat(
            image_cls, image_box, _per_image(iou_preds, self.iou_channels), image_anchors,
            labels, box_targets, batch_gt_instances, avg_factor,
            extra_iou_preds=None if extra_iou_preds is None else _per_image(
                extra_iou_preds, self.iou_channels))
        return dict(loss_cls=losses_cls, loss_bbox=losses_bbox, loss_iou=loss_iou)

    def _quality_cls_loss(self, cls_scores, bbox_preds, anchors, labels, label_weights,
                          bbox_targets, avg_factor):
        """GFL's joint target on the cls output: a positive's IoU (detached) at its class."""
        pos = (labels >= 0) & (labels < self.num_classes)
        quality = cls_scores.new_zeros(labels.shape)
        if pos.any():
            with torch.no_grad():
                quality[pos] = self.iou_targets(anchors[pos], bbox_preds[pos], bbox_targets[pos])
        return self.quality_cls_loss(
            cls_scores.reshape(-1, self.cls_out_channels),
            (labels.reshape(-1), quality.reshape(-1)), label_weights.reshape(-1),
            avg_factor=avg_factor)

    def loss_iou_by_feat(self, cls_scores, bbox_preds, iou_preds, anchors, labels,
                         bbox_targets, batch_gt_instances, avg_factor, extra_iou_preds=None):
        """BCE of the IoU branch over the batch; every tensor is per image, all levels:
        ``cls_scores`` [B, N, C], ``bbox_preds`` [B, N, 4], ``iou_preds`` [B, N, C or 1]
        (logits), ``anchors`` [B, N, 4], ``labels`` [B, N], ``bbox_targets`` [B, N, 4]."""
        pos = (labels >= 0) & (labels < self.num_classes)
        loss = iou_preds.sum() * 0  # keeps the graph when nothing is trained
        if pos.any():
            target = self.iou_targets(anchors[pos], bbox_preds[pos], bbox_targets[pos])
            if self.detach_iou_target:
                target = target.detach()
            channel = labels[pos] if self.class_aware_iou else torch.zeros_like(labels[pos])
            logits = iou_preds[pos].gather(1, channel[:, None])[:, 0]
            loss = loss + self.loss_iou(logits, target, avg_factor=avg_factor)
        if self.extra_iou_targets is not None:
            extra_iou_preds = iou_preds if extra_iou_preds is None else extra_iou_preds
            loss = loss + self._extra_iou_loss(cls_scores, bbox_preds, extra_iou_preds,
                                               anchors, pos, labels, batch_gt_instances,
                                               avg_factor)
        return loss

    def _extra_iou_loss(self, cls_scores, bbox_preds, iou_preds, anchors, pos, labels,
                        batch_gt_instances, avg_factor):
        """Every output the positives do not train: (anchor, class) pairs with the
        class-aware branch, non-positive anchors otherwise. Targets and weights detached."""
        cfg = self.extra_iou_targets
        logits, targets, weights = [], [], []
        probs = cls_scores.detach().sigmoid()
        for i, gt in enumerate(batch_gt_instances):
            with torch.no_grad():
                boxes = get_box_tensor(self.bbox_coder.decode(anchors[i], bbox_preds[i].detach()))
                gt_boxes, gt_labels = get_box_tensor(gt.bboxes), gt.labels
                overlaps = (bbox_overlaps(boxes, gt_boxes) if len(gt)
                            else boxes.new_zeros(len(boxes), 0))
                if self.class_aware_iou:
                    # [N, C]: IoU with the best ground truth of each class
                    same = gt_labels[None, :] == torch.arange(
                        self.cls_out_channels, device=boxes.device)[:, None]  # [C, G]
                    target = (overlaps[:, None, :] * same[None]).amax(dim=2) if len(gt) \
                        else boxes.new_zeros(len(boxes), self.cls_out_channels)
                    sel = torch.ones_like(target, dtype=torch.bool)
                    sel[pos[i]] = sel[pos[i]].scatter(1, labels[i][pos[i]][:, None], False)
                    weight = probs[i].pow(cfg['gamma'])
                else:
                    score, top_class = probs[i].max(dim=-1)
                    if cfg['target_class'] == 'top_class' and len(gt):
                        overlaps = overlaps.masked_fill(top_class[:, None] != gt_labels[None, :], 0)
                    target = (overlaps.max(dim=1).values if len(gt)
                              else boxes.new_zeros(len(boxes)))[:, None]
                    sel = ~pos[i][:, None]
                    weight = score.pow(cfg['gamma'])[:, None]
            logits.append(iou_preds[i][sel])
            targets.append(target[sel])
            weights.append(weight[sel])
        return cfg['loss_weight'] * self.loss_iou(
            torch.cat(logits), torch.cat(targets), torch.cat(weights), avg_factor=avg_factor)

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
        score_type, alpha = ((self.score_type, self.alpha) if cfg is self.test_cfg
                             else check_scoring(cfg, 'IoUAwareRetinaHead: test_cfg'))
        nms_pre = cfg.get('nms_pre', -1)
        score_thr = cfg.get('score_thr', 0)
        cls_thr = cfg.get('cls_score_thr', 0)
        mlvl = dict(bbox_pred=[], priors=[], scores=[], labels=[], cls_scores=[], pred_ious=[])
        for cls_score, bbox_pred, iou_pred, priors in zip(cls_score_list, bbox_pred_list,
                                                          score_factor_list, mlvl_priors):
            bbox_pred = bbox_pred.permute(1, 2, 0).reshape(-1, self.bbox_coder.encode_size)
            cls = cls_score.permute(1, 2, 0).reshape(-1, self.cls_out_channels).sigmoid()
            # predict_by_feat passes the IoU logits in as score factors.
            iou = iou_pred.permute(1, 2, 0).reshape(-1, self.iou_channels).sigmoid()
            fused = fuse_scores(cls, iou, score_type, alpha)  # [N, C] with [N, C] or [N, 1] IoUs
            if cls_thr > 0:  # fewer candidates for NMS: the fused score alone passes often
                fused = fused.masked_fill(cls < cls_thr, 0)
            # mmdet's filter_scores_and_topk slices [:min(topk, n)], so its "no limit" of
            # -1 would silently drop each level's last candidate: no limit is every one.
            topk = nms_pre if nms_pre and nms_pre > 0 else fused.numel()
            scores, labels, keep, kept = filter_scores_and_topk(
                fused, score_thr, topk, dict(bbox_pred=bbox_pred, priors=priors, iou=iou))
            mlvl['bbox_pred'].append(kept['bbox_pred'])
            mlvl['priors'].append(kept['priors'])
            mlvl['scores'].append(scores)
            mlvl['labels'].append(labels)
            column = labels if self.iou_channels > 1 else torch.zeros_like(labels)
            mlvl['pred_ious'].append(kept['iou'].gather(1, column[:, None])[:, 0])
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


def _forked_rng(enabled, cuda_devices):
    """RNG draws inside do not advance the global streams (CPU and the given CUDA devices)."""
    if not enabled:
        return contextlib.nullcontext()
    return torch.random.fork_rng(devices=cuda_devices)


def _per_image(level_maps, channels):
    """Per-level maps [B, A * channels, H, W] -> [B, sum(H * W * A), channels], in the order
    mmdet concatenates a level's anchors (location-major, then anchor)."""
    return torch.cat([m.permute(0, 2, 3, 1).reshape(m.shape[0], -1, channels)
                      for m in level_maps], dim=1)
