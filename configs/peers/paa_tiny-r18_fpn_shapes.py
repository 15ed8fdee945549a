# PAA on the shapes benchmark: the tiny peer model (../_base_/models/paa_tiny-r18_fpn.py)
# with the benchmark's data, schedule and runtime, as the RetinaNet and GFL rows.
_base_ = [
    '../_base_/models/paa_tiny-r18_fpn.py',
    '../_base_/datasets/shapes_detection.py',
    '../_base_/schedules/shapes_schedule.py',
    '../_base_/tiny_runtime.py',
]
model = dict(bbox_head=dict(num_classes=6))
