# IoU-aware ATSS on the shapes benchmark: ATSS whose quality branch predicts the IoU of the regressed box
# (../_base_/models/iou-aware-atss_tiny-r18_fpn.py); data, schedule and runtime as the ATSS row.
_base_ = [
    '../_base_/models/iou-aware-atss_tiny-r18_fpn.py',
    '../_base_/datasets/shapes_detection.py',
    '../_base_/schedules/shapes_schedule.py',
    '../_base_/tiny_runtime.py',
]
model = dict(bbox_head=dict(num_classes=6))
