# IoU-aware ATSS, R50 FPN 1x COCO: mmdet's ATSS config with the quality branch predicting the
# IoU of the regressed box (GFL Table 1a's "IoU" row: 39.6 AP against centerness's 39.2).
_base_ = 'mmdet::atss/atss_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['iou_aware'], allow_failed_imports=False)
model = dict(bbox_head=dict(type='IoUAwareATSSHead', detach_iou_target=False))
