# Tiny RetinaNet for the shapes benchmark: ResNet-18 at 1/4 width from scratch, FPN 64 ch.
_base_ = [
    '../_base_/models/retinanet_tiny-r18_fpn.py',
    '../_base_/datasets/shapes_detection.py',
    '../_base_/schedules/shapes_schedule.py',
    '../_base_/tiny_runtime.py',
]
model = dict(bbox_head=dict(num_classes=6))
