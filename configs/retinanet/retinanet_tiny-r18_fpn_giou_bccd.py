# Tiny RetinaNet on BCCD with mmdet's GIoULoss on decoded boxes (weight 2, as on shapes).
_base_ = './retinanet_tiny-r18_fpn_bccd.py'
model = dict(bbox_head=dict(
    reg_decoded_bbox=True,
    loss_bbox=dict(_delete_=True, type='GIoULoss', loss_weight=2.0)))
