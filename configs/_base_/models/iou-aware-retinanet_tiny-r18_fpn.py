# IoU-aware RetinaNet, this project's default (chosen on the shapes benchmark, confirmed on
# BCCD; docs/localization.md, docs/calibration.md): the paper's detector and score fusion with
# DecoupledIoURetinaHead's branch (iou_aware/models/dense_heads/decoupled_iou_retina_head.py
# says what it changes and why): one IoU per (anchor, class), trained on every (anchor, class)
# weighted by its score, decoupled from the detector and initialized on its own RNG stream.
# With SeparateClipOptimWrapper (in the leaf configs: a model base cannot hold the schedule's
# optim_wrapper) the detector trains bit for bit as RetinaNet does for a seed.
# The paper's settings: ./iou-aware-retinanet_paper_tiny-r18_fpn.py.
_base_ = './retinanet_tiny-r18_fpn.py'
model = dict(
    bbox_head=dict(
        type='DecoupledIoURetinaHead',
        loss_iou=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)),
    # Score: cls x predicted IoU, the detection's expected IoU (iou_aware.models.scoring). It
    # ranks exactly as the paper's sqrt(cls x IoU) (same NMS, same AP); score_thr 0.0025
    # keeps the same detections as the paper's 0.05 on the square root. cls_score_thr as in
    # the paper base.
    test_cfg=dict(_delete_=True, nms_pre=1000, min_bbox_size=0, score_thr=0.0025,
                  nms=dict(type='nms', iou_threshold=0.5), max_per_img=100,
                  score_type='cls_x_iou', cls_score_thr=0.05))
