# COCO IoU-Net with mmdet's DIoU loss on decoded boxes in the box head (mmdet's weight 10).
_base_ = './faster-rcnn_r50_fpn_iou-net_paper_1x_coco.py'  # as the loss rows
model = dict(roi_head=dict(bbox_head=dict(
    reg_decoded_bbox=True, loss_bbox=dict(_delete_=True, type='DIoULoss', loss_weight=10.0))))
