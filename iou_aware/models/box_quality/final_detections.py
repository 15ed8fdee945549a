"""A dense detector's final detections together with what its NMS merged into each."""
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
