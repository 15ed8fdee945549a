# GFL on BCCD (real images): the tiny peer model (../_base_/models/gfl_tiny-r18_fpn.py) with
# the BCCD benchmark's data, schedule and runtime, as configs/retinanet/retinanet_tiny-r18_fpn_bccd.py.
_base_ = [
    '../_base_/models/gfl_tiny-r18_fpn.py',
    '../_base_/datasets/bccd_detection.py',
    '../_base_/schedules/bccd_schedule.py',
    '../_base_/tiny_runtime.py',
]
model = dict(bbox_head=dict(num_classes=3))
