# VarifocalNet (IoU-aware classification score, varifocal loss, star-shaped box refinement)
# with the tiny RetinaNet's backbone, neck and input size. The head restates mmdet's
# vfnet_r50_fpn_1x_coco.py values (tests/test_models/test_peers.py checks they match)
# at the tiny model's width, with ATSS anchors halved (octave_base_scale 8 -> 4) as for
# the tiny RetinaNet. VFNetHeadWithQuality runs its deformable convolutions on torchvision's op
# (same values as mmcv's DeformConv2d, tested; faster on CPU).
_base_ = './retinanet_tiny-r18_fpn.py'
model = dict(
    type='VFNet',
    bbox_head=dict(
        _delete_=True,
        type='VFNetHeadWithQuality',  # mmdet's VFNetHead, its score also reported as pred_ious
        in_channels=64,
        stacked_convs=2,
        feat_channels=64,
        norm_cfg=dict(type='GN', num_groups=16, requires_grad=True),
        strides=[8, 16, 32, 64, 128],
        center_sampling=False,
        dcn_on_last_conv=False,
        use_atss=True,
        use_vfl=True,
        anchor_generator=dict(type='AnchorGenerator', ratios=[1.0], octave_base_scale=4,
                              scales_per_octave=1, center_offset=0.0,
                              strides=[8, 16, 32, 64, 128]),
        loss_cls=dict(type='VarifocalLoss', use_sigmoid=True, alpha=0.75, gamma=2.0,
                      iou_weighted=True, loss_weight=1.0),
        loss_bbox=dict(type='GIoULoss', loss_weight=1.5),
        loss_bbox_refine=dict(type='GIoULoss', loss_weight=2.0)),
    train_cfg=dict(_delete_=True, assigner=dict(type='ATSSAssigner', topk=9),
                   allowed_border=-1, pos_weight=-1, debug=False),
    test_cfg=dict(_delete_=True, nms_pre=1000, min_bbox_size=0, score_thr=0.05,
                  nms=dict(type='nms', iou_threshold=0.6), max_per_img=100))
# The leaf configs (shapes, BCCD) add the data, schedule and num_classes.
