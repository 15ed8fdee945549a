# IoU-Net on mmdet's Faster R-CNN R50-FPN 1x (COCO, for GPU users) with the paper's training:
# IoU head on 7x7 PrRoIPool features with two 1024-wide FC layers trained on jittered ground
# truths, IoU-guided NMS and gradient-ascent refinement.
_base_ = '../faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
model = dict(
    roi_head=dict(
        type='IoUNetRoIHead',
        iou_roi_extractor=dict(
            type='PrRoIExtractor',
            roi_layer=dict(type='PrRoIPool2d', output_size=7),
            out_channels=256,
            featmap_strides=[4, 8, 16, 32]),
        iou_head=dict(type='IoUHead', num_classes=80, in_channels=256, roi_feat_size=7,
                      fc_out_channels=1024)),
    train_cfg=dict(
        rcnn=dict(iou_sampler=dict(num_per_img=128, min_iou=0.5, num_bins=5))),
    # the method's test-time settings are the tiny model's (which says why);
    # tests/test_models/test_configs.py ties the two
    test_cfg=dict(
        rcnn=dict(
            score_thr=0.05,
            nms=dict(type='iou_guided_nms', iou_threshold=0.5),
            max_per_img=100,
            score_type='cls_x_iou',
            pre_iou_topk=1000,
            refine=dict(steps=5, step_size=0.5, omega1=0.001, omega2=-0.01, max_per_img=10))))
