# Tiny IoU-aware RetinaNet on BCCD (real images), the project's default settings (the model
# base says what differs from the paper). Chosen on the shapes benchmark; the BCCD tables show
# it as "IoU-aware RetinaNet" beside the paper's settings (./iou-aware-retinanet_tiny-r18_fpn_paper_bccd.py).
_base_ = [
    '../_base_/models/iou-aware-retinanet_tiny-r18_fpn.py',
    '../_base_/datasets/bccd_detection.py',
    '../_base_/schedules/bccd_schedule.py',
    '../_base_/tiny_runtime.py',
]
model = dict(bbox_head=dict(num_classes=3))
# The IoU branch's gradients are clipped apart from the detector's (see the model base).
optim_wrapper = dict(type='SeparateClipOptimWrapper')
