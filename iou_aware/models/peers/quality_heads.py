"""Thin subclasses of mmdet's GFL, VFNet and PAA heads that expose their quality estimate.

- GFL (quality focal loss) and VFNet (IoU-aware classification score) train one joint
  score whose target is the IoU of the box with its object (0 for background): the score
  *is* their predicted IoU. Detections get ``pred_ious = cls_scores = scores``.
- PAA has a separate IoU branch (BCE on positives, like the IoU-aware RetinaNet paper) and
  ranks by sqrt(cls x IoU), then votes boxes. Its post-processing is repeated here with
  mmdet's own functions, keeping each detection's index so that its IoU-branch prediction
  and classification score can be attached; boxes, scores and labels are PAAHead's.
"""
import torch
from mmcv.ops import DeformConv2d
from mmdet.models.dense_heads import GFLHead, PAAHead, VFNetHead
from mmdet.models.layers import multiclass_nms
from mmdet.registry import MODELS
from mmengine.structures import InstanceData
from torchvision.ops import deform_conv2d

from ..prediction_fields import attach


class _ScoreIsQuality:
    """For heads whose single score is trained as the IoU with the object."""

    def _bbox_post_process(self, results, cfg, rescale=False, with_nms=True, img_meta=None):
        results = super()._bbox_post_process(results, cfg, rescale=rescale, with_nms=with_nms,
                                             img_meta=img_meta)
        attach(results, cls_scores=results.scores, pred_ious=results.scores)
        return results


@MODELS.register_module()
class GFLHeadWithQuality(_ScoreIsQuality, GFLHead):
    """mmdet's ``GFLHead``; detections carry ``pred_ious`` = the joint score."""


class TorchvisionDeformConv2d(DeformConv2d):
    """mmcv's ``DeformConv2d`` (same parameters, same initialization) computed by
    torchvision's ``deform_conv2d``: identical outputs (tested), about 1.7x faster forward
    plus backward on the CPU, where mmcv's kernel is a plain im2col loop. Only the
    configuration VFNet uses (one group, one deformable group) is supported."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.groups != 1 or self.deform_groups != 1:
            raise ValueError('TorchvisionDeformConv2d supports groups=1, deform_groups=1 only')

    def forward(self, x, offset):
        return deform_conv2d(x, offset, self.weight, None, stride=self.stride,
                             padding=self.padding, dilation=self.dilation)


@MODELS.register_module()
class VFNetHeadWithQuality(_ScoreIsQuality, VFNetHead):
    """mmdet's ``VFNetHead``; detections carry ``pred_ious`` = the IoU-aware score.

    On the CPU its two deformable convolutions run through torchvision's kernel
    (:class:`TorchvisionDeformConv2d`); mmcv's CPU kernel made VFNet 1.5x slower to train
    on the shapes benchmark, with the same results."""

    def _init_layers(self):
        super()._init_layers()
        for name in ('vfnet_reg_refine_dconv', 'vfnet_cls_dconv'):
            old = getattr(self, name)
            setattr(self, name, TorchvisionDeformConv2d(
                old.in_channels, old.out_channels, old.kernel_size, stride=old.stride,
                padding=old.padding, dilation=old.dilation, bias=False))


@MODELS.register_module()
class PAAHeadWithQuality(PAAHead):
    """mmdet's ``PAAHead``; detections carry the IoU branch's ``pred_ious`` and the
    classification score ``cls_scores``."""

    def _bbox_post_process(self, results, cfg, rescale=False, with_nms=True, img_meta=None):
        # As PAAHead._bbox_post_process (mmdet 3.3), with return_inds=True.
        if rescale:
            results.bboxes /= results.bboxes.new_tensor(img_meta['scale_factor']).repeat((1, 2))
        padding = results.scores.new_zeros(results.scores.shape[0], 1)
        mlvl_scores = torch.cat([results.scores, padding], dim=1)
        mlvl_nms_scores = (mlvl_scores * results.score_factors[:, None]).sqrt()
        det_bboxes, det_labels, inds = multiclass_nms(
            results.bboxes, mlvl_nms_scores, cfg.score_thr, cfg.nms, cfg.max_per_img,
            score_factors=None, return_inds=True)
        num_classes = mlvl_scores.shape[1] - 1
        box_inds = inds // num_classes
        cls_scores = results.scores[box_inds, det_labels]
        pred_ious = results.score_factors[box_inds]
        if self.with_score_voting and len(det_bboxes) > 0:
            det_bboxes, voted_labels = self.score_voting(det_bboxes, det_labels, results.bboxes,
                                                         mlvl_nms_scores, cfg.score_thr)
            # score_voting regroups the detections by class, keeping their order within a class
            order = torch.cat([torch.nonzero(det_labels == c).squeeze(1)
                               for c in range(self.cls_out_channels)])
            if not torch.equal(det_labels[order], voted_labels):
                raise RuntimeError('PAAHeadWithQuality: mmdet\'s score_voting no longer groups '
                                   'detections by class; the attached IoUs would be misaligned')
            det_labels, cls_scores, pred_ious = voted_labels, cls_scores[order], pred_ious[order]
        out = InstanceData()
        out.bboxes = det_bboxes[:, :-1]
        out.scores = det_bboxes[:, -1]
        out.labels = det_labels
        attach(out, cls_scores=cls_scores, pred_ious=pred_ious)
        return out
