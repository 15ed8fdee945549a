# IoU-aware RetinaNet R50-FPN 1x on COCO (for GPU users), the project's default: the paper's
# detector (./iou-aware-retinanet_r50_fpn_paper_1x_coco.py) with the IoU branch trained over
# every detection, decoupled and clipped apart, as in
# ../_base_/models/iou-aware-retinanet_tiny-r18_fpn.py, which says why. Chosen on the shapes
# benchmark; not trained on COCO here (no COCO and no GPU in this project's CI).
_base_ = './iou-aware-retinanet_r50_fpn_paper_1x_coco.py'
model = dict(
    bbox_head=dict(
        decoupled_iou=True,
        iou_convs=2,
        class_aware_iou=True,
        extra_iou_targets=dict(gamma=1.0),
        isolate_branch_rng=True),
    # score = cls x predicted IoU, as the tiny default (which says why)
    test_cfg=dict(_delete_=True, nms_pre=1000, min_bbox_size=0, score_thr=0.0025,
                  nms=dict(type='nms', iou_threshold=0.5), max_per_img=100,
                  score_type='cls_x_iou', cls_score_thr=0.05))
optim_wrapper = dict(type='SeparateClipOptimWrapper')
