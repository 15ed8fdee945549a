# Tiny ATSS whose quality branch predicts the IoU of the regressed box instead of the
# centerness (GFL Table 1a's "IoU" row; the IoU-aware paper's recipe: BCE on positives, the
# gradient passing through the IoU target). Everything else is ./atss_tiny-r18_fpn.py.
_base_ = './atss_tiny-r18_fpn.py'
model = dict(bbox_head=dict(type='IoUAwareATSSHead', detach_iou_target=False))
