# GFL (generalized focal loss: quality focal loss + distribution focal loss) with the tiny
# RetinaNet's backbone, neck, input size and schedule. mmdet ships no model-only base for
# GFL, so the head restates mmdet's gfl_r50_fpn_1x_coco.py values (losses, reg_max, ATSS
# assigner, test settings; tests/test_models/test_peers.py checks they match), at
# the tiny model's width (64 channels, 2 stacked convs, GN with 16 groups) and with anchors
# halved as the tiny RetinaNet halves its own (octave_base_scale 8 -> 4) for 12 px objects.
# The leaf configs (shapes, BCCD) add the data, schedule and num_classes.
_base_ = './retinanet_tiny-r18_fpn.py'
model = dict(
    type='GFL',
    bbox_head=dict(
        _delete_=True,
        type='GFLHeadWithQuality',  # mmdet's GFLHead, its score also reported as pred_ious
        in_channels=64,
        stacked_convs=2,
        feat_channels=64,
        norm_cfg=dict(type='GN', num_groups=16, requires_grad=True),
        anchor_generator=dict(type='AnchorGenerator', ratios=[1.0], octave_base_scale=4,
                              scales_per_octave=1, strides=[8, 16, 32, 64, 128]),
        loss_cls=dict(type='QualityFocalLoss', use_sigmoid=True, beta=2.0, loss_weight=1.0),
        loss_dfl=dict(type='DistributionFocalLoss', loss_weight=0.25),
        reg_max=16,
        loss_bbox=dict(type='GIoULoss', loss_weight=2.0)),
    train_cfg=dict(_delete_=True, assigner=dict(type='ATSSAssigner', topk=9),
                   allowed_border=-1, pos_weight=-1, debug=False),
    test_cfg=dict(_delete_=True, nms_pre=1000, min_bbox_size=0, score_thr=0.05,
                  nms=dict(type='nms', iou_threshold=0.6), max_per_img=100))
