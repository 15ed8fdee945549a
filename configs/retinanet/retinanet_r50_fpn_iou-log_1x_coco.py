# RetinaNet R50-FPN 1x on COCO with UnitBox's IoU loss (-ln IoU, mmdet's IoULoss mode='log').
_base_ = './retinanet_r50_fpn_1x_coco.py'
model = dict(bbox_head=dict(
    reg_decoded_bbox=True,
    loss_bbox=dict(_delete_=True, type='IoULoss', mode='log', loss_weight=2.0)))
