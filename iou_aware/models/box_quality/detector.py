"""Add the box-quality head to a trained detector (dense, or two-stage with mmdet's
``StandardRoIHead``) and train it alone.

    model = dict(_delete_=True, type='BoxQualityRetrofit', detector={{_base_.model}},
                 quality_head=dict(type='BoxQualityHead'), checkpoint='.../epoch_36.pth')

The wrapper holds the detector (:mod:`..detector_wrapper`) and adds a ``quality_head`` module
(state-dict keys: the detector's plus ``quality_head.*``, so a checkpoint of the detector
loads with only those missing), the detector frozen as ``IoUBranchRetrofit`` freezes it
(no gradient, eval mode: BatchNorm statistics stay), and its own:

- ``loss``: the frozen detector's final detections on the training batch (its own
  candidates and NMS, ``final_detections.py``: a dense head's, or a two-stage detector's
  RPN, box head and ``multiclass_nms``), then the head's loss on them;
- ``predict``: the same detections (same boxes, labels and order) with ``scores`` = the
  head's expected IoU (``score='expected_iou'``) or the detector's own (``'detector'``);
  the detector's score stays as ``det_scores``, the head's two factors as ``tp_probs`` and
  ``pred_ious`` (a detector's own predicted IoU, if it has one, as ``branch_ious``).

``refine`` (None, or IoU-Net's refinement settings ``steps``, ``step_size``, ``omega1``,
``omega2``; ``steps=0`` is off) moves each final box up the head's loc estimate by gradient
ascent through PrRoIPool before it is scored: IoU-Net's refinement for one-stage detections.

``checkpoint=None`` builds without loading (tools/test.py then loads the trained
checkpoint, detector and head together). IoU-Net (``IoUNetRoIHead``) has its own IoU head
and is refused; so is a detector that is already a wrapper (calibrate the stack from
outside: ``CalibratedDetector`` over this one).
"""
import torch
from mmdet.registry import MODELS
from mmdet.structures.bbox import scale_boxes

from ..detector_wrapper import DetectorWrapper, StackError
from ..retrofit import FrozenDetectorWrapper, RetrofitError, load_detector
from ..prediction_fields import attach
from .final_detections import dense_final_detections, two_stage_final_detections

PREFIXES = ('quality_head.',)
REFINE_KEYS = {'steps', 'step_size', 'omega1', 'omega2'}
SCORES = ('expected_iou', 'detector')


@MODELS.register_module()
class BoxQualityRetrofit(FrozenDetectorWrapper):
    """``detector`` with ``quality_head`` added, ``checkpoint`` loaded, the detector frozen."""

    def __init__(self, detector, quality_head, checkpoint=None, score='expected_iou',
                 refine=None):
        if score not in SCORES:
            raise ValueError(f'BoxQualityRetrofit: score must be one of {SCORES}, got '
                             f'{score!r}')
        if refine is not None and not (isinstance(refine, dict) and set(refine) <= REFINE_KEYS):
            raise ValueError(f'BoxQualityRetrofit: refine must be None or a dict with keys from '
                             f'{sorted(REFINE_KEYS)}, got {refine!r}')
        super().__init__(detector)
        head, final, strides = detection_head(self.detector)
        cfg = dict(quality_head)
        cfg.setdefault('num_classes', head.num_classes)
        if getattr(self, 'neck', None) is not None and hasattr(self.neck, 'out_channels'):
            cfg.setdefault('in_channels', self.neck.out_channels)
        if strides is not None:
            cfg.setdefault('featmap_strides', strides)
        if cfg['num_classes'] != head.num_classes:
            raise ValueError(f'BoxQualityRetrofit: quality_head.num_classes '
                             f'{cfg["num_classes"]} != the detector\'s {head.num_classes}')
        self.add_module('quality_head', MODELS.build(cfg))
        self.init_weights()  # the head's init; the Runner will not re-initialise
        if checkpoint is not None:
            load_detector(self, checkpoint, PREFIXES, 'BoxQualityRetrofit')
        self.freeze_all_but(PREFIXES, checkpoint)
        self.box_quality = dict(score=score, refine=dict(refine) if refine else None,
                                final_detections=final)

    @classmethod
    def check_inner(cls, inner):
        if isinstance(inner, DetectorWrapper):
            raise StackError(f'BoxQualityRetrofit: the detector must be a plain one, got a '
                             f'{type(inner).__name__}: a CalibratedDetector goes outside the '
                             'quality head (it calibrates the head\'s scores), an '
                             "IoUBranchRetrofit's trained checkpoint is a plain detector's")

    def loss(self, batch_inputs, batch_data_samples):
        with torch.no_grad():
            feats = self.extract_feat(batch_inputs)
            detections = self.box_quality['final_detections'](self.detector, feats,
                                                              batch_data_samples)
        return self.quality_head.loss([f.detach() for f in feats], detections,
                                      batch_data_samples)

    def predict(self, batch_inputs, batch_data_samples, rescale=True):
        feats = self.extract_feat(batch_inputs)
        detections = self.box_quality['final_detections'](self.detector, feats,
                                                          batch_data_samples)
        refine = self.box_quality['refine']
        if refine and refine.get('steps', 5) > 0:
            detections = _refined(self.quality_head, feats, detections, refine)
        tp, loc = self.quality_head.predict(feats, detections)
        for det, p, q, sample in zip(detections, tp, loc, batch_data_samples):
            del det.evidence
            if 'pred_ious' in det:
                attach(det, branch_ious=det.pred_ious)
            if 'cls_scores' not in det:
                attach(det, cls_scores=det.scores)
            attach(det, det_scores=det.scores, tp_probs=p, pred_ious=q)
            if self.box_quality['score'] == 'expected_iou':
                det.scores = p * q
            if rescale:
                factor = [1 / s for s in sample.metainfo['scale_factor']]
                det.bboxes = scale_boxes(det.bboxes, factor)
        return self.add_pred_to_datasample(batch_data_samples, detections)


def detection_head(model):
    """(the head whose classes the quality head scores, the final-detections function, the
    strides of the feature maps the head pools from, or None when the model does not say).
    Public: ``benchmarks/analysis/dump_evidence.py`` runs a detector's final detections with it."""
    roi_head = getattr(model, 'roi_head', None)
    if roi_head is not None:
        from mmdet.models.roi_heads import StandardRoIHead
        from ..roi_heads import IoUNetRoIHead
        if isinstance(roi_head, IoUNetRoIHead) or not isinstance(roi_head, StandardRoIHead) \
                or getattr(model, 'rpn_head', None) is None:
            raise RetrofitError(f'BoxQualityRetrofit: a two-stage detector needs an RPN and '
                                f'mmdet\'s StandardRoIHead, got {type(roi_head).__name__} (IoU-Net '
                                f'has its own IoU head)')
        return (roi_head.bbox_head, two_stage_final_detections,
                list(roi_head.bbox_roi_extractor.featmap_strides))
    head = getattr(model, 'bbox_head', None)
    from mmdet.models.dense_heads import PAAHead
    if isinstance(head, PAAHead):  # its predict_by_feat asserts with_nms (score voting)
        raise RetrofitError('BoxQualityRetrofit: PAAHead cannot hand its candidates before '
                            'NMS to the quality head (mmdet\'s PAA post-processing votes '
                            'boxes inside its NMS); use its own IoU branch (PAAHeadWithQuality)')
    if head is None or not hasattr(head, 'predict_by_feat'):
        raise RetrofitError(f'BoxQualityRetrofit: {type(model).__name__} has neither a dense '
                            'bbox_head nor a roi_head')
    strides = ([s[0] for s in head.prior_generator.strides]
               if hasattr(head, 'prior_generator') else None)
    return head, dense_final_detections, strides


def _refined(head, feats, detections, refine):
    """IoU-Net's refinement (gradient ascent of the loc output through PrRoIPool's box
    gradient, ``roi_heads/box_refinement.py``) of every final box, each pinned to the FPN
    level it started on. Boxes, not scores, change here; ``predict`` then scores the
    refined boxes."""
    from ..roi_heads.box_refinement import refine_boxes
    extractor = head.roi_extractor
    maps = extractor.maps_for_repeated_pooling(feats)
    img = torch.cat([d.bboxes.new_full((len(d),), i) for i, d in enumerate(detections)])
    boxes = torch.cat([d.bboxes for d in detections]).float()
    labels = torch.cat([d.labels for d in detections])
    if len(boxes) == 0:
        return detections
    levels = extractor.map_roi_levels(torch.cat([img[:, None], boxes], 1), extractor.num_inputs)

    def score(b, idx):
        rois = torch.cat([img[idx, None], b], 1)
        return head.loc_logits(maps, rois, labels[idx], levels[idx]).sigmoid()

    refined, _, _ = refine_boxes(boxes, score, **refine)
    out = []
    for d, part in zip(detections, refined.split([len(d) for d in detections])):
        d = d.clone()
        d.bboxes = part.to(d.bboxes.dtype)
        out.append(d)
    return out
