# IoU-Net with the paper's training (Jiang et al. 2018) on the tiny Faster R-CNN: an IoU head
# on PrRoIPool features trained on jittered ground truths only, IoU-guided NMS and box
# refinement; not the paper's scoring (it scores by cls; this scores cls x predicted IoU, below),
# hence the name gt-jitter, not paper. The method's settings live here once, for every dataset; the leaf configs set
# num_classes (box head and IoU head). The project's default (./faster-rcnn_tiny-r18_fpn_iou-net.py)
# also trains the IoU head on the box head's own boxes.
# The ablation switches are test_cfg.rcnn options (see IoUNetRoIHead), e.g.
#   --cfg-options model.test_cfg.rcnn.refine=None model.test_cfg.rcnn.nms.type=nms
_base_ = './faster-rcnn_tiny-r18_fpn.py'
model = dict(
    roi_head=dict(
        type='IoUNetRoIHead',
        iou_roi_extractor=dict(
            type='PrRoIExtractor',
            roi_layer=dict(type='PrRoIPool2d', output_size=7),
            out_channels=64,
            featmap_strides=[4, 8, 16, 32]),
        iou_head=dict(type='IoUHead', in_channels=64, roi_feat_size=7, fc_out_channels=256)),
    train_cfg=dict(
        rcnn=dict(iou_sampler=dict(num_per_img=64, min_iou=0.5, num_bins=5))),
    test_cfg=dict(
        rcnn=dict(
            score_thr=0.05,
            nms=dict(type='iou_guided_nms', iou_threshold=0.5),
            max_per_img=100,
            # The paper scores by the classification score; cls x predicted IoU measured
            # +0.5 AP / +1.0 AP90 better on shapes (benchmarks/history/first-loop_ablations.md).
            score_type='cls_x_iou',
            pre_iou_topk=1000,
            # Paper: T = 5, lambda = 0.5, Omega1 = 0.001, Omega2 = -0.01. Refining only each
            # image's 10 best detections gave the same AP as refining all 100 on shapes
            # (2-8 objects per image) at 1.23x the baseline's CPU latency
            # (docs/performance.md).
            refine=dict(steps=5, step_size=0.5, omega1=0.001, omega2=-0.01, max_per_img=10))))
