# IoU-aware RetinaNet (Wu, Li, Wang 2019) on the shapes benchmark with the paper's settings
# (positives-only IoU branch; the benchmark's iou-aware_paper row).
_base_ = [
    '../_base_/models/iou-aware-retinanet_paper_tiny-r18_fpn.py',
    '../_base_/datasets/shapes_detection.py',
    '../_base_/schedules/shapes_schedule.py',
    '../_base_/tiny_runtime.py',
]
model = dict(bbox_head=dict(num_classes=6))
