"""A detector's final detections (dense or two-stage) with what its NMS merged into each."""
import torch
from mmdet.structures.bbox import get_box_tensor

from .evidence import cluster_evidence


def dense_final_detections(detector, feats, batch_data_samples):
    """The detector's own detections (its head's candidates and its head's NMS, unchanged),
    in the network input's coordinates, each with its cluster evidence.

    The head's ``predict_by_feat`` runs once without NMS; its ``_bbox_post_process`` then
    applies the configured NMS (plain or IoU-guided) and ``max_per_img`` to those candidates,
    which carry their index so the kept ones are known. Differs from ``detector.predict`` in
    one way only: NMS runs on the boxes before rescaling to the original image (mmdet's
    predict rescales first), which can flip a decision that sits exactly on the threshold
    when the two resize factors differ.

    Returns a list of mmengine ``InstanceData`` (one per image): ``bboxes``, ``labels``,
    ``scores`` and whatever the head adds (``cls_scores``, ``pred_ious``), plus ``evidence``
    (Tensor[K, len(EVIDENCE_FEATURES)]).
    """
    head = detector.bbox_head
    metas = [s.metainfo for s in batch_data_samples]
    cfg = head.test_cfg
    outs = head(feats)
    candidates = head.predict_by_feat(*outs, batch_img_metas=metas, cfg=cfg, rescale=False,
                                      with_nms=False)
    nms_cfg = cfg.get('nms') or {}
    if 'iou_threshold' not in nms_cfg:
        raise ValueError(f'dense_final_detections: the head\'s test_cfg.nms needs an '
                         f'iou_threshold, got {nms_cfg!r}')
    results = []
    for cand, meta in zip(candidates, metas):
        cand.bboxes = get_box_tensor(cand.bboxes)
        cand.cand_index = torch.arange(len(cand), device=cand.bboxes.device)
        kept = head._bbox_post_process(cand.clone(), cfg, rescale=False, with_nms=True,
                                       img_meta=meta)
        kept.evidence = cluster_evidence(
            kept.cand_index, cand.bboxes, cand.scores, cand.labels, nms_cfg['iou_threshold'],
            meta['img_shape'], cand.pred_ious if 'pred_ious' in cand else None)
        del kept.cand_index
        results.append(kept)
    return results


def two_stage_final_detections(detector, feats, batch_data_samples):
    """As :func:`dense_final_detections`, for a two-stage detector with mmdet's
    ``StandardRoIHead``: its RPN proposals, its box head's class-wise boxes and scores, and
    mmdet's own ``multiclass_nms`` (``return_inds`` tells which (RoI, class) candidate each
    kept box is), so boxes, labels and order are the detector's; NMS runs before rescaling,
    as in the dense case."""
    from mmdet.models.layers import multiclass_nms
    from mmengine.structures import InstanceData
    roi_head = detector.roi_head
    cfg = roi_head.test_cfg
    metas = [s.metainfo for s in batch_data_samples]
    proposals = detector.rpn_head.predict(feats, batch_data_samples, rescale=False)
    # without a test config mmdet's predict_bbox returns each RoI's raw class-wise boxes
    raw = roi_head.predict_bbox(feats, metas, proposals, None, rescale=False)
    results = []
    for r, meta in zip(raw, metas):
        num_classes = r.scores.shape[1] - 1
        per_roi = max(r.bboxes.shape[1] // 4, 1)  # C class-wise boxes, or 1 class-agnostic
        boxes = r.bboxes.reshape(len(r.bboxes), per_roi, 4).expand(-1, num_classes, 4)
        boxes = boxes.reshape(-1, 4)
        flat = r.scores[:, :-1].reshape(-1)
        dets, labels, inds = multiclass_nms(r.bboxes, r.scores, cfg.score_thr, cfg.nms,
                                            cfg.max_per_img, return_inds=True)
        # the candidates multiclass_nms thresholds into NMS, in its (RoI, class) order
        valid = (flat > cfg.score_thr).nonzero().squeeze(1)
        kept = InstanceData(bboxes=dets[:, :4], scores=dets[:, 4], labels=labels)
        kept.evidence = cluster_evidence(
            torch.searchsorted(valid, inds), boxes[valid], flat[valid], valid % num_classes,
            cfg.nms['iou_threshold'], meta['img_shape'])
        results.append(kept)
    return results
