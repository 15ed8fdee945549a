"""A dense detector as one traceable module: image batch in, padded detections out, with the
same post-processing as its mmdet ``predict`` (so ONNX Runtime gives the same detections).

Input: ``images`` float32 ``[B, 3, H, W]``, the resized BGR images as mmdet's test pipeline
hands them to the data preprocessor (values 0-255, not padded); the preprocessor's work
(BGR -> RGB where the config says so, normalisation, zero padding to its size divisor)
happens in the graph. ``H, W`` are fixed at export.

Outputs (padding convention: ``K = max_per_img`` rows per image, the first ``num_dets[b]``
valid, in descending score order; padded rows have label -1 and zeros elsewhere):
``boxes [B, K, 4]`` (xyxy in the input's pixels: divide by the resize factor for the
original image), ``scores [B, K]`` (the shipped score, calibrated when the model is),
``labels [B, K]`` int64, ``pred_ious [B, K]`` (the predicted IoU; the score for a head
without one), ``cls_scores [B, K]``, ``num_dets [B]`` int64.

What is restated from mmdet, and why: ``BaseDenseHead._predict_by_feat_single`` and
``_bbox_post_process`` (per level: threshold and top-k of the (anchor, class) scores; decode;
drop empty boxes; class-wise NMS; ``max_per_img``) and, for our IoU heads, the fused-score
variant of :class:`iou_aware.models.dense_heads.fused_score_predict.FusedScorePredictMixin`,
because mmdet's versions build ``InstanceData`` and use data-dependent Python control flow
that ``torch.export`` cannot trace. The pieces that can be shared are: the priors
(``prior_generator``), box decoding (``bbox_coder.decode``), score fusion
(:func:`iou_aware.models.scoring.fuse_scores`) and torchvision's ``nms`` (exported as ONNX
``NonMaxSuppression``). Calibration (class-wise thresholds and isotonic / linear maps)
is a sum of clamped ramps, so it exports as plain arithmetic.
"""
import numpy as np
import torch
from torch import nn
from torchvision.ops import nms

from iou_aware.models.scoring import fuse_scores


class ExportError(ValueError):
    """A model (or a part of it) that cannot be exported; names the module and the op."""


def _dense_head(detector):
    from mmdet.models.dense_heads import RetinaHead

    from iou_aware.models.dense_heads import IoUAwareRetinaHead
    head = getattr(detector, 'bbox_head', None)
    if getattr(detector, 'roi_head', None) is not None:
        raise ExportError(f'{type(detector).__name__}.roi_head ({type(detector.roi_head).__name__}): '
                          'two-stage export (RoI pooling, IoU-guided NMS) is not supported yet')
    if not isinstance(head, RetinaHead):
        raise ExportError(f'{type(detector).__name__}.bbox_head ({type(head).__name__}): only '
                          'RetinaHead and the IoU-aware RetinaNet heads are exported so far')
    nms = (head.test_cfg or {}).get('nms') or {}
    if nms.get('type', 'nms') != 'nms':
        raise ExportError(f'{type(head).__name__}.test_cfg.nms.type={nms.get("type")!r}: only '
                          "plain NMS ('nms', ONNX NonMaxSuppression) is exported so far")
    return head, isinstance(head, IoUAwareRetinaHead)


def calibration_tensors(fitted, num_classes):
    """Class-wise calibration as arrays for :meth:`ExportableDenseDetector.calibrate`:
    f_c(s) = clip(a_c * s + b_c + sum_k dy_ck * clamp((s - x_ck) / w_ck, 0, 1), 0, 1), which
    is ``np.interp`` over the isotonic knots (constant beyond them), the clipped line of the
    linear calibrator, or s itself; plus the raw and operating thresholds (NaN -> -inf)."""
    cals = fitted.get('calibrators') or [dict(method='identity')] * num_classes
    segments = max([len(c.get('x', [])) - 1 for c in cals] + [1])
    a, b = np.zeros(num_classes), np.zeros(num_classes)
    x0, w, dy = np.zeros((num_classes, segments)), np.ones((num_classes, segments)), \
        np.zeros((num_classes, segments))
    for c, cal in enumerate(cals):
        if cal['method'] == 'identity':
            a[c] = 1.0
        elif cal['method'] == 'linear':
            a[c], b[c] = cal['slope'], cal['intercept']
        elif cal['method'] == 'isotonic':
            x, y = np.asarray(cal['x'], float), np.asarray(cal['y'], float)
            b[c] = y[0]
            for k in range(len(x) - 1):
                x0[c, k] = x[k]
                if x[k + 1] > x[k]:
                    w[c, k], dy[c, k] = x[k + 1] - x[k], y[k + 1] - y[k]
        else:
            raise ExportError(f'calibration: calibrator {cal["method"]!r} cannot be exported')

    def thr(values):
        v = np.asarray(values, float)
        return np.where(np.isnan(v), -np.inf, v)
    return dict(a=a, b=b, x0=x0, w=w, dy=dy, thresholds=thr(fitted['thresholds']),
                operating=thr(fitted['operating_thresholds'] if fitted.get('calibrators')
                              else [float('nan')] * num_classes))


class ExportableDenseDetector(nn.Module):
    """``model`` (a built RetinaNet or IoU-aware RetinaNet, optionally wrapped in
    ``CalibratedDetector``) for resized images of ``input_size`` (H, W)."""

    def __init__(self, model, input_size):
        super().__init__()
        from iou_aware.models.calibrated_detector import CalibratedDetector
        from iou_aware.models.detector_wrapper import DetectorWrapper
        self.calibration = None
        if isinstance(model, CalibratedDetector):
            self.calibration = model.calibration
            model = model.detector
        if isinstance(model, DetectorWrapper):
            raise ExportError(f'{type(model).__name__}: exporting this wrapper (the box-quality '
                              'head: PrRoIPool, prroi_pool op) is not supported yet')
        head, self.has_iou = _dense_head(model)
        from mmdet.models.task_modules.coders import DeltaXYWHBBoxCoder
        if type(head.bbox_coder) is not DeltaXYWHBBoxCoder:
            raise ExportError(f'{type(head).__name__}.bbox_coder ({type(head.bbox_coder).__name__}):'
                              ' only DeltaXYWHBBoxCoder is exported so far')
        self.detector, self.head = model, head
        pre = model.data_preprocessor
        self.register_buffer('mean', pre.mean.detach().clone().reshape(1, 3, 1, 1).float())
        self.register_buffer('std', pre.std.detach().clone().reshape(1, 3, 1, 1).float())
        self.bgr_to_rgb = bool(getattr(pre, '_channel_conversion', False))
        h, w = (int(v) for v in input_size)
        self.input_size = self.image_shape = (h, w)  # boxes are clipped to it, as mmdet's
        divisor = int(getattr(pre, 'pad_size_divisor', 1) or 1)
        self.padding = (0, -w % divisor, 0, -h % divisor)  # right, bottom: mmdet's layout
        cfg = head.test_cfg
        self.nms_pre = int(cfg.get('nms_pre', -1))
        self.score_thr = float(cfg.get('score_thr', 0.0))
        self.cls_thr = float(cfg.get('cls_score_thr', 0.0)) if self.has_iou else 0.0
        self.iou_threshold = float(cfg.nms.get('iou_threshold', 0.5))
        self.max_per_img = int(cfg.get('max_per_img', 100))
        self.min_bbox_size = float(cfg.get('min_bbox_size', -1))
        self.score_type, self.alpha = ((head.score_type, head.alpha) if self.has_iou
                                       else ('cls', 1.0))
        with torch.no_grad():  # the feature map sizes of this input size, and their priors
            feats = model.extract_feat(torch.zeros(1, 3, h + self.padding[3],
                                                   w + self.padding[1]))
            sizes = [f.shape[-2:] for f in feats]
            priors = head.prior_generator.grid_priors(sizes, device='cpu')
        for level, p in enumerate(priors):
            self.register_buffer(f'priors_{level}', p.float())
        self.num_levels = len(priors)
        if self.calibration is not None:
            tensors = calibration_tensors(self.calibration['fitted'], head.num_classes)
            for name, value in tensors.items():
                self.register_buffer(f'cal_{name}', torch.as_tensor(value, dtype=torch.float64))
            self.apply_thresholds = bool(self.calibration['apply_thresholds'])

    def forward(self, images):
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f'images: expected [B, 3, H, W], got {tuple(images.shape)}')
        x = images[:, [2, 1, 0]] if self.bgr_to_rgb else images
        x = torch.nn.functional.pad((x - self.mean) / self.std, self.padding)
        outs = self.head(self.detector.extract_feat(x))
        per_image = [self._single(outs, b) for b in range(images.shape[0])]
        return tuple(torch.stack([p[k] for p in per_image]) for k in range(6))

    def _single(self, outs, b):
        head = self.head
        boxes, scores, labels, ious, clss = [], [], [], [], []
        for level in range(self.num_levels):
            priors = getattr(self, f'priors_{level}')
            cls = outs[0][level][b].permute(1, 2, 0).reshape(-1, head.cls_out_channels).sigmoid()
            delta = outs[1][level][b].permute(1, 2, 0).reshape(-1, head.bbox_coder.encode_size)
            if self.has_iou:
                iou = outs[2][level][b].permute(1, 2, 0).reshape(-1, head.iou_channels).sigmoid()
                fused = fuse_scores(cls, iou, self.score_type, self.alpha)
                if self.cls_thr > 0:
                    fused = fused.masked_fill(cls < self.cls_thr, 0)
                iou = iou.expand_as(cls)
            else:
                iou, fused = cls, cls
            flat = fused.reshape(-1)
            k = flat.numel() if self.nms_pre <= 0 else min(self.nms_pre, flat.numel())
            # mmdet's filter_scores_and_topk, at static shapes: the top k of the scores with
            # those at or below score_thr set to -1 (they stay, marked invalid, below every
            # valid one: NMS never lets them suppress a valid box, and they are dropped after)
            top, idx = flat.masked_fill(flat <= self.score_thr, -1.0).topk(k)
            anchor = idx // head.cls_out_channels
            label = idx % head.cls_out_channels
            boxes.append(self._decode(priors[anchor], delta[anchor]))
            scores.append(top)
            labels.append(label)
            ious.append(iou.reshape(-1)[idx])
            clss.append(cls.reshape(-1)[idx])
        boxes, scores, labels = torch.cat(boxes), torch.cat(scores), torch.cat(labels)
        ious, clss = torch.cat(ious), torch.cat(clss)
        if self.min_bbox_size >= 0:  # mmdet's _bbox_post_process drops empty boxes
            wh = boxes[:, 2:] - boxes[:, :2]
            empty = (wh[:, 0] <= self.min_bbox_size) | (wh[:, 1] <= self.min_bbox_size)
            scores = scores.masked_fill(empty, -1.0)
        # class-wise NMS by the coordinate offset mmcv's batched_nms uses (torchvision's
        # batched_nms would switch to a per-class loop over torch.unique for many boxes,
        # which torch.export cannot trace)
        offsets = labels.to(boxes.dtype) * (boxes.max() + 1)
        keep = nms(boxes + offsets[:, None], scores, self.iou_threshold)
        # back to static shapes: the kept scores in a full-size vector, then its top K
        kept = torch.full_like(scores, -2.0).index_put((keep,), scores[keep])
        top, order = kept.topk(min(self.max_per_img, kept.numel()))
        valid = top > self.score_thr
        boxes, scores, labels, ious, clss = (t[order] for t in (boxes, scores, labels, ious, clss))
        if self.calibration is not None:
            scores, passed = self.calibrate(scores, labels)
            valid = valid & passed
        return self._padded(boxes, scores, labels, ious, clss, valid)

    def _decode(self, priors, deltas):
        """The coder's single-image ``delta2bbox``, called directly: under ONNX export
        mmdet 3.3's ``DeltaXYWHBBoxCoder.decode`` switches to a batch path that imports the
        removed ``mmdet.core`` (a 2.x leftover), so the same function it uses outside export
        is called here with the coder's own settings."""
        from mmdet.models.task_modules.coders.delta_xywh_bbox_coder import delta2bbox
        coder = self.head.bbox_coder
        return delta2bbox(priors, deltas, coder.means, coder.stds, self.image_shape, 16 / 1000,
                          coder.clip_border, coder.add_ctr_clamp, coder.ctr_clamp)

    def calibrate(self, raw, labels):
        """(calibrated scores, kept) of one image's detections (calibration_tensors)."""
        # in float64, as CalibratedDetector's np.interp: an isotonic map has segments a
        # few 1e-5 wide, where float32 arithmetic alone would move a score by ~1e-4
        s = raw.clamp(0, 1).to(torch.float64)
        ramps = ((s[:, None] - self.cal_x0[labels]) / self.cal_w[labels]).clamp(0, 1)
        out = (self.cal_a[labels] * s + self.cal_b[labels]
               + (ramps * self.cal_dy[labels]).sum(1)).clamp(0, 1)
        keep = torch.ones_like(raw, dtype=torch.bool)
        if self.apply_thresholds:
            keep = (s >= self.cal_thresholds[labels]) & (out >= self.cal_operating[labels])
        return out.to(raw.dtype), keep

    def _padded(self, boxes, scores, labels, ious, clss, valid):
        """The valid rows first (in score order), the rest zeroed with label -1; K rows."""
        k = self.max_per_img
        n = valid.shape[0]  # a stable partition, valid first, by topk of distinct keys
        position = torch.arange(n, dtype=torch.float32)
        order = (valid.to(torch.float32) * (n + 1) + (n - position)).topk(n).indices
        boxes, scores, labels, ious, clss, valid = (t[order] for t in
                                                    (boxes, scores, labels, ious, clss, valid))
        pad = k - boxes.shape[0]  # static: fewer candidates than K in a tiny model
        if pad > 0:
            boxes = torch.cat([boxes, boxes.new_zeros(pad, 4)])
            scores, ious, clss = (torch.cat([t, t.new_zeros(pad)]) for t in (scores, ious, clss))
            labels = torch.cat([labels, labels.new_zeros(pad)])
            valid = torch.cat([valid, valid.new_zeros(pad)])
        zero = torch.zeros_like(scores)
        labels = torch.where(valid, labels, torch.full_like(labels, -1))
        scores, ious, clss = (torch.where(valid, t, zero) for t in (scores, ious, clss))
        boxes = torch.where(valid[:, None], boxes, torch.zeros_like(boxes))
        return boxes, scores, labels, ious, clss, valid.sum()


def export_onnx(model, input_size, path, batch_size=1):
    """Write ``path`` (ONNX, opset 18) of ``model`` for a ``[batch_size, 3, H, W]`` input,
    with today's exporter (``torch.onnx.export(dynamo=True)``: the ``torch.export`` graph
    through onnxscript)."""
    module = ExportableDenseDetector(model, input_size).eval()
    h, w = module.input_size
    dummy = torch.zeros(batch_size, 3, h, w)
    with torch.no_grad():
        torch.onnx.export(module, (dummy,), path, dynamo=True, input_names=['images'],
                          output_names=list(OUTPUTS), opset_version=18, verbose=False)
    return module


OUTPUTS = ('boxes', 'scores', 'labels', 'pred_ious', 'cls_scores', 'num_dets')
