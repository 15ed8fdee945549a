# IoU-aware ATSS R50-FPN 1x on COCO (for GPU users), this project's default recipe: mmdet's ATSS
# with DecoupledIoUATSSHead, as ../_base_/models/iou-aware-atss_decoupled_tiny-r18_fpn.py, which
# says what it adds and why. Not trained on COCO here (no COCO and no GPU in this project's CI).
_base_ = 'mmdet::atss/atss_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['iou_aware'], allow_failed_imports=False)
model = dict(
    bbox_head=dict(
        type='DecoupledIoUATSSHead',
        loss_iou=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)),
    # score = cls x predicted IoU on ATSS's test settings, as the tiny config (which says why)
    test_cfg=dict(_delete_=True, nms_pre=1000, min_bbox_size=0, score_thr=0.0025,
                  nms=dict(type='nms', iou_threshold=0.6), max_per_img=100,
                  score_type='cls_x_iou', cls_score_thr=0.05))
optim_wrapper = dict(type='SeparateClipOptimWrapper')
