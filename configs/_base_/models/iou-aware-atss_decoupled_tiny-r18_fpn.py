# Tiny ATSS with this project's default IoU recipe (DecoupledIoUATSSHead,
# iou_aware/models/dense_heads/decoupled_iou_atss_head.py): ATSS's detector and centerness
# unchanged, plus the IoU-aware RetinaNet default's branch (two convs on the detached
# regression tower, one IoU per (anchor, class), trained on every (anchor, class) weighted by
# its score); the score is cls x predicted IoU instead of cls x centerness. With
# SeparateClipOptimWrapper (in the leaf configs) the detector trains bit for bit as ATSS.
_base_ = './atss_tiny-r18_fpn.py'
model = dict(
    bbox_head=dict(
        type='DecoupledIoUATSSHead',
        loss_iou=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)),
    # ATSS's test settings (top 1000, NMS at 0.6, 100 per image) on the fused score. ATSS
    # thresholds cls at 0.05 before multiplying its centerness in; cls_score_thr keeps that,
    # and score_thr 0.0025 (0.05 squared, as the RetinaNet default) then bounds cls x IoU.
    test_cfg=dict(_delete_=True, nms_pre=1000, min_bbox_size=0, score_thr=0.0025,
                  nms=dict(type='nms', iou_threshold=0.6), max_per_img=100,
                  score_type='cls_x_iou', cls_score_thr=0.05))
