# IoU-aware ATSS, this project's default recipe, on the shapes benchmark: ATSS plus the decoupled
# IoU branch (../_base_/models/iou-aware-atss_decoupled_tiny-r18_fpn.py); data, schedule and
# runtime as the ATSS row.
_base_ = [
    '../_base_/models/iou-aware-atss_decoupled_tiny-r18_fpn.py',
    '../_base_/datasets/shapes_detection.py',
    '../_base_/schedules/shapes_schedule.py',
    '../_base_/tiny_runtime.py',
]
model = dict(bbox_head=dict(num_classes=6))
# The IoU branch's gradients are clipped apart from the detector's (see the model base).
optim_wrapper = dict(type='SeparateClipOptimWrapper')
