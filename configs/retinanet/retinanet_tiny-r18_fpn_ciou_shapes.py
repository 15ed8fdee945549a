# Tiny RetinaNet with mmdet's CIoU loss on decoded boxes instead of L1 on deltas.
_base_ = './retinanet_tiny-r18_fpn_shapes.py'
model = dict(bbox_head=dict(
    reg_decoded_bbox=True,
    loss_bbox=dict(_delete_=True, type='CIoULoss', loss_weight=2.0)))
