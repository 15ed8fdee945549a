# Tiny Faster R-CNN: mmdet's Faster R-CNN with a ResNet-18 at 1/4 width trained from scratch
# and a 64-channel FPN; the leaf configs set num_classes.
_base_ = 'mmdet::_base_/models/faster-rcnn_r50_fpn.py'
model = dict(
    backbone=dict(
        depth=18,
        base_channels=16,
        frozen_stages=-1,
        norm_eval=False,  # trained from scratch: BN statistics must be learned
        init_cfg=None),
    neck=dict(in_channels=[16, 32, 64, 128], out_channels=64),
    rpn_head=dict(
        in_channels=64,
        feat_channels=64,
        # Objects from 12 px: 16 px anchors on stride 4 (mmdet's COCO base is 32).
        anchor_generator=dict(scales=[4])),
    roi_head=dict(
        # A fixed 2x2 samples per bin: mmcv's adaptive sampling (0) costs 2-3x more on CPU.
        bbox_roi_extractor=dict(out_channels=64, roi_layer=dict(sampling_ratio=2)),
        bbox_head=dict(in_channels=64, fc_out_channels=256)),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=1000, max_per_img=500),
        rcnn=dict(sampler=dict(num=128))),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=300)))
