"""IoU-Net (Jiang et al., ECCV 2018) as an mmdet RoI head on top of Faster R-CNN."""
import torch
from mmcv.ops import batched_nms
from mmdet.models.roi_heads import StandardRoIHead
from mmdet.models.utils import unpack_gt_instances
from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox2roi, get_box_tensor, scale_boxes
from mmdet.utils import ConfigType, InstanceList
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData

from iou_aware.ops import batched_iou_guided_nms
from ..prediction_fields import attach
from ..roi_extractors import PrRoIExtractor
from ..scoring import check_scoring, fuse_scores
from ..task_modules import jitter_gt_boxes
from .box_refinement import refine_boxes
from .own_boxes import own_iou_training_boxes

NMS_TYPES = ('nms', 'iou_guided_nms')
DEFAULT_SAMPLER = dict(num_per_img=64, min_iou=0.5, num_bins=5, candidates_per_gt=100,
                       max_offset=0.35)


def _as_rois(img_inds, boxes):
    """(image index, box) pairs -> mmdet's rois Tensor[K, 5]."""
    return torch.cat([img_inds.to(boxes.dtype)[:, None], boxes], dim=1)


@MODELS.register_module()
class IoUNetRoIHead(StandardRoIHead):
    """Faster R-CNN's RoI head plus IoU-Net's IoU predictor and its inference path.

    Training adds ``loss_iou``: an :class:`IoUHead` on Precise-RoI-pooled features of
    jittered ground-truth boxes (``train_cfg.rcnn.iou_sampler``, see
    :func:`jitter_gt_boxes`), class-aware BCE against their true IoU.

    Inference (``test_cfg.rcnn``) keeps mmdet's keys (``score_thr``, ``nms``,
    ``max_per_img``) and adds a switch per IoU-Net stage, so the paper's ablation is a
    matter of test-time options on one checkpoint:

    - ``score_type``: ``'cls'`` (classification score, the paper's and the default),
      ``'cls_x_iou'`` (times the predicted IoU: the expected IoU) or ``'geometric'``
      (:mod:`iou_aware.models.scoring`) as the detection score, and as NMS's ranking key
      for plain NMS.
    - ``nms.type``: ``'nms'`` (mmcv's, by score) or ``'iou_guided_nms'`` (Algorithm 1: rank
      by predicted IoU, the kept box takes its cluster's best classification score).
    - ``refine``: ``None`` or ``dict(steps=5, step_size=0.5, omega1=0.001, omega2=-0.01)``
      for Algorithm 2 on the detections kept by NMS, through PrRoIPool's box gradient;
      ``max_per_img=k`` in it refines only each image's k best-scored detections. Each box
      is pooled on the FPN level it started on throughout (needs ``PrRoIExtractor``).
    - ``pre_iou_topk``: at most this many (box, class) candidates per image, by
      classification score, are scored by the IoU head.

    Detections carry ``cls_scores`` and ``pred_ious`` (predicted IoU of the final box with
    its object) for localization-quality analysis.
    """

    IOU_BRANCH = ('iou_head',)  # trained by IoUBranchRetrofit on a frozen detector

    def __init__(self, iou_roi_extractor: ConfigType, iou_head: ConfigType, **kwargs):
        super().__init__(**kwargs)
        self.iou_roi_extractor = MODELS.build(iou_roi_extractor)
        self.iou_head = MODELS.build(iou_head)
        if self.iou_head.num_classes != self.bbox_head.num_classes:
            raise ValueError(f'IoUNetRoIHead: iou_head.num_classes ({self.iou_head.num_classes}) '
                             f'must equal bbox_head.num_classes ({self.bbox_head.num_classes})')
        if self.test_cfg is not None:  # a bad test config fails at build, not at predict
            self._check_test_cfg(self.test_cfg)

    @staticmethod
    def _check_test_cfg(cfg):
        """Validate a test config; returns its resolved ``(score_type, alpha)``."""
        scoring = check_scoring(cfg, 'IoUNetRoIHead: test_cfg.rcnn', default='cls')
        nms_type = cfg.get('nms', {}).get('type', 'nms')
        if nms_type not in NMS_TYPES:
            raise ValueError(f'IoUNetRoIHead: test_cfg.rcnn.nms.type must be one of '
                             f'{NMS_TYPES}, got {nms_type!r}')
        refine = cfg.get('refine')
        if refine is not None and not isinstance(refine, dict):
            raise ValueError('IoUNetRoIHead: test_cfg.rcnn.refine must be None or a dict '
                             f'(steps, step_size, omega1, omega2), got {refine!r}')
        return scoring

    # ---------------------------------------------------------------- IoU predictor
    def predict_iou_logits(self, x, rois):
        """IoU logits Tensor[K, num_classes] for ``rois`` Tensor[K, 5] (batch index, box)."""
        feats = self.iou_roi_extractor(x[:self.iou_roi_extractor.num_inputs], rois)
        return self.iou_head(feats)

    def predict_ious(self, x, img_inds, boxes, labels, levels=None):
        """Predicted IoU (sigmoid) of each box for its class; differentiable in ``boxes``.
        ``levels`` (Tensor[K] long, optional) fixes the FPN level each box is pooled on."""
        if len(boxes) == 0:
            return boxes.new_zeros(0)
        rois = _as_rois(img_inds, boxes)
        if levels is None:
            logits = self.predict_iou_logits(x, rois)
        else:
            logits = self.iou_head(self.iou_roi_extractor.pool_at_levels(x, rois, levels))
        return logits[torch.arange(len(labels), device=labels.device), labels].sigmoid()

    # ---------------------------------------------------------------- training
    def loss(self, x, rpn_results_list, batch_data_samples):
        """As ``StandardRoIHead.loss`` (assign, sample, box and mask losses), plus the IoU
        head's loss, which may also train on the box head's outputs of the same step."""
        batch_gt_instances, batch_gt_instances_ignore, _ = unpack_gt_instances(batch_data_samples)
        sampling_results = []
        for i, rpn_results in enumerate(rpn_results_list):
            rpn_results.priors = rpn_results.pop('bboxes')
            assign_result = self.bbox_assigner.assign(rpn_results, batch_gt_instances[i],
                                                      batch_gt_instances_ignore[i])
            sampling_results.append(self.bbox_sampler.sample(
                assign_result, rpn_results, batch_gt_instances[i],
                feats=[lvl_feat[i][None] for lvl_feat in x]))
        bbox_results = self.bbox_loss(x, sampling_results)
        # mmdet's bbox_loss does not return the RoIs its outputs belong to; the own-box
        # sampler needs them: the same bbox2roi call as inside bbox_loss.
        bbox_results.setdefault('rois', bbox2roi([res.priors for res in sampling_results]))
        losses = dict(bbox_results['loss_bbox'])
        if self.with_mask:
            mask_results = self.mask_loss(x, sampling_results, bbox_results['bbox_feats'],
                                          batch_gt_instances)
            losses.update(mask_results['loss_mask'])
        losses.update(self.iou_loss(x, batch_data_samples, bbox_results))
        return losses

    def iou_loss(self, x, batch_data_samples, bbox_results=None):
        """BCE of the IoU head on jittered ground truths (the paper) and, with
        ``train_cfg.rcnn.iou_sampler.own_boxes``, on the box head's own decoded boxes."""
        cfg = dict(DEFAULT_SAMPLER)
        if self.train_cfg is not None:
            cfg.update(self.train_cfg.get('iou_sampler', {}))
        num = cfg.pop('num_per_img')
        own_cfg = cfg.pop('own_boxes', None)
        boxes, labels, targets, img_inds = [], [], [], []
        for i, sample in enumerate(batch_data_samples):
            gt = sample.gt_instances
            b, lab, t = jitter_gt_boxes(get_box_tensor(gt.bboxes), gt.labels,
                                        sample.metainfo['img_shape'], num, **cfg)
            boxes.append(b)
            labels.append(lab)
            targets.append(t)
            img_inds.append(torch.full_like(lab, i))
        if own_cfg is not None and bbox_results is not None:
            own = own_iou_training_boxes(self.bbox_head, bbox_results, batch_data_samples,
                                         **own_cfg)
            for part, values in zip((boxes, labels, targets, img_inds), own):
                part.append(values)
        boxes = torch.cat(boxes)
        # Under autocast PrRoIPool computes in float32 (keep the boxes' precision); without
        # it, the RoIs must have the features' dtype (e.g. a model run in half).
        if not torch.is_autocast_enabled(boxes.device.type):
            boxes = boxes.to(x[0].dtype)
        rois = _as_rois(torch.cat(img_inds), boxes)
        logits = self.predict_iou_logits(x, rois)
        return self.iou_head.loss(logits, torch.cat(labels), torch.cat(targets))

    # ---------------------------------------------------------------- inference
    def predict_bbox(self, x, batch_img_metas, rpn_results_list, rcnn_test_cfg,
                     rescale=False) -> InstanceList:
        """IoU-Net's inference as a pipeline of steps, each returning new detections:
        candidates -> [predicted IoUs] -> NMS -> [predicted IoUs] -> [refinement] ->
        final scores. Which steps run is set by ``test_cfg.rcnn`` (see the class)."""
        if rcnn_test_cfg is None:  # mmdet's test-time augmentation wants raw boxes
            return super().predict_bbox(x, batch_img_metas, rpn_results_list, None, rescale)
        cfg = ConfigDict(rcnn_test_cfg)
        # Resolved once per call and passed down (the config may be replaced or edited
        # between calls, so it is not cached).
        scoring = self._check_test_cfg(cfg)
        raw = self._raw_detections(x, batch_img_metas, rpn_results_list)
        dets = [self._candidates(r, i, cfg) for i, r in enumerate(raw)]
        if isinstance(self.iou_roi_extractor, PrRoIExtractor):
            feats = self.iou_roi_extractor.maps_for_repeated_pooling(x)
        else:  # e.g. mmdet's SingleRoIExtractor with RoIAlign (no refinement then)
            feats = [f.detach() for f in x[:self.iou_roi_extractor.num_inputs]]
        iou_before_nms = scoring[0] != 'cls' or cfg.nms.get('type') == 'iou_guided_nms'
        if iou_before_nms:
            dets = self._with_predicted_ious(feats, dets)
        dets = [self._nms(d, cfg, scoring) for d in dets]
        if not iou_before_nms:  # predicting the kept boxes only is enough
            dets = self._with_predicted_ious(feats, dets)
        if cfg.get('refine'):
            dets = self._refined(feats, dets, batch_img_metas, cfg.refine)
        return [self._output(d, meta, scoring, rescale) for d, meta in zip(dets, batch_img_metas)]

    def _raw_detections(self, x, batch_img_metas, rpn_results_list):
        """Per image: every proposal's class scores and decoded per-class boxes (mmdet's own
        ``predict_bbox`` without a test config returns them raw, clipped per class)."""
        return super().predict_bbox(x, batch_img_metas, rpn_results_list, None, rescale=False)

    def _output(self, det, meta, scoring, rescale):
        out = InstanceData()
        boxes = det.bboxes
        if rescale and len(boxes):
            boxes = scale_boxes(boxes, [1 / s for s in meta['scale_factor']])
        out.bboxes = boxes
        out.scores = self._final_scores(det, scoring)
        out.labels = det.labels
        attach(out, cls_scores=det.cls_scores, pred_ious=det.pred_ious)
        return out

    def _candidates(self, raw, img_idx, cfg):
        """(box, class) pairs above the score threshold, like mmdet's multiclass_nms."""
        num_classes = self.bbox_head.num_classes
        scores = raw.scores[:, :num_classes]
        boxes = raw.bboxes.view(len(scores), raw.bboxes.shape[1] // 4, 4)
        roi_idx, labels = torch.nonzero(scores > cfg.score_thr, as_tuple=True)
        cls_scores = scores[roi_idx, labels]
        topk = cfg.get('pre_iou_topk', -1)
        if 0 < topk < len(cls_scores):
            order = cls_scores.topk(topk).indices
            roi_idx, labels, cls_scores = roi_idx[order], labels[order], cls_scores[order]
        box_col = labels if boxes.shape[1] > 1 else torch.zeros_like(labels)  # class-agnostic
        return InstanceData(bboxes=boxes[roi_idx, box_col], labels=labels,
                            cls_scores=cls_scores,
                            img_inds=torch.full_like(labels, img_idx))

    def _with_predicted_ious(self, feats, dets_list):
        """Copies of the detections with ``pred_ious`` (one batched IoU-head pass)."""
        boxes = torch.cat([d.bboxes for d in dets_list])
        ious = self.predict_ious(feats, torch.cat([d.img_inds for d in dets_list]), boxes,
                                 torch.cat([d.labels for d in dets_list]))
        out = []
        for d, part in zip(dets_list, ious.split([len(d) for d in dets_list])):
            d = d.clone()
            d.pred_ious = part
            out.append(d)
        return out

    @staticmethod
    def _final_scores(det, scoring):
        score_type, alpha = scoring
        if score_type == 'cls':  # before the IoU head has run, there is no pred_ious
            return det.cls_scores
        return fuse_scores(det.cls_scores, det.pred_ious, score_type, alpha)

    def _nms(self, cand, cfg, scoring):
        nms_cfg = dict(cfg.nms)
        if len(cand) == 0:
            return cand
        if nms_cfg.get('type', 'nms') == 'iou_guided_nms':
            keep, cluster_scores = batched_iou_guided_nms(
                cand.bboxes, cand.cls_scores, cand.pred_ious, cand.labels,
                nms_cfg.get('iou_threshold', 0.5))
            kept = cand[keep]
            kept.cls_scores = cluster_scores
        else:
            _, keep = batched_nms(cand.bboxes, self._final_scores(cand, scoring), cand.labels,
                                  nms_cfg)
            kept = cand[keep]
        order = self._final_scores(kept, scoring).argsort(descending=True, stable=True)
        return kept[order[:cfg.max_per_img]] if cfg.max_per_img > 0 else kept[order]

    def _refined(self, feats, dets_list, batch_img_metas, refine_cfg):
        """Copies of the detections with refined boxes and their predicted IoUs."""
        if not isinstance(self.iou_roi_extractor, PrRoIExtractor):
            raise ValueError('IoUNetRoIHead: test_cfg.rcnn.refine needs box-coordinate '
                             'gradients, i.e. iou_roi_extractor of type PrRoIExtractor, got '
                             f'{type(self.iou_roi_extractor).__name__}')
        refine_cfg = dict(refine_cfg)
        # Detections arrive sorted by score; refining only the first k per image bounds the
        # cost (each step is a forward and backward of PrRoIPool and the IoU head).
        topk = refine_cfg.pop('max_per_img', -1)
        picked = [torch.arange(len(d) if topk < 0 else min(topk, len(d)), device=d.labels.device)
                  for d in dets_list]
        boxes = torch.cat([d.bboxes[p] for d, p in zip(dets_list, picked)])
        if len(boxes) == 0:
            return dets_list
        img_inds = torch.cat([d.img_inds[p] for d, p in zip(dets_list, picked)])
        labels = torch.cat([d.labels[p] for d, p in zip(dets_list, picked)])
        shapes = boxes.new_tensor([meta['img_shape'][:2] for meta in batch_img_metas])
        limits = shapes[img_inds][:, [1, 0, 1, 0]]  # (w, h, w, h) per box
        rois = _as_rois(img_inds, boxes)
        levels = self.iou_roi_extractor.map_roi_levels(rois, self.iou_roi_extractor.num_inputs)

        def score_fn(b, idx):
            return self.predict_ious(feats, img_inds[idx], b, labels[idx], levels[idx])

        def clamp_fn(b, idx):
            return torch.minimum(b.clamp(min=0), limits[idx])

        refined, ious, _ = refine_boxes(boxes, score_fn, clamp_fn=clamp_fn, **refine_cfg)
        sizes = [len(p) for p in picked]
        out = []
        for d, p, b, s in zip(dets_list, picked, refined.split(sizes), ious.split(sizes)):
            d = d.clone()
            bboxes, pred_ious = d.bboxes.clone(), d.pred_ious.clone()
            bboxes[p], pred_ious[p] = b, s
            d.bboxes, d.pred_ious = bboxes, pred_ious
            out.append(d)
        return out
