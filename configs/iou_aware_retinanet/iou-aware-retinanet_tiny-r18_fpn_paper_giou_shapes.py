# IoU-aware RetinaNet (paper settings, as benchmarks/history/first-loop_ablations.md's loss rows were measured) with
# mmdet's GIoU regression loss (decoded boxes).
_base_ = './iou-aware-retinanet_tiny-r18_fpn_paper_shapes.py'
model = dict(bbox_head=dict(reg_decoded_bbox=True,
                            loss_bbox=dict(_delete_=True, type='GIoULoss', loss_weight=2.0)))
