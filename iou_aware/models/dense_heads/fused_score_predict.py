"""The predict path of every dense head with an IoU branch (IoU-aware RetinaNet, both
recipes, and the decoupled IoU-aware ATSS): rank, threshold and NMS the fused score
(:mod:`iou_aware.models.scoring`), optionally with IoU-Net's IoU-guided NMS."""
import torch
from mmdet.models.utils import filter_scores_and_topk
from mmdet.structures.bbox import cat_boxes, get_box_tensor
from mmengine.structures import InstanceData

from iou_aware.models.scoring import check_scoring, fuse_scores
from iou_aware.ops import batched_iou_guided_nms


class FusedScorePredictMixin:
    """For a dense head (before mmdet's head in the bases) whose ``predict_by_feat`` gets the
    IoU logits as ``score_factors``, ``[B, A * iou_channels, H, W]`` per level, with
    ``iou_channels`` 1 (one IoU per anchor) or ``cls_out_channels`` (one per class)."""

    def _init_scoring(self):
        """Read and validate ``test_cfg``'s scoring at build time, not on the first image."""
        self.score_type, self.alpha = 'cls_x_iou', 0.5
        if self.test_cfg is not None:
            self.score_type, self.alpha = check_scoring(
                self.test_cfg, f'{type(self).__name__}: test_cfg')

    def _predict_by_feat_single(self, cls_score_list, bbox_pred_list, score_factor_list,
                                mlvl_priors, img_meta, cfg, rescale=False, with_nms=True):
        """As BaseDenseHead's, but ranks, thresholds and NMS-es the fused score.

        mmdet's own score-factor path (FCOS/ATSS centerness) thresholds and takes the
        top-k on the classification score and multiplies the factor in only before NMS;
        the paper fuses first, so the IoU can rescue a well-localized, low-cls anchor.
        """
        cfg = self.test_cfg if cfg is None else cfg
        score_type, alpha = ((self.score_type, self.alpha) if cfg is self.test_cfg
                             else check_scoring(cfg, f'{type(self).__name__}: test_cfg'))
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
