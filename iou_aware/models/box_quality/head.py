"""The box-quality head: the IoU a final detection can be expected to have with an object.

A detection scores ``IoU with its matched object`` if the field's one-to-one matching
(score order, same class, some overlap) gives it one, else 0 (a duplicate, a wrong class,
background): what LaECE_0 and LRP_0 score. The head factors that expectation as

    expected IoU = P(matched | box, evidence) * E[IoU | matched, box]

- **loc** (``E[IoU | matched]``, IoU-Net's question): the image inside the final box,
  pooled with Precise RoI Pooling, two FC layers, a class-aware output. Trained on jittered
  ground truths (IoU >= 0.5, as IoU-Net) and on the detector's own matched detections.
- **tp** (``P(matched)``): the same pooled features plus the cluster evidence of the box
  (``evidence.py``: what NMS merged, kept neighbours, size and image borders). Trained on
  the detector's own final detections, target 1 if the matching pairs it with an object.

Both with BCE. The dense IoU-aware branch sees an anchor's feature, not the regressed box,
and IoU-Net's head is trained on jittered ground truths only; this head sees the final box
and learns from the detector's own mistakes (duplicates, background, loose boxes).
"""
import numpy as np
import torch
import torch.nn.functional as F
from mmdet.registry import MODELS
from mmdet.structures.bbox import get_box_tensor
from mmengine.model import BaseModule
from torch import nn

from iou_aware.analysis.detection_calibration import match_detections
from ..roi_extractors import PrRoIExtractor
from ..task_modules import jitter_gt_boxes
from .evidence import EVIDENCE_FEATURES


@MODELS.register_module()
class BoxQualityHead(BaseModule):
    """Args:
        num_classes (int): foreground classes (the outputs are class-aware).
        in_channels (int): channels of the detector's FPN maps.
        featmap_strides (sequence of int): strides of the maps pooled from.
        roi_feat_size (int): side of the pooled features.
        fc_channels (int): width of the FC layers.
        evidence_channels (int): width of the evidence embedding.
        num_jittered (int): jittered ground truths per image for the loc output.
        jitter_min_iou (float): lowest IoU of a jittered box with its object.
        loss_weights (dict): ``loc`` and ``tp`` weights of the two BCE terms.
    """

    def __init__(self, num_classes, in_channels=256, featmap_strides=(8, 16, 32, 64, 128),
                 roi_feat_size=7, fc_channels=256, evidence_channels=64, num_jittered=32,
                 jitter_min_iou=0.5, loss_weights=dict(loc=1.0, tp=1.0),
                 init_cfg=dict(type='Xavier', distribution='uniform', layer='Linear')):
        super().__init__(init_cfg=init_cfg)
        if num_classes < 1 or in_channels < 1 or num_jittered < 0:
            raise ValueError(f'BoxQualityHead: num_classes and in_channels must be >= 1 and '
                             f'num_jittered >= 0, got {num_classes}, {in_channels}, '
                             f'{num_jittered}')
        if set(loss_weights) != {'loc', 'tp'}:
            raise ValueError(f'BoxQualityHead: loss_weights needs exactly the keys loc and tp, '
                             f'got {sorted(loss_weights)}')
        self.num_classes = num_classes
        self.num_jittered = num_jittered
        self.jitter_min_iou = jitter_min_iou
        self.loss_weights = dict(loss_weights)
        self.roi_extractor = PrRoIExtractor(
            roi_layer=dict(type='PrRoIPool2d', output_size=roi_feat_size),
            out_channels=in_channels, featmap_strides=list(featmap_strides))
        flat = in_channels * roi_feat_size * roi_feat_size
        self.appearance = nn.Sequential(nn.Linear(flat, fc_channels), nn.ReLU(inplace=True),
                                        nn.Linear(fc_channels, fc_channels), nn.ReLU(inplace=True))
        self.loc_out = nn.Linear(fc_channels, num_classes)
        self.evidence = nn.Sequential(nn.Linear(len(EVIDENCE_FEATURES), evidence_channels),
                                      nn.ReLU(inplace=True))
        self.tp = nn.Sequential(nn.Linear(fc_channels + evidence_channels, fc_channels),
                                nn.ReLU(inplace=True), nn.Linear(fc_channels, num_classes))

    def forward(self, feats, rois, labels, evidence=None):
        """Logits of the boxes' own classes: loc Tensor[K], and tp Tensor[K] (None without
        ``evidence``). ``rois`` Tensor[K, 5] (image index, x1, y1, x2, y2)."""
        rows = torch.arange(len(labels), device=labels.device)
        x = self._appearance(feats, rois)
        loc = self.loc_out(x)[rows, labels]
        if evidence is None:
            return loc, None
        tp = self.tp(torch.cat([x, self.evidence(evidence.to(x.dtype))], 1))[rows, labels]
        return loc, tp

    def loc_logits(self, feats, rois, labels, levels=None):
        """loc logits of ``rois``' own classes; ``levels`` (Tensor[K] long) pins each box to
        an FPN level (for refinement, which pools the moving boxes again every step)."""
        rows = torch.arange(len(labels), device=labels.device)
        return self.loc_out(self._appearance(feats, rois, levels))[rows, labels]

    def _appearance(self, feats, rois, levels=None):
        """The FC features of the image inside each box (pooled on its own FPN level, or on
        ``levels``)."""
        pooled = (self.roi_extractor(feats, rois) if levels is None
                  else self.roi_extractor.pool_at_levels(feats, rois, levels))
        return self.appearance(pooled.flatten(1))

    def predict(self, feats, detections):
        """(P(matched), E[IoU | matched]) of each image's final detections, as lists."""
        rois, labels, evidence = _stack(detections)
        if len(labels) == 0:
            empty = rois.new_zeros(0)
            return [empty] * len(detections), [empty] * len(detections)
        loc, tp = self(feats, rois, labels, evidence)
        sizes = [len(d) for d in detections]
        return list(tp.sigmoid().split(sizes)), list(loc.sigmoid().split(sizes))

    def loss(self, feats, detections, batch_data_samples):
        """BCE of loc on jittered ground truths and matched detections, of tp on every final
        detection (targets from the one-to-one matching the field scores)."""
        own_rois, own_labels, evidence = _stack(detections)
        matched, iou = [], []
        for det, sample in zip(detections, batch_data_samples):
            m, v = one_to_one_targets(det, sample.gt_instances)
            matched.append(m)
            iou.append(v)
        device = own_rois.device
        matched = torch.cat(matched).to(device) if matched else torch.zeros(0, dtype=torch.bool)
        iou = torch.cat(iou).to(device=device, dtype=own_rois.dtype) if iou else own_rois.new_zeros(0)
        jit_rois, jit_labels, jit_iou = [], [], []
        for i, sample in enumerate(batch_data_samples):
            gt = sample.gt_instances
            boxes, labels, target = jitter_gt_boxes(
                get_box_tensor(gt.bboxes).float().to(device), gt.labels.to(device), sample.metainfo['img_shape'],
                self.num_jittered * (len(gt) > 0), min_iou=self.jitter_min_iou)
            jit_rois.append(torch.cat([boxes.new_full((len(boxes), 1), i), boxes], 1))
            jit_labels.append(labels)
            jit_iou.append(target)
        jit_rois, jit_labels, jit_iou = torch.cat(jit_rois), torch.cat(jit_labels), torch.cat(jit_iou)
        rois = torch.cat([own_rois, jit_rois.to(own_rois.dtype)])
        labels = torch.cat([own_labels, jit_labels.to(own_labels.dtype)])
        zero = sum(p.sum() for p in self.parameters()) * 0  # keeps the graph when empty
        if len(labels) == 0:
            return dict(loss_quality_loc=zero, loss_quality_tp=zero)
        n_own = len(own_labels)
        loc, _ = self(feats, rois, labels)
        _, tp = self(feats, own_rois, own_labels, evidence) if n_own else (None, None)
        loc_logits = torch.cat([loc[:n_own][matched], loc[n_own:]])
        loc_target = torch.cat([iou[matched], jit_iou.to(iou.dtype)])
        loss_loc = (F.binary_cross_entropy_with_logits(loc_logits, loc_target)
                    if len(loc_target) else zero)
        loss_tp = (F.binary_cross_entropy_with_logits(tp, matched.to(tp.dtype))
                   if n_own else zero)
        return dict(loss_quality_loc=self.loss_weights['loc'] * loss_loc,
                    loss_quality_tp=self.loss_weights['tp'] * loss_tp)


def _stack(detections):
    """(rois Tensor[K, 5], labels Tensor[K], evidence Tensor[K, E]) over the images."""
    rois = [torch.cat([d.bboxes.new_full((len(d), 1), i), d.bboxes], 1)
            for i, d in enumerate(detections)]
    return (torch.cat(rois).float(), torch.cat([d.labels for d in detections]),
            torch.cat([d.evidence for d in detections]))


def one_to_one_targets(det, gt_instances):
    """(matched Tensor[K] bool, IoU with the matched object Tensor[K]) of one image's final
    detections: the field's matching (``match_detections`` at IoU threshold 0, in the order
    of the detector's scores), so the targets are what LaECE_0 / LRP_0 score."""
    k = len(det)
    if k == 0:
        return torch.zeros(0, dtype=torch.bool), torch.zeros(0)
    boxes = det.bboxes.detach().cpu().double().numpy()
    dets = dict(img_id=np.zeros(k, np.int64), label=det.labels.cpu().numpy(), bbox=boxes)
    gt = {0: (get_box_tensor(gt_instances.bboxes).detach().cpu().double().numpy().reshape(-1, 4),
              gt_instances.labels.cpu().numpy())}
    m = match_detections(dets, gt, det.scores.detach().cpu().double().numpy(), 0.0,
                         num_classes=int(max(dets['label'].max(initial=0),
                                             gt[0][1].max(initial=0))) + 1)
    return torch.from_numpy(m['matched']), torch.from_numpy(m['iou']).float()
