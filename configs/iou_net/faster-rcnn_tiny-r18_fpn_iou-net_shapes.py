# IoU-Net (Jiang et al. 2018) on the tiny Faster R-CNN of the shapes benchmark: an IoU head on
# PrRoIPool features trained on jittered ground truths, IoU-guided NMS and box refinement.
# The ablation switches are test_cfg.rcnn options (see IoUNetRoIHead), e.g.
#   --cfg-options model.test_cfg.rcnn.refine=None model.test_cfg.rcnn.nms.type=nms
_base_ = '../faster_rcnn/faster-rcnn_tiny-r18_fpn_shapes.py'
model = dict(
    roi_head=dict(
        type='IoUNetRoIHead',
        iou_roi_extractor=dict(
            type='PrRoIExtractor',
            roi_layer=dict(type='PrRoIPool2d', output_size=7),
            out_channels=64,
            featmap_strides=[4, 8, 16, 32]),
        iou_head=dict(type='IoUHead', num_classes=6, in_channels=64, roi_feat_size=7,
                      fc_out_channels=256)),
    train_cfg=dict(
        rcnn=dict(iou_sampler=dict(num_per_img=64, min_iou=0.5, num_bins=5))),
    test_cfg=dict(
        rcnn=dict(
            score_thr=0.05,
            nms=dict(type='iou_guided_nms', iou_threshold=0.5),
            max_per_img=100,
            score_type='cls',
            pre_iou_topk=1000,
            # Paper (Sec. 3.3 / 4): T = 5, lambda = 0.5, Omega1 = 0.001, Omega2 = -0.01.
            refine=dict(steps=5, step_size=0.5, omega1=0.001, omega2=-0.01))))
