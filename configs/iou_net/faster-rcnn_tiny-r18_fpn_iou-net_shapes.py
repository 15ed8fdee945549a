# IoU-Net (Jiang et al. 2018) on the tiny Faster R-CNN of the shapes benchmark, the project's
# default (the model base says what differs from the paper's, ./faster-rcnn_tiny-r18_fpn_iou-net_gt-jitter_shapes.py).
_base_ = [
    '../_base_/models/faster-rcnn_tiny-r18_fpn_iou-net.py',
    '../_base_/datasets/shapes_detection.py',
    '../_base_/schedules/shapes_schedule.py',
    '../_base_/tiny_runtime.py',
]
model = dict(roi_head=dict(bbox_head=dict(num_classes=6), iou_head=dict(num_classes=6)))
