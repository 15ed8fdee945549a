# Tiny IoU-aware RetinaNet on BCCD (real images) with the paper's settings, as the BCCD
# tables' IoU-aware rows were trained (before issue 13 chose the project's default).
_base_ = [
    '../_base_/models/iou-aware-retinanet_paper_tiny-r18_fpn.py',
    '../_base_/datasets/bccd_detection.py',
    '../_base_/schedules/bccd_schedule.py',
    '../_base_/tiny_runtime.py',
]
model = dict(bbox_head=dict(num_classes=3))
