# IoU-aware RetinaNet (Wu, Li, Wang 2019) on the shapes benchmark: the tiny RetinaNet plus
# a per-anchor IoU branch trained with BCE; detection score = cls^alpha * IoU^(1 - alpha).
_base_ = '../retinanet/retinanet_tiny-r18_fpn_shapes.py'
model = dict(
    bbox_head=dict(
        type='IoUAwareRetinaHead',
        loss_iou=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
        detach_iou_target=False),  # the paper lets the IoU loss's gradient reach the boxes
    test_cfg=dict(alpha=0.5))
