# Tiny IoU-Net with mmdet's DIoU loss on decoded boxes in the box head.
_base_ = './faster-rcnn_tiny-r18_fpn_iou-net_paper_shapes.py'  # as its results were made
model = dict(roi_head=dict(bbox_head=dict(
    reg_decoded_bbox=True, loss_bbox=dict(_delete_=True, type='DIoULoss', loss_weight=10.0))))
