# IoU-aware RetinaNet R50-FPN 1x on COCO with mmdet's CIoU regression loss.
_base_ = './iou-aware-retinanet_r50_fpn_1x_coco.py'
model = dict(bbox_head=dict(
    reg_decoded_bbox=True,
    loss_bbox=dict(_delete_=True, type='CIoULoss', loss_weight=2.0)))
