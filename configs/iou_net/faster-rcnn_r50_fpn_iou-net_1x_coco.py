# IoU-Net on mmdet's Faster R-CNN R50-FPN 1x (COCO, for GPU users), the project's default: the
# paper's method (./faster-rcnn_r50_fpn_iou-net_gt-jitter_1x_coco.py) with the IoU head also
# trained on the box head's own boxes, as the tiny default (which says why; the per-image
# count scales with the paper's 128 jittered boxes here as 64 does with the tiny model's 64).
_base_ = './faster-rcnn_r50_fpn_iou-net_gt-jitter_1x_coco.py'
model = dict(train_cfg=dict(rcnn=dict(iou_sampler=dict(own_boxes=dict(num_per_img=128)))))
