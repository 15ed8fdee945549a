# GFL with GFLv2's DGQP on the shapes benchmark: the tiny model
# (../_base_/models/gfl-dgqp_tiny-r18_fpn.py) with the data, schedule and runtime of
# gfl_tiny-r18_fpn_shapes.py, so the two differ only in the quality predictor.
_base_ = [
    '../_base_/models/gfl-dgqp_tiny-r18_fpn.py',
    '../_base_/datasets/shapes_detection.py',
    '../_base_/schedules/shapes_schedule.py',
    '../_base_/tiny_runtime.py',
]
model = dict(bbox_head=dict(num_classes=6))
