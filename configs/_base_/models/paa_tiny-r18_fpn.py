# PAA (probabilistic anchor assignment with a GMM over anchor scores, an IoU branch, score
# voting) with the tiny RetinaNet's backbone, neck and input size. The head restates
# mmdet's paa_r50_fpn_1x_coco.py values (tests/test_models/test_peers.py checks they match)
# at the tiny model's width, with anchors halved (octave_base_scale 8 -> 4) as for the tiny
# RetinaNet. Its GMM fitting needs scikit-learn.
_base_ = './retinanet_tiny-r18_fpn.py'
model = dict(
    type='PAA',
    bbox_head=dict(
        _delete_=True,
        type='PAAHeadWithQuality',  # mmdet's PAAHead, its IoU branch reported as pred_ious
        reg_decoded_bbox=True,
        score_voting=True,
        topk=9,
        in_channels=64,
        stacked_convs=2,
        feat_channels=64,
        norm_cfg=dict(type='GN', num_groups=16, requires_grad=True),
        anchor_generator=dict(type='AnchorGenerator', ratios=[1.0], octave_base_scale=4,
                              scales_per_octave=1, strides=[8, 16, 32, 64, 128]),
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[.0, .0, .0, .0],
                        target_stds=[0.1, 0.1, 0.2, 0.2]),
        loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25,
                      loss_weight=1.0),
        loss_bbox=dict(type='GIoULoss', loss_weight=1.3),
        loss_centerness=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=0.5)),
    train_cfg=dict(_delete_=True,
                   assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.1, neg_iou_thr=0.1,
                                 min_pos_iou=0, ignore_iof_thr=-1),
                   allowed_border=-1, pos_weight=-1, debug=False),
    test_cfg=dict(_delete_=True, nms_pre=1000, min_bbox_size=0, score_thr=0.05,
                  nms=dict(type='nms', iou_threshold=0.6), max_per_img=100))
# The leaf configs (shapes, BCCD) add the data, schedule and num_classes.
