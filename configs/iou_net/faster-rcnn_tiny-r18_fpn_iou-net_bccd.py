# Tiny IoU-Net on BCCD (real images), the project's default: the same method settings as on
# shapes (the paper's training: ./faster-rcnn_tiny-r18_fpn_iou-net_gt-jitter_bccd.py).
_base_ = [
    '../_base_/models/faster-rcnn_tiny-r18_fpn_iou-net.py',
    '../_base_/datasets/bccd_detection.py',
    '../_base_/schedules/bccd_schedule.py',
    '../_base_/tiny_runtime.py',
]
model = dict(roi_head=dict(bbox_head=dict(num_classes=3), iou_head=dict(num_classes=3)))
