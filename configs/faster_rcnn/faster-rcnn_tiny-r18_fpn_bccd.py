# Tiny Faster R-CNN on BCCD (real images): the shapes benchmark's model, from scratch.
_base_ = [
    '../_base_/models/faster-rcnn_tiny-r18_fpn.py',
    '../_base_/datasets/bccd_detection.py',
    '../_base_/schedules/bccd_schedule.py',
    '../_base_/tiny_runtime.py',
]
model = dict(roi_head=dict(bbox_head=dict(num_classes=3)))
