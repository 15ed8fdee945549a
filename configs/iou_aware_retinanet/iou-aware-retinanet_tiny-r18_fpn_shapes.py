# IoU-aware RetinaNet on the shapes benchmark, the project's default (the model base says
# what differs from the paper). The paper's settings:
# ./iou-aware-retinanet_tiny-r18_fpn_paper_shapes.py.
_base_ = [
    '../_base_/models/iou-aware-retinanet_tiny-r18_fpn.py',
    '../_base_/datasets/shapes_detection.py',
    '../_base_/schedules/shapes_schedule.py',
    '../_base_/tiny_runtime.py',
]
model = dict(bbox_head=dict(num_classes=6))
# The IoU branch's gradients are clipped apart from the detector's (see the model base).
optim_wrapper = dict(type='SeparateClipOptimWrapper')
