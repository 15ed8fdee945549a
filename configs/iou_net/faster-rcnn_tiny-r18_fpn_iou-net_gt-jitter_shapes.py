# IoU-Net with the paper's training (IoU head on jittered ground truths only; scored cls x IoU) on the tiny
# Faster R-CNN of the shapes benchmark; the method's settings are in the model base.
_base_ = [
    '../_base_/models/faster-rcnn_tiny-r18_fpn_iou-net_gt-jitter.py',
    '../_base_/datasets/shapes_detection.py',
    '../_base_/schedules/shapes_schedule.py',
    '../_base_/tiny_runtime.py',
]
model = dict(roi_head=dict(bbox_head=dict(num_classes=6), iou_head=dict(num_classes=6)))
