# IoU-aware RetinaNet R50-FPN 1x on COCO (for GPU users), the project's default: mmdet's
# RetinaNet with DecoupledIoURetinaHead, as ../_base_/models/iou-aware-retinanet_tiny-r18_fpn.py,
# which says why. Chosen on the shapes benchmark and confirmed on BCCD; not trained on COCO
# here (no COCO and no GPU in this project's CI).
_base_ = '../retinanet/retinanet_r50_fpn_1x_coco.py'
model = dict(
    bbox_head=dict(
        type='DecoupledIoURetinaHead',
        loss_iou=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)),
    # score = cls x predicted IoU, as the tiny default (which says why)
    test_cfg=dict(_delete_=True, nms_pre=1000, min_bbox_size=0, score_thr=0.0025,
                  nms=dict(type='nms', iou_threshold=0.5), max_per_img=100,
                  score_type='cls_x_iou', cls_score_thr=0.05))
optim_wrapper = dict(type='SeparateClipOptimWrapper')
